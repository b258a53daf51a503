// oom-goroutine-leak: each request waits for a backend that never answers;
// the goroutines pile up, their stacks far outweighing the heap. Verdict:
// goroutine-leak, naming main.awaitBackend.
package main

import (
	"fmt"
	"os"
	"time"

	_ "crashbox.dev/shim"
	"crashbox.example/examples/internal/memtest"
)

var never = make(chan struct{})

// awaitBackend grows its stack (a deep request handler) and blocks.
//
//go:noinline
func awaitBackend(depth int) byte {
	var pad [512]byte
	if depth > 0 {
		return awaitBackend(depth-1) + pad[depth%512]
	}
	<-never
	return pad[0]
}

func main() {
	fmt.Fprintln(os.Stderr, "goroutine-leak: serving")
	for {
		for i := 0; i < 32; i++ { // some 1 MiB of stacks
			go awaitBackend(40)
		}
		memtest.Pace(70, 5*time.Millisecond, 125*time.Millisecond)
	}
}
