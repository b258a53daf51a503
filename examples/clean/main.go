// clean: does its work and exits 0.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "batch: 3 items processed")
	fmt.Println("done")
}
