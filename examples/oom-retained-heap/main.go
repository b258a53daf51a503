// oom-retained-heap: the "2 AM" story. A service tuned with GOGC=300 (its
// heap goal four times its 40 MiB live heap) served a burst of requests,
// each making 1 MiB of garbage; the GC freed it, but the runtime keeps the
// freed pages, some 120 MiB, idle and not returned to the OS, so RSS stays
// far above the heap in use. Then a second burst, of memory that is not the
// heap's (a cgo library's, here anonymous mappings), meets the limit. Meant
// for a 256 MiB limit. Verdicts: retained-heap, burst.
//
// Why the pages stay (mgcscavenge.go, Go 1.23): without a
// GOMEMLIMIT the scavenger returns idle pages only above 1.1 x the heap in
// use at the end of the last GC (scaled by the change of the heap goal).
// The burst's requests come at the service's pace and the GCs are its own,
// started by the heap goal, so each ends with the heap near its goal and
// that measure is high; once two have, the heap goal no longer moves. No
// runtime.GC, no debug.FreeOSMemory: a GC that ends with only the live heap
// in use lowers the measure to it, and the scavenger returns nearly all the
// idle pages within some 50 ms.
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"syscall"
	"time"

	_ "crashbox.dev/shim"
	"crashbox.example/examples/internal/memtest"
)

var live [][]byte
var mapped [][]byte
var request []byte

// gcCycles reads the count of ended GCs without starting one.
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func main() {
	debug.SetGCPercent(300)
	for i := 0; i < 40; i++ {
		live = append(live, memtest.Touch(make([]byte, 1<<20)))
	}
	// The burst: one request at a time, some 250 MiB/s, slow enough that
	// little is allocated while a GC marks (that would raise the next heap
	// goal, and the peak, toward the watermarks). It ends as a GC ends.
	for start := gcCycles(); gcCycles() < start+2; {
		request = memtest.Touch(make([]byte, 1<<20))
		time.Sleep(4 * time.Millisecond)
	}
	request = nil
	fmt.Fprintln(os.Stderr, "retained-heap: the burst is over")
	for {
		m, err := syscall.Mmap(-1, 0, 1<<20, syscall.PROT_READ|syscall.PROT_WRITE,
			syscall.MAP_PRIVATE|syscall.MAP_ANON)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mmap:", err)
			os.Exit(1)
		}
		mapped = append(mapped, memtest.Touch(m))
		time.Sleep(10 * time.Millisecond)
	}
}
