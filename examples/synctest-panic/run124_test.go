//go:build goexperiment.synctest && !go1.25

// The module says go 1.21, whose timer channels synctest refuses.
//go:debug asynctimerchan=0

package synctestpanic

import (
	"testing"
	"testing/synctest"
)

func TestBubble(t *testing.T) { synctest.Run(bubble) }
