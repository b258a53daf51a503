// nil-deref: an HTTP-handler-style nil pointer dereference, the most common
// Go crash: "panic: runtime error: invalid memory address or nil pointer
// dereference" with a [signal SIGSEGV ...] line.
package main

import (
	"fmt"
	"os"
)

type Order struct{ Customer *Customer }
type Customer struct{ Name string }

func handle(o *Order) string { return "hello " + o.Customer.Name }

func main() {
	fmt.Fprintln(os.Stderr, "orders: serving")
	fmt.Println(handle(&Order{}))
}
