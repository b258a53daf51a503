// repanic-same-value: a deferred call recovers a panic and panics again with
// the same value. Go 1.25 prints it once with " [recovered, repanicked]"; older
// versions print the chain "panic: V [recovered]" then "\tpanic: V".
package main

import "fmt"

func cleanup() {
	if r := recover(); r != nil {
		fmt.Println("rolling back")
		panic(r)
	}
}

func commit() {
	defer cleanup()
	panic("commit: lost lease on shard 4")
}

func main() { commit() }
