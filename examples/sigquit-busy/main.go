// sigquit-busy: a program that spins in one goroutine while main waits for
// it and others idle; SIGQUIT makes the runtime dump every goroutine. The
// one that matters is the spinning one, not whichever is printed first.
package main

import (
	"fmt"
	"os"
	"time"
)

var sink uint64

//go:noinline
func spin() {
	for i := uint64(0); ; i++ {
		sink += i * i
	}
}

func idle(ch chan int) { <-ch }

func main() {
	ch := make(chan int)
	for i := 0; i < 3; i++ {
		go idle(ch)
	}
	go spin()
	time.Sleep(100 * time.Millisecond)
	fmt.Println("ready")
	os.Stdout.Sync()
	<-ch
}
