// index-out-of-range: a slice bounds panic.
package main

import "os"

func pick(xs []int, i int) int { return xs[i] }

func main() { os.Exit(pick([]int{1, 2, 3}, len(os.Args)+4)) }
