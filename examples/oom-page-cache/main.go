// oom-page-cache: a service that spools to a tmpfs file (a memfd here, so
// nothing is left behind): its pages are shmem, counted against the limit
// and never reclaimed. The heap stays small. Verdict: page-cache.
package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	_ "crashbox.dev/shim"
	"crashbox.example/examples/internal/memtest"
)

// memfd_create(2) on amd64 and arm64; the syscall package names neither.
var sysMemfdCreate uintptr = map[string]uintptr{"amd64": 319, "arm64": 279}[runtime.GOARCH]

func main() {
	name := []byte("spool\x00")
	fd, _, errno := syscall.Syscall(sysMemfdCreate, uintptr(unsafe.Pointer(&name[0])), 0, 0)
	if errno != 0 {
		fmt.Fprintln(os.Stderr, "memfd_create:", errno)
		os.Exit(1)
	}
	spool := os.NewFile(fd, "spool")
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i)
	}
	fmt.Fprintln(os.Stderr, "page-cache: spooling")
	for {
		if _, err := spool.Write(chunk); err != nil {
			fmt.Fprintln(os.Stderr, "write:", err)
			os.Exit(1)
		}
		memtest.Pace(70, 5*time.Millisecond, 125*time.Millisecond)
	}
}
