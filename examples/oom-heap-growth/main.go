// oom-heap-growth: a cache that is never evicted grows the heap itself to
// the memory limit, slowly near it. Verdict: heap-growth, naming
// main.cacheEntry as the top allocation site.
package main

import (
	"fmt"
	"os"
	"time"

	_ "crashbox.dev/shim"
	"crashbox.example/examples/internal/memtest"
)

var cache [][]byte

//go:noinline
func cacheEntry() { cache = append(cache, memtest.Touch(make([]byte, 1<<20))) }

func main() {
	fmt.Fprintln(os.Stderr, "heap-growth: caching")
	for {
		cacheEntry()
		memtest.Pace(70, 5*time.Millisecond, 125*time.Millisecond)
	}
}
