// big-heap: a service with a large live heap (BIG_HEAP_MIB, default 1024)
// of text-like data, that then dereferences nil: the core dump benchmark.
package main

import (
	"fmt"
	"os"
	"strconv"
)

type record struct {
	id   int
	name string
	blob []byte
	next *record
}

var live []*record

const hex = "0123456789abcdef"

func main() {
	mib := 1024
	if s := os.Getenv("BIG_HEAP_MIB"); s != "" {
		mib, _ = strconv.Atoi(s)
	}
	// 64 KiB records whose bytes look like log lines: compressible, not zero.
	seed := uint32(2463534242)
	for i := 0; i < mib*16; i++ {
		b := make([]byte, 64<<10)
		for j := 0; j < len(b); j += 64 {
			seed ^= seed << 13
			seed ^= seed >> 17
			seed ^= seed << 5
			line := b[j : j+64]
			copy(line, "req=........ user=...... status=200 path=/api/v1/items/.......\n")
			for k := 0; k < 8; k++ {
				line[4+k] = hex[(seed>>(4*k))&15]
			}
			for k, v := 0, seed%1000000; k < 6; k, v = k+1, v/10 {
				line[23-k] = byte('0' + v%10)
			}
		}
		live = append(live, &record{id: i, name: "r" + strconv.Itoa(i), blob: b})
	}
	fmt.Fprintf(os.Stderr, "big-heap: %d MiB live\n", mib)
	var r *record
	fmt.Println(r.next.id)
}
