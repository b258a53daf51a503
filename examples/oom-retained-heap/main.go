// oom-retained-heap: the "2 AM" story. A burst of work held 160 MiB of heap
// for a moment; the GC freed it, but the runtime keeps the pages, idle and
// not returned to the OS, so RSS stays far above the heap in use. Memory
// that is not the heap's (a cgo library's, here an anonymous mapping) then
// climbs slowly to the limit. Meant for a 256 MiB limit. Verdict:
// retained-heap.
package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"

	"crashbox.example/examples/internal/memtest"
	_ "crashbox.dev/shim"
)

var live [][]byte
var mapped [][]byte

func main() {
	for i := 0; i < 16; i++ {
		live = append(live, memtest.Touch(make([]byte, 1<<20)))
	}
	work := make([][]byte, 0, 160)
	for i := 0; i < 160; i++ {
		work = append(work, memtest.Touch(make([]byte, 1<<20)))
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
		memtest.Pace(76, 2*time.Millisecond, 125*time.Millisecond)
	}
}
