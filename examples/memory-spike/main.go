// memory-spike: a burst of memory that is given back: crosses the 80%
// watermark of a 96 MiB cgroup, frees it, and exits cleanly. With "hold" it
// keeps the memory until it is killed.
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"time"
)

var hoard [][]byte

func main() {
	for i := 0; i < 20; i++ { // 80 MiB, touched
		b := make([]byte, 4<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		hoard = append(hoard, b)
	}
	fmt.Fprintln(os.Stderr, "spike: holding 80 MiB")
	if len(os.Args) > 1 && os.Args[1] == "hold" { // until killed
		fmt.Println("holding")
		for {
			time.Sleep(time.Hour)
		}
	}
	time.Sleep(300 * time.Millisecond)
	hoard = nil
	debug.FreeOSMemory()
	fmt.Fprintln(os.Stderr, "spike: released")
	time.Sleep(500 * time.Millisecond)
}
