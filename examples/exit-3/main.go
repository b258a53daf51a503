// exit-3: a service that gives up with os.Exit(3) after logging why.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "config: missing DATABASE_URL, giving up")
	os.Exit(3)
}
