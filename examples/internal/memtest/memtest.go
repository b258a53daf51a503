// Package memtest paces the memory verdicts' example programs by the
// memory cgroup they run in: fast while far from the limit, slow near it,
// so the watermarks are seen even on a loaded machine and only the burst
// example climbs the last stretch quickly.
package memtest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func cgroupFile(v1, v2 string) uint64 {
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(own), "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var p string
		switch {
		case strings.Contains(","+parts[1]+",", ",memory,"):
			p = filepath.Join("/sys/fs/cgroup/memory", parts[2], v1)
		case parts[0] == "0" && parts[1] == "":
			p = filepath.Join("/sys/fs/cgroup", parts[2], v2)
		default:
			continue
		}
		if b, err := os.ReadFile(p); err == nil {
			if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
				return n
			}
		}
	}
	return 0
}

// Limit is the cgroup's memory limit in bytes, 0 if none is found.
func Limit() uint64 { return cgroupFile("memory.limit_in_bytes", "memory.max") }

// Usage is the cgroup's memory usage in bytes.
func Usage() uint64 { return cgroupFile("memory.usage_in_bytes", "memory.current") }

// Pace sleeps after one step: fast while usage is below fastPercent of the
// limit, slow above it.
func Pace(fastPercent uint64, fast, slow time.Duration) {
	if l := Limit(); l > 0 && Usage()*100 < l*fastPercent {
		time.Sleep(fast)
		return
	}
	time.Sleep(slow)
}

// Touch writes every page of b, so it counts against the limit.
func Touch(b []byte) []byte {
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	return b
}
