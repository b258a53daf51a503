// oom-retained-heap: the "2 AM" story. A service tuned with GOGC=200 (its
// heap goal three times the live heap) had a burst of work make 1 GiB of
// garbage; the GC freed it, but the runtime keeps the pages below
// the heap goal, idle and not returned to the OS, so RSS stays far above
// the heap in use. Then a second burst, of memory that is not the heap's (a
// cgo library's, here anonymous mappings), meets the limit. Meant for a
// 256 MiB limit. Verdicts: retained-heap, burst. (Since Go 1.21 the
// scavenger returns such pages within seconds: the watermark must come
// soon after the first burst to see them.)
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	_ "crashbox.dev/shim"
	"crashbox.example/examples/internal/memtest"
)

var live [][]byte
var mapped [][]byte

func main() {
	debug.SetGCPercent(200)
	for i := 0; i < 32; i++ {
		live = append(live, memtest.Touch(make([]byte, 1<<20)))
	}
	// The burst: 16 MiB of requests in flight at a time, 1 GiB in all;
	// the GC runs as the heap goal allows (no runtime.GC, which would
	// start the scavenger at once).
	work := make([][]byte, 16)
	for i := 0; i < 1024; i++ {
		work[i%16] = memtest.Touch(make([]byte, 1<<20))
	}
	work = nil
	runtime.GC()
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
