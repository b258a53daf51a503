// Package synctestpanic: a panic inside a synctest bubble, as a test binary
// (go test -c; testing/synctest exists from Go 1.24 with
// GOEXPERIMENT=synctest, and as synctest.Test from 1.25). Goroutine headers
// name the bubble: "synctest group N" (1.24), "synctest bubble N" and
// "(durable)" (1.25+).
package synctestpanic
