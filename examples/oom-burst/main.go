// oom-burst: a service at half its limit takes a burst of requests that
// each hold memory: from the first watermark to the kill in well under a
// second. Verdict: burst.
package main

import (
	"fmt"
	"os"
	"time"

	_ "crashbox.dev/shim"
	"crashbox.example/examples/internal/memtest"
)

var held [][]byte

func main() {
	limit := memtest.Limit()
	for limit == 0 || memtest.Usage() < limit/2 {
		held = append(held, memtest.Touch(make([]byte, 1<<20)))
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // a quiet moment at half the limit
	fmt.Fprintln(os.Stderr, "burst: requests arrive")
	for {
		held = append(held, memtest.Touch(make([]byte, 4<<20)))
	}
}
