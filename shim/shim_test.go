package shim

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
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

// serving starts serve on one end of a socket pair and returns the other,
// greeted. The test's end closes it, and the serving goroutine has ended.
func serving(t *testing.T) (net.Conn, *bufio.Reader) {
	t.Helper()
	before := runtime.NumGoroutine()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours := os.NewFile(uintptr(fds[0]), "ours")
	theirs, _ := net.FileConn(os.NewFile(uintptr(fds[1]), "theirs"))
	c, _ := net.FileConn(ours)
	ours.Close()
	t.Cleanup(func() {
		c.Close()
		if !goroutinesBackTo(before) {
			t.Errorf("the serving goroutine did not end with the connection")
		}
	})
	go serve(theirs)
	r := bufio.NewReader(c)
	if hello, err := r.ReadString('\n'); err != nil || hello != Hello+"\n" {
		t.Fatalf("greeting %q, %v", hello, err)
	}
	return c, r
}

func TestServeAnswersAndLeaksNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	c, r := serving(t)
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
	if !goroutinesBackTo(before) {
		t.Fatalf("the serving goroutine did not end with the connection: %d, want %d", runtime.NumGoroutine(), before)
	}
}

func goroutinesBackTo(n int) bool {
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return runtime.NumGoroutine() <= n
}

func TestNotUnderCrashboxDoesNothing(t *testing.T) {
	if os.Getenv(CrashFDEnv) != "" || os.Getenv(ControlFDEnv) != "" {
		t.Skip("running under crashbox")
	}
	if f := takeFD(CrashFDEnv, isPipe); f != nil {
		t.Fatal("found a crash fd without crashbox")
	}
	t.Setenv(CrashFDEnv, "1") // stdout: below 3 is never taken
	if f := takeFD(CrashFDEnv, func(int) bool { return true }); f != nil {
		t.Fatal("took fd 1")
	}
}

// fdOpen: the fd is still open (the shim left it to its owner).
func fdOpen(fd int) bool {
	var st syscall.Stat_t
	return syscall.Fstat(fd, &st) == nil
}

func cloexec(t *testing.T, fd int) bool {
	flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	return flags&syscall.FD_CLOEXEC != 0
}

func TestTakesOnlyWhatCrashboxGivesAndUnsetsTheVariables(t *testing.T) {
	// What the program owns: a regular file, and a pipe, neither close-on-exec
	// (as fds inherited from a parent are).
	file, err := os.CreateTemp(t.TempDir(), "own")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(p[0])
	pair, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(pair[1])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tcp, _ := ln.(*net.TCPListener).File()
	defer tcp.Close()

	cases := []struct {
		name  string
		env   string
		fd    int
		check func(int) bool
		take  bool
	}{
		{"a regular file as the crash fd", CrashFDEnv, int(file.Fd()), isPipe, false},
		{"a unix socket as the crash fd", CrashFDEnv, pair[0], isPipe, false},
		{"a pipe as the control fd", ControlFDEnv, p[1], isUnixSocket, false},
		{"a TCP socket as the control fd", ControlFDEnv, int(tcp.Fd()), isUnixSocket, false},
		{"a closed fd", CrashFDEnv, 999, isPipe, false},
		{"the pipe as the crash fd", CrashFDEnv, p[1], isPipe, true},
		{"the unix socket as the control fd", ControlFDEnv, pair[0], isUnixSocket, true},
	}
	for _, c := range cases {
		t.Setenv(c.env, strconv.Itoa(c.fd))
		f := takeFD(c.env, c.check)
		if _, set := os.LookupEnv(c.env); set {
			t.Errorf("%s: %s still set: a child would inherit it", c.name, c.env)
		}
		if (f != nil) != c.take {
			t.Errorf("%s: taken %v, want %v", c.name, f != nil, c.take)
		}
		if f != nil {
			if !cloexec(t, c.fd) {
				t.Errorf("%s: taken but not close-on-exec", c.name)
			}
			f.Close()
		} else if c.fd != 999 && !fdOpen(c.fd) {
			t.Errorf("%s: the program's own fd was closed", c.name)
		}
	}
}

var retained [][]byte

//go:noinline
func retainForSites() {
	for i := 0; i < 16; i++ {
		retained = append(retained, make([]byte, 1<<20))
	}
}

