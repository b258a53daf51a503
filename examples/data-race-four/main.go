// data-race-four: four different data races, one after another, in a -race
// build without halt_on_error: the detector reports all four and the
// program exits 66. The first is a write in writer() against main's read.
package main

import (
	"fmt"
	"time"
)

var a, b, c, d int

func writer(p *int, done chan<- struct{}) {
	*p = 1
	close(done)
}

func settle() { time.Sleep(20 * time.Millisecond) }

func main() {
	for _, p := range []*int{&a, &b, &c, &d} {
		done := make(chan struct{})
		go writer(p, done)
		settle()
		switch p {
		case &a:
			fmt.Println("a", a)
		case &b:
			fmt.Println("b", b)
		case &c:
			fmt.Println("c", c)
		case &d:
			fmt.Println("d", d)
		}
		<-done
	}
}
