// concurrent-map-writes: the runtime's "fatal error: concurrent map writes",
// which no recover() can catch.
package main

import "sync"

func main() {
	m := map[int]int{}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 1_000_000; i++ {
				m[i%100] = g
			}
		}(g)
	}
	wg.Wait()
}
