// goroutines-10k: 10,000 parked goroutines and a panic under
// GOTRACEBACK=all: a large dump in which the crashing goroutine comes first.
package main

import (
	"runtime/debug"
	"sync"
	"time"
)

func worker(id int, wg *sync.WaitGroup, block chan struct{}) {
	wg.Done()
	<-block
	_ = id
}

func main() {
	debug.SetTraceback("all")
	var wg sync.WaitGroup
	block := make(chan struct{})
	for i := 0; i < 10000; i++ {
		wg.Add(1)
		go worker(i, &wg, block)
	}
	wg.Wait()
	time.Sleep(10 * time.Millisecond)
	panic("shutting down with 10000 workers parked")
}
