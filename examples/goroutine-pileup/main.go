// goroutine-pileup: requests pile up waiting on a backend that never
// answers, then the service panics. Under GOTRACEBACK=all the report holds
// every waiting goroutine (PILEUP_N of them, 1000 by default) at one site.
package main

import (
	"os"
	"strconv"
	"time"
)

type request struct {
	id    int
	reply chan string
}

func (r *request) awaitBackend() string {
	return <-r.reply
}

func handle(id int, started chan<- struct{}) {
	r := &request{id: id, reply: make(chan string)}
	started <- struct{}{}
	r.awaitBackend()
}

func main() {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("PILEUP_N")); err == nil {
		n = v
	}
	started := make(chan struct{})
	for i := 0; i < n; i++ {
		go handle(i, started)
	}
	for i := 0; i < n; i++ {
		<-started
	}
	time.Sleep(50 * time.Millisecond) // every one parked in its receive
	panic("backend unreachable: " + strconv.Itoa(n) + " requests waiting")
}
