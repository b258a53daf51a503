// multiline-panic: a panic value with newlines in it. Before Go 1.23 the
// runtime prints the extra lines raw, at the start of the line; 1.23 and
// later indent them with a tab.
package main

import "errors"

func validate() error {
	return errors.New("config invalid:\nport missing\nhost missing")
}

func main() {
	if err := validate(); err != nil {
		panic(err)
	}
}
