// memory-hover: sits just under the 90% watermark of a 96 MiB cgroup and
// keeps stepping over it and back for a few seconds, as a service near its
// limit does; then exits cleanly. Hysteresis and the rate limit must keep
// crashbox's pre-OOM snapshots to a few.
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"time"
)

var base, extra [][]byte

func grab(n int) [][]byte {
	var out [][]byte
	for i := 0; i < n; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		out = append(out, b)
	}
	return out
}

func main() {
	base = grab(80) // with the runtime's own, just under 90% of 96 MiB
	fmt.Fprintln(os.Stderr, "hover: at the watermark")
	end := time.Now().Add(3 * time.Second)
	for time.Now().Before(end) {
		extra = grab(4) // over 90%
		time.Sleep(50 * time.Millisecond)
		extra = nil
		debug.FreeOSMemory() // back under
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintln(os.Stderr, "hover: done")
}
