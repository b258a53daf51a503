package shim

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func request(t *testing.T, c net.Conn, r *bufio.Reader, what string) (string, []byte) {
	t.Helper()
	if _, err := fmt.Fprintf(c, "%s\n", what); err != nil {
		t.Fatal(err)
	}
	head, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Fields(head)
	n, _ := strconv.Atoi(parts[1])
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatal(err)
	}
	return parts[0], body
}

func TestServeAnswersAndLeaksNothing(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours := os.NewFile(uintptr(fds[0]), "ours")
	theirs, _ := net.FileConn(os.NewFile(uintptr(fds[1]), "theirs"))
	c, _ := net.FileConn(ours)
	ours.Close()
	before := runtime.NumGoroutine()
	go serve(theirs)
	r := bufio.NewReader(c)
	if hello, err := r.ReadString('\n'); err != nil || hello != Hello+"\n" {
		t.Fatalf("greeting %q, %v", hello, err)
	}
	for i := 0; i < 20; i++ {
		name, body := request(t, c, r, "heap")
		if name != "heap" {
			t.Fatalf("got %s: %s", name, body)
		}
		if _, err := gzip.NewReader(strings.NewReader(string(body))); err != nil {
			t.Fatalf("heap profile is not gzip: %v", err)
		}
		if name, body = request(t, c, r, "memstats"); name != "memstats" || !strings.Contains(string(body), `"HeapAlloc"`) {
			t.Fatalf("memstats: %s %s", name, body)
		}
		if name, body = request(t, c, r, "goroutines"); name != "goroutines" || !strings.Contains(string(body), "goroutine ") {
			t.Fatalf("goroutines: %s", name)
		}
	}
	if name, _ := request(t, c, r, "bogus"); name != "error" {
		t.Fatalf("bogus request answered with %s", name)
	}
	if n := runtime.NumGoroutine(); n != before+1 {
		t.Fatalf("goroutines: %d before, %d while serving (want one more)", before, n)
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() != before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n != before {
		t.Fatalf("the serving goroutine did not end with the connection: %d, want %d", n, before)
	}
}

func TestNotUnderCrashboxDoesNothing(t *testing.T) {
	if os.Getenv(CrashFDEnv) != "" || os.Getenv(ControlFDEnv) != "" {
		t.Skip("running under crashbox")
	}
	if envOK := func() bool { _, ok := envFD(CrashFDEnv); return ok }(); envOK {
		t.Fatal("found a crash fd without crashbox")
	}
	t.Setenv(CrashFDEnv, "1") // stdout: below 3 is never taken
	if _, ok := envFD(CrashFDEnv); ok {
		t.Fatal("took fd 1")
	}
}
