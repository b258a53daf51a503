// fatal-in-defer: a deferred call hits a fatal error while a panic unwinds.
// The report is the fatal error's; Go 1.26 prints the pending panic chain
// before "fatal error:".
package main

import "sync"

var mu sync.Mutex

func release() { mu.Unlock() } // never locked: "sync: unlock of unlocked mutex"

func serve() {
	defer release()
	panic("serve: handler failed")
}

func main() { serve() }
