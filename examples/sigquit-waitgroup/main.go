// sigquit-waitgroup: main waits on a WaitGroup for a worker that sleeps;
// SIGQUIT under GOTRACEBACK=system dumps the runtime's own goroutines too
// (finalizers; from 1.24 cleanups, from 1.25 the GOMAXPROCS updater), which
// are never the goroutine that matters.
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

func work(wg *sync.WaitGroup) {
	defer wg.Done()
	time.Sleep(time.Hour)
}

func main() {
	registerCleanup() // cleanup_go124.go: starts the cleanup goroutine
	var wg sync.WaitGroup
	wg.Add(1)
	go work(&wg)
	fmt.Println("ready")
	os.Stdout.Sync()
	wg.Wait()
}
