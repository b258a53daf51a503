// stack-overflow: unbounded recursion, "goroutine stack exceeds" and
// "fatal error: stack overflow".
package main

func descend(n int) int { return descend(n+1) + 1 }

func main() { println(descend(0)) }
