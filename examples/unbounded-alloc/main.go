// unbounded-alloc: keeps allocating (and touching) memory until something
// stops it: the cgroup's OOM killer, or Go's "fatal error: out of memory".
// With a duration argument ("20ms") it pauses that long after each 4 MiB:
// a paced climb, as a service filling a cache in bursts does.
package main

import (
	"fmt"
	"os"
	"time"
)

var hoard [][]byte

func main() {
	var pace time.Duration
	if len(os.Args) > 1 {
		d, err := time.ParseDuration(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "usage: unbounded-alloc [PAUSE]")
			os.Exit(2)
		}
		pace = d
	}
	fmt.Fprintln(os.Stderr, "cache: warming up")
	for i := 0; ; i++ {
		b := make([]byte, 4<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = byte(i)
		}
		hoard = append(hoard, b)
		if pace > 0 {
			time.Sleep(pace)
		} else if i%16 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}
