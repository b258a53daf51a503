// shim-service: a service that imports crashbox's Go shim (the one-line
// integration) and leaks memory in a cache until the OOM killer comes. Its
// OOM bundle holds heap profiles taken at each watermark, which name
// cacheResponse as the allocator; with "panic" it panics instead, and the
// crash report reaches crashbox on the shim's own channel.
package main

import (
	"fmt"
	"os"
	"time"

	_ "crashbox.dev/shim"
)

var cache = map[int][]byte{}

func cacheResponse(i int) {
	b := make([]byte, 1<<20)
	for j := 0; j < len(b); j += 4096 {
		b[j] = byte(i)
	}
	cache[i] = b
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "panic" {
		os.Stderr.Close() // the report must not need stderr
		panic("cache corrupted")
	}
	// A duration argument ("10ms") paces the climb: that pause after each MiB.
	var pace time.Duration
	if len(os.Args) > 1 {
		d, err := time.ParseDuration(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "usage: shim-service [panic | PAUSE]")
			os.Exit(2)
		}
		pace = d
	}
	fmt.Fprintln(os.Stderr, "api: caching responses")
	for i := 0; ; i++ {
		cacheResponse(i)
		if pace > 0 {
			time.Sleep(pace)
		} else if i%8 == 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
}
