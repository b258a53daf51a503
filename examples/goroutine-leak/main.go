// goroutine-leak: every request starts a goroutine that waits for a reply
// that never comes, holding its buffer, until the OOM killer comes. It
// imports crashbox's shim, so each pre-OOM snapshot holds a goroutine dump
// in which thousands of goroutines wait at one site. With a number N, N
// requests leak and then only the cache of their responses grows.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	_ "crashbox.dev/shim"
)

type call struct {
	buf   []byte
	reply chan []byte
}

func (c *call) awaitReply() []byte {
	return <-c.reply
}

func serve(c *call, started chan<- struct{}) {
	for j := 0; j < len(c.buf); j += 4096 {
		c.buf[j] = 1
	}
	started <- struct{}{}
	c.awaitReply()
}

var cache [][]byte

func main() {
	leaks := -1
	if len(os.Args) > 1 {
		leaks, _ = strconv.Atoi(os.Args[1])
	}
	fmt.Fprintln(os.Stderr, "serving")
	started := make(chan struct{})
	size := 64 << 10
	if leaks >= 0 {
		size = 4 << 10
	}
	for i := 0; leaks < 0 || i < leaks; i++ {
		go serve(&call{buf: make([]byte, size), reply: make(chan []byte)}, started)
		<-started
		if leaks < 0 {
			time.Sleep(time.Millisecond) // a steady leak (about 70 MiB/s) the watermarks can see
		}
	}
	for i := 0; ; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = byte(i)
		}
		cache = append(cache, b)
		time.Sleep(2 * time.Millisecond)
	}
}
