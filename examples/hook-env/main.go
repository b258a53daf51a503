// hook-env: a Go watcher hook (an uploader, say) that reports the runtime
// tuning it was started with. Under a service with GOGC=off and a high
// GOMEMLIMIT, a watcher that inherited them would double the container's
// memory: crashbox's watcher environment strips them (golang/go#73490).
package main

import (
	"fmt"
	"os"
	"runtime/debug"
)

func main() {
	gcPercent := debug.SetGCPercent(100) // returns the setting in effect
	memLimit := debug.SetMemoryLimit(-1) // -1 only reads it
	fmt.Printf("GOGC=%q GOMEMLIMIT=%q gcpercent=%d memlimit=%d bundle=%s\n",
		os.Getenv("GOGC"), os.Getenv("GOMEMLIMIT"), gcPercent, memLimit, os.Args[len(os.Args)-1])
}
