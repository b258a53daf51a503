//go:build !go1.23

package shim

import "os"

// setCrashOutput: runtime/debug.SetCrashOutput needs Go 1.23; before that
// crashbox reads the crash report from the stderr tail.
func setCrashOutput(f *os.File) { f.Close() }
