// unbounded-alloc: keeps allocating (and touching) memory until something
// stops it: the cgroup's OOM killer, or Go's "fatal error: out of memory".
package main

import (
	"fmt"
	"os"
	"time"
)

var hoard [][]byte

func main() {
	fmt.Fprintln(os.Stderr, "cache: warming up")
	for i := 0; ; i++ {
		b := make([]byte, 4<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = byte(i)
		}
		hoard = append(hoard, b)
		if i%16 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}
