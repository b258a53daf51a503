package synctestpanic

import (
	"sync"
	"time"
)

// bubble runs inside the bubble: one goroutine blocks on a channel, one
// sleeps on the fake clock, and a third panics.
func bubble() {
	ch := make(chan int)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ch
	}()
	go func() { time.Sleep(time.Hour) }()
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(time.Second)
		panic("bubble: deadline passed at " + time.Now().UTC().Format(time.RFC3339))
	}()
	<-done
}
