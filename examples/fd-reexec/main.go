// fd-reexec: a service that imports crashbox's Go shim and hands its own
// fd 3 to a re-executed copy of itself, as servers that restart in place
// pass their listeners on. The copy prints what it reads from fd 3 and
// whether it was told of a crashbox channel. With "forge", the parent also
// names fd 3 in CRASHBOX_CRASH_FD and CRASHBOX_CONTROL_FD for the copy (a
// variable left over from elsewhere): the copy's shim must check what the
// fd is and leave it alone.
package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"

	_ "crashbox.dev/shim"
)

func child() {
	data, err := io.ReadAll(os.NewFile(3, "passed"))
	if err != nil {
		fmt.Printf("fd3: error: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("fd3: %s", data)
	for _, name := range []string{"CRASHBOX_CRASH_FD", "CRASHBOX_CONTROL_FD"} {
		v, ok := os.LookupEnv(name)
		fmt.Printf("%s: %v %s\n", name, ok, v)
	}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "child" {
		child()
		return
	}
	f, err := os.CreateTemp("", "fd-reexec")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Remove(f.Name())
	fmt.Fprintf(f, "handed over by the parent\n")
	f.Seek(0, 0)
	cmd := exec.Command(os.Args[0], "child")
	cmd.ExtraFiles = []*os.File{f} // the copy's fd 3
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = os.Environ()
	if len(os.Args) > 1 && os.Args[1] == "forge" {
		cmd.Env = append(cmd.Env, "CRASHBOX_CRASH_FD=3", "CRASHBOX_CONTROL_FD=3")
	}
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
