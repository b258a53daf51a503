//go:build !unix

package shim

// crashbox runs on Linux only: elsewhere no fd is ever crashbox's.
func isPipe(fd int) bool       { return false }
func isUnixSocket(fd int) bool { return false }
func closeOnExec(fd int)       {}
