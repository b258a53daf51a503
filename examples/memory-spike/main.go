// memory-spike: a burst of memory that is given back: crosses the 80%
// watermark of a 96 MiB cgroup, frees it, and exits cleanly. With "hold" it
// keeps the memory until it is killed. A duration after it ("hold 20ms")
// paces the climb: that pause after each 4 MiB.
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"time"
)

var hoard [][]byte

func main() {
	var pace time.Duration
	if len(os.Args) > 2 {
		d, err := time.ParseDuration(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "usage: memory-spike [hold [PAUSE]]")
			os.Exit(2)
		}
		pace = d
	}
	for i := 0; i < 20; i++ { // 80 MiB, touched
		b := make([]byte, 4<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		hoard = append(hoard, b)
		time.Sleep(pace)
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
