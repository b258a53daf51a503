// log-fatal: log.Fatal, which prints and exits 1 without a traceback.
package main

import "log"

func main() {
	log.Println("starting")
	log.Fatal("listen tcp :8080: bind: address already in use")
}
