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
		if (name == "heap" || name == "goroutines") && gcEnabled() {
			// Their garbage is many MiB when goroutines are many, and
			// a heap goal counting large stacks may not collect it
			// before the limit: the snapshot would hasten the kill.
			// Never with GOGC=off: that would change the service.
			buf = bytes.Buffer{}
			runtime.GC()
		}
	}
}
