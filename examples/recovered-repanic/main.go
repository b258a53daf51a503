// recovered-repanic: a panic recovered and re-raised with another value: Go
// prints the chain, and the last panic's message is the crash's.
package main

import "fmt"

func process() {
	defer func() {
		if r := recover(); r != nil {
			panic(fmt.Sprintf("process failed: %v", r))
		}
	}()
	var xs []int
	_ = xs[5]
}

func main() { process() }
