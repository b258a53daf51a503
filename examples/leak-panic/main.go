// leak-panic: requests leak goroutines waiting on a backend that never
// answers (50,000 by default, or the count given), then one panics under
// GOTRACEBACK=all: a report of about 12 MB, larger than crashbox's tail,
// whose head holds the panic and the crashing goroutine. It imports the
// Go shim, so with [capture] go_shim = yes the report also arrives on the
// shim's channel.
package main

import (
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	_ "crashbox.dev/shim"
)

type request struct {
	id    int
	reply chan []byte
}

func (r *request) awaitBackend(wg *sync.WaitGroup) {
	wg.Done()
	<-r.reply
}

func checkBackend(waiting int) {
	panic("backend gone: " + strconv.Itoa(waiting) + " requests waiting")
}

func main() {
	debug.SetTraceback("all")
	n := 50000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		r := &request{id: i, reply: make(chan []byte)}
		go r.awaitBackend(&wg)
	}
	wg.Wait()
	time.Sleep(10 * time.Millisecond)
	checkBackend(n)
}
