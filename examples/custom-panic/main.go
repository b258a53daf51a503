// custom-panic: panic with an error value from application code.
package main

import (
	"errors"
	"fmt"
	"os"
)

var errLedger = errors.New("ledger out of balance by 42 cents")

func reconcile(n int) {
	if n > 2 {
		panic(fmt.Errorf("reconcile batch %d: %w", n, errLedger))
	}
	reconcile(n + 1)
}

func main() {
	fmt.Fprintln(os.Stderr, "ledger: reconciling")
	reconcile(0)
}
