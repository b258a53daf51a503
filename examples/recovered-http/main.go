// recovered-http: handlers panic and net/http recovers them ("http: panic
// serving ..."), three times, before the service panics for good.
package main

import (
	"net"
	"net/http"
)

var orders map[string]int // never made: writing to it panics

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	http.HandleFunc("/order", func(w http.ResponseWriter, r *http.Request) {
		orders[r.URL.Query().Get("id")]++
	})
	http.HandleFunc("/report", func(w http.ResponseWriter, r *http.Request) {
		panic("report backend down")
	})
	go http.Serve(ln, nil)
	for _, path := range []string{"/order?id=1", "/order?id=2", "/report"} {
		if resp, err := http.Get("http://" + ln.Addr().String() + path); err == nil {
			resp.Body.Close()
		}
	}
	panic("too many failed requests")
}
