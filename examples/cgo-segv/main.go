// cgo-segv: a SIGSEGV inside C code called through cgo. The Go runtime
// reports "signal arrived during cgo execution".
package main

/*
#include <stddef.h>
static int deref(int *p) { return *p; }
static int crash_in_c(void) { return deref(NULL); }
*/
import "C"

import "fmt"

func main() {
	fmt.Println("calling into C")
	fmt.Println(C.crash_in_c())
}
