// oom-garbage: a service that makes garbage, and only garbage: with GOGC
// at its default it lives forever in a few MiB; run with GOGC=off (and no
// GOMEMLIMIT, or one above the container's limit) nothing collects it.
// Verdicts: gc-off, memlimit-above-limit.
package main

import (
	"fmt"
	"os"
	"time"

	_ "crashbox.dev/shim"
	"crashbox.example/examples/internal/memtest"
)

var sink []byte

func main() {
	fmt.Fprintf(os.Stderr, "garbage: GOGC=%q GOMEMLIMIT=%q\n", os.Getenv("GOGC"), os.Getenv("GOMEMLIMIT"))
	for {
		sink = memtest.Touch(make([]byte, 1<<20)) // the previous one is garbage
		memtest.Pace(70, 5*time.Millisecond, 125*time.Millisecond)
	}
}
