// traceback-crash: GOTRACEBACK=crash set by the program itself. After the
// report the runtime re-raises SIGABRT, so the process dies of a signal.
package main

import (
	"runtime/debug"
	"strconv"
)

type parser struct{ fields []string }

func (p *parser) port() int {
	n, err := strconv.Atoi(p.fields[1])
	if err != nil {
		panic("port is not a number: " + err.Error())
	}
	return n
}

func main() {
	debug.SetTraceback("crash")
	p := &parser{fields: []string{"host", "eighty"}}
	println(p.port())
}
