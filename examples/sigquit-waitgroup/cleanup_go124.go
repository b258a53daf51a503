//go:build go1.24

package main

import "runtime"

func registerCleanup() {
	buf := new([64]byte)
	runtime.AddCleanup(buf, func(int) {}, 0)
	buf = nil
	runtime.GC()
}
