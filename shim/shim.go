// Package shim connects a Go service to crashbox, its supervisor. Importing
// it is the whole integration:
//
//	import _ "crashbox.dev/shim"
//
// Under crashbox it (1) sends the runtime's crash report to crashbox on a
// channel of its own (runtime/debug.SetCrashOutput, Go 1.23+), intact even if
// the service redirects or closes its stderr, and (2) answers crashbox's
// requests for the runtime's view of memory (heap, stacks, GOGC and
// GOMEMLIMIT in effect, the top allocation sites), a heap profile,
// runtime.MemStats and an aggregated goroutine profile when memory nears the
// limit, so an OOM kill's bundle says what the memory was.
// Not under crashbox it does nothing. It starts one goroutine, and only under
// crashbox.
package shim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"sync"
)

// Hello is the shim's greeting on the control socket.
const Hello = "crashbox-shim 1"

// The environment variables crashbox sets to name its fds.
const (
	CrashFDEnv   = "CRASHBOX_CRASH_FD"
	ControlFDEnv = "CRASHBOX_CONTROL_FD"
)

var startOnce sync.Once

func init() { Start() }

// Start connects to crashbox. It is called by the package's init; calling it
// again does nothing. It reports whether crashbox was found.
//
// It takes an fd only when it is what crashbox gives there (a pipe for the
// crash report, a unix socket for control): a variable inherited from
// elsewhere cannot make it take an fd the program owns. Either way it unsets
// both variables and marks the fds close-on-exec, so a process the service
// starts (or a copy of itself it re-executes, passing its own fds) is not
// taken for the service.
func Start() bool {
	found := false
	startOnce.Do(func() {
		if f := takeFD(CrashFDEnv, isPipe); f != nil {
			setCrashOutput(f)
			found = true
		}
		if f := takeFD(ControlFDEnv, isUnixSocket); f != nil {
			conn, err := net.FileConn(f)
			f.Close() // FileConn holds its own copy
			if err == nil {
				go serve(conn)
				found = true
			}
		}
	})
	return found
}

// takeFD unsets the variable name and returns the fd it named if that fd
// passes check. An fd that fails is left alone: it belongs to the program.
func takeFD(name string, check func(fd int) bool) *os.File {
	v, ok := os.LookupEnv(name)
	if !ok {
		return nil
	}
	os.Unsetenv(name)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 || !check(fd) {
		return nil
	}
	closeOnExec(fd)
	return os.NewFile(uintptr(fd), name)
}

// serve answers requests, one line each ("runtime", "heap", "memstats",
// "goroutines"),
// with "<name> <length>\n" and that many bytes ("error <length>\n" on failure).
func serve(conn net.Conn) {
	defer conn.Close()
	// The greeting tells crashbox a shim listens: it asks only then.
	if _, err := fmt.Fprintf(conn, "%s\n", Hello); err != nil {
		return
	}
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return // crashbox went away
		}
		var buf bytes.Buffer
		name := line[:len(line)-1]
		before := readHeapRoom()
		switch name {
		case "heap":
			err = pprof.Lookup("heap").WriteTo(&buf, 0) // gzipped protobuf: go tool pprof reads it
		case "memstats":
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			err = json.NewEncoder(&buf).Encode(&ms)
		case "goroutines":
			// Aggregated (debug=1): one record per distinct stack with
			// its count. The full dump of a leak near the limit costs
			// the headroom the service is dying for.
			err = pprof.Lookup("goroutine").WriteTo(&buf, 1)
		case "runtime":
			err = writeRuntime(&buf)
		default:
			err = fmt.Errorf("unknown request %q", name)
		}
		if err != nil {
			buf.Reset()
			buf.WriteString(err.Error())
			name = "error"
		}
		if _, err := fmt.Fprintf(conn, "%s %d\n", name, buf.Len()); err != nil {
			return
		}
		if _, err := conn.Write(buf.Bytes()); err != nil {
			return
		}
		buf = bytes.Buffer{}
		// Never with GOGC=off: that would change the service.
		if before.outgrownBy(readHeapRoom()) && gcEnabled() {
			runtime.GC()
		}
	}
}

// heapRoom: the heap's idle memory still backed by pages (free, not
// returned to the OS), and the bytes allocated so far. runtime/metrics
// reads them without stopping the world.
type heapRoom struct{ free, allocated uint64 }

func readHeapRoom() heapRoom {
	s := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}, {Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	var r heapRoom
	if s[0].Value.Kind() == metrics.KindUint64 {
		r.free = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		r.allocated = s[1].Value.Uint64()
	}
	return r
}

// garbageWorthAGC: below it the GC's own cost and effect outweigh the garbage.
const garbageWorthAGC = 1 << 20

// outgrownBy: the garbage of an answer (allocated from before to after) did
// not fit in the idle pages the heap held before it, so the heap took new
// pages for it. Then, and only then, the shim collects it at once: with many
// goroutines a profile's garbage is many MiB, and a heap goal that counts
// large stacks may not collect it before the limit, so each snapshot would
// hasten the kill.
//
// A GC forced otherwise would change what the next snapshot observes. Its
// end records the heap in use (the live heap, a GC just ran) as the
// scavenger's measure: the goal it scavenges to (mgcscavenge.go:
// gcPercentGoal = 1.1 x lastHeapInUse x heapGoal/lastHeapGoal) falls to
// about 1.1 x the live heap, and the background scavenger returns every
// idle page above that to the OS within some 50 ms. Measured under Go 1.23
// with a 32 MiB live heap and a 96 MiB heap goal: 104 MiB idle and kept
// before the 80% watermark's snapshot, 3 MiB after it; the usage fell back
// below the watermark and its snapshot was dropped, so the retained-heap
// verdict had nothing to rest on. Garbage that fits in idle pages costs no
// memory: they are resident already.
func (before heapRoom) outgrownBy(after heapRoom) bool {
	garbage := after.allocated - before.allocated
	return garbage >= garbageWorthAGC && garbage > before.free
}
