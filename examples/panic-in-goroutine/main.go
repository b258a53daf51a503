// panic-in-goroutine: a panic in a goroutine started by main, so the report
// has a "created by" line.
package main

import (
	"errors"
	"time"
)

func consume(jobs <-chan int) {
	for j := range jobs {
		if j == 3 {
			panic(errors.New("job 3: checksum mismatch"))
		}
	}
}

func main() {
	jobs := make(chan int)
	go consume(jobs)
	for i := 0; i < 5; i++ {
		jobs <- i
	}
	time.Sleep(time.Second)
}
