// log-flood: 5 MB of ordinary log lines, then a panic: the report must be
// found at the end of a long tail.
package main

import (
	"log"
	"os"
)

func main() {
	l := log.New(os.Stderr, "", log.LstdFlags|log.Lmicroseconds)
	line := "GET /api/v1/orders?page=17 200 12.3ms user=4711 trace=4bf92f3577b34da6a3ce929d0e0e4736"
	for n := 0; n < 5<<20; n += len(line) + 27 {
		l.Println(line)
	}
	var m map[string]int
	m["boom"] = 1
}
