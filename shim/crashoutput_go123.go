//go:build go1.23

package shim

import (
	"os"
	"runtime/debug"
)

// setCrashOutput makes the runtime write its crash report to f as well as
// to stderr (Go 1.23+).
func setCrashOutput(f *os.File) {
	_ = debug.SetCrashOutput(f, debug.CrashOptions{})
	f.Close() // SetCrashOutput keeps a duplicate
}
