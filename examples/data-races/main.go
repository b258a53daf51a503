// data-races: two distinct races; built with -race, the detector reports
// both and counts them ("Found 2 data race(s)"). The first report is the
// crash's.
package main

import (
	"fmt"
	"sync"
)

var hits, misses int

func record(hit bool) {
	if hit {
		hits++
	} else {
		misses++
	}
}

func main() {
	var wg sync.WaitGroup
	for round := 0; round < 2; round++ {
		for i := 0; i < 2; i++ {
			wg.Add(1)
			go func(hit bool) {
				defer wg.Done()
				record(hit)
			}(round == 0)
		}
		wg.Wait()
	}
	fmt.Println(hits, misses)
}
