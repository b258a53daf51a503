// sleeper: runs until a signal; SIGQUIT makes the Go runtime dump every
// goroutine and exit 2.
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	fmt.Println("ready")
	os.Stdout.Sync()
	time.Sleep(time.Hour)
}
