// oom-other-process: the golang/go#73490 story. Run with GOGC=off and a
// GOMEMLIMIT below the container's limit, the service starts its own crash
// watcher (a copy of itself given the crash output, as
// runtime/debug.SetCrashOutput's documentation suggests); the watcher
// holds memory of its own, and the limit the runtime keeps to is not the
// cgroup's. Verdict: other-process, naming the watcher.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"time"

	_ "crashbox.dev/shim"
	"crashbox.example/examples/internal/memtest"
)

var symbols []byte
var sink []byte

func watch() {
	symbols = memtest.Touch(make([]byte, 56<<20)) // what a symbolizer loads
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin) // a crash report would arrive here
	time.Sleep(time.Hour)
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "watch" {
		watch()
		return
	}
	self, _ := os.Executable()
	w := exec.Command(self, "watch")
	in, _ := w.StdinPipe()
	out, _ := w.StdoutPipe()
	w.Stderr = os.Stderr
	if err := w.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "watcher:", err)
		os.Exit(1)
	}
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		fmt.Fprintln(os.Stderr, "watcher did not start")
		os.Exit(1)
	}
	if f, ok := in.(*os.File); ok {
		debug.SetCrashOutput(f, debug.CrashOptions{})
	}
	fmt.Fprintf(os.Stderr, "other-process: watcher pid %d; GOGC=%q GOMEMLIMIT=%q\n", w.Process.Pid,
		os.Getenv("GOGC"), os.Getenv("GOMEMLIMIT"))
	for {
		sink = memtest.Touch(make([]byte, 1<<20))
		memtest.Pace(70, 5*time.Millisecond, 125*time.Millisecond)
	}
}
