//go:build unix

package shim

import "syscall"

func fileType(fd int) uint32 {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return 0
	}
	return uint32(st.Mode) & syscall.S_IFMT
}

// isPipe: crashbox's crash channel is a pipe.
func isPipe(fd int) bool { return fileType(fd) == syscall.S_IFIFO }

// isUnixSocket: crashbox's control channel is a unix socket pair.
func isUnixSocket(fd int) bool {
	if fileType(fd) != syscall.S_IFSOCK {
		return false
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return false
	}
	_, unix := sa.(*syscall.SockaddrUnix)
	return unix
}

func closeOnExec(fd int) { syscall.CloseOnExec(fd) }