func TestRuntimeViewNamesTheAllocatorAndTheSettings(t *testing.T) {
	// Every allocation sampled: at the default rate the profile's estimate
	// of 16 MiB of 1 MiB objects is itself random (it came out at 13.9 MiB
	// once), and the figure checked below would be too.
	defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
	runtime.MemProfileRate = 1
	retained = nil
	retainForSites()
	runtime.GC() // the heap profile reflects the last completed GC
	var buf strings.Builder
	if err := writeRuntime(&buf); err != nil {
		t.Fatal(err)
	}
	var v runtimeView
	if err := json.Unmarshal([]byte(buf.String()), &v); err != nil {
		t.Fatal(err)
	}
	if v.HeapInuse < 16<<20 || v.Goroutines < 1 || v.GOMAXPROCS < 1 || v.NumGC < 1 {
		t.Fatalf("figures: %+v", v)
	}
	if v.GOGCPercent != int64(debug.SetGCPercent(100)) {
		t.Fatalf("gogc %d", v.GOGCPercent)
	}
	if len(v.TopAllocSites) == 0 || !strings.HasSuffix(v.TopAllocSites[0].Function, ".retainForSites") ||
		v.TopAllocSites[0].InuseBytes < 15<<20 {
		t.Fatalf("top sites: %+v", v.TopAllocSites)
	}
	old := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(old)
	buf.Reset()
	writeRuntime(&buf)
	json.Unmarshal([]byte(buf.String()), &v)
	if v.GOGCPercent != -1 || v.GOMEMLIMIT != math.MaxInt64 {
		t.Fatalf("with GC off: gogc %d, limit %d", v.GOGCPercent, v.GOMEMLIMIT)
	}
}

func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

var sink []byte

// askedAfterAGC: the shim forces its GC after it answered; the next answer
// comes after it.
func askedAfterAGC(t *testing.T, c net.Conn, r *bufio.Reader) {
	t.Helper()
	if name, body := request(t, c, r, "memstats"); name != "memstats" {
		t.Fatalf("memstats: %s %s", name, body)
	}
}

// The retained-heap story: a high GOGC keeps the pages a burst's garbage
// freed idle under the heap goal. A snapshot must not force a GC: the
// scavenger would then return those pages (see outgrownBy).
func TestASnapshotLeavesTheIdleHeapAlone(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	live := make([][]byte, 8)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	// A burst of garbage, until two GCs of its own have ended: the last
	// one just now, so the heap is back to the live 8 MiB, far below its
	// goal, and a few answers cannot start a GC.
	for start := gcCycles(); gcCycles() < start+2; {
		sink = make([]byte, 64<<10)
	}
	sink = nil
	// The GC's sweep, in the background, frees the pages.
	for deadline := time.Now().Add(5 * time.Second); readHeapRoom().free < 8<<20; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the burst left %d bytes idle, not the story", readHeapRoom().free)
		}
	}
	c, r := serving(t)
	gcs := gcCycles()
	for i := 0; i < 3; i++ {
		for _, what := range []string{"runtime", "goroutines", "memstats", "heap"} {
			if name, body := request(t, c, r, what); name != what {
				t.Fatalf("%s: %s %s", what, name, body)
			}
		}
	}
	askedAfterAGC(t, c, r)
	if n := gcCycles(); n != gcs {
		t.Fatalf("the snapshots ran %d GCs", n-gcs)
	}
	runtime.KeepAlive(live)
}

// With many goroutines and no idle pages, a profile's garbage takes new
// pages: it is collected at once.
func TestAProfileThatOutgrewTheIdleHeapIsCollected(t *testing.T) {
	before := runtime.NumGoroutine()
	never := make(chan struct{})
	t.Cleanup(func() {
		close(never)
		goroutinesBackTo(before)
	})
	for i := 0; i < 20000; i++ {
		go func() { <-never }()
	}
	c, r := serving(t)
	debug.FreeOSMemory()
	gcs := gcCycles()
	if name, body := request(t, c, r, "goroutines"); name != "goroutines" {
		t.Fatalf("goroutines: %s %s", name, body)
	}
	askedAfterAGC(t, c, r)
	if n := gcCycles(); n == gcs {
		t.Fatal("the profile's garbage was left to the service's heap goal")
	}
}
