// labels-panic: a panic in a goroutine started under pprof labels (it
// inherits them). Go 1.26 with GODEBUG=tracebacklabels=1 prints the labels
// in the goroutine header. (A panic inside pprof.Do itself shows none: its
// deferred restore runs before the traceback is printed.)
package main

import (
	"context"
	"runtime/pprof"
)

func handle(done chan struct{}) {
	defer close(done)
	panic("handler: request rejected")
}

func main() {
	done := make(chan struct{})
	pprof.Do(context.Background(), pprof.Labels("request", "r-42", "route", "/pay"), func(context.Context) {
		go handle(done)
	})
	<-done
	select {}
}
