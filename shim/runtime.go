package shim

import (
	"encoding/json"
	"io"
	"math"
	"runtime"
	"runtime/metrics"
	"sort"
	"strings"
	"time"
)

// runtimeView is the Go runtime's own account of the service's memory, as
// crashbox's verdicts read it: the figures a memory verdict rests on, the
// settings in effect as the runtime sees them (GOGC and GOMEMLIMIT may have
// been changed by the program), and the top allocation sites, computed here
// so crashbox never parses a profile.
type runtimeView struct {
	ReadUnixMs    int64  `json:"read_unix_ms"`
	HeapInuse     uint64 `json:"heap_inuse"`
	HeapIdle      uint64 `json:"heap_idle"`
	HeapReleased  uint64 `json:"heap_released"`
	StackInuse    uint64 `json:"stack_inuse"`
	Goroutines    int    `json:"goroutines"`
	NumGC         uint32 `json:"num_gc"`
	LastGCUnixMs  int64  `json:"last_gc_unix_ms"`
	GOGCPercent   int64  `json:"gogc_percent"`     // -1: off
	GOMEMLIMIT    int64  `json:"gomemlimit_bytes"` // math.MaxInt64: none
	GOMAXPROCS    int    `json:"gomaxprocs"`
	TopAllocSites []site `json:"top_alloc_sites"`
}

type site struct {
	Function     string `json:"function"`
	File         string `json:"file"`
	Line         int    `json:"line"`
	InuseBytes   uint64 `json:"inuse_bytes"`
	InuseObjects uint64 `json:"inuse_objects"`
}

const topSites = 5

func writeRuntime(w io.Writer) error {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	v := runtimeView{
		ReadUnixMs:   time.Now().UnixMilli(),
		HeapInuse:    ms.HeapInuse,
		HeapIdle:     ms.HeapIdle,
		HeapReleased: ms.HeapReleased,
		StackInuse:   ms.StackInuse,
		Goroutines:   runtime.NumGoroutine(),
		NumGC:        ms.NumGC,
		LastGCUnixMs: int64(ms.LastGC / 1e6),
		GOGCPercent:  100,
		GOMEMLIMIT:   math.MaxInt64,
		GOMAXPROCS:   runtime.GOMAXPROCS(0),
	}
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		// GOGC=off reads as -1 turned unsigned.
		v.GOGCPercent = int64(s[0].Value.Uint64())
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		v.GOMEMLIMIT = int64(s[1].Value.Uint64())
	}
	v.TopAllocSites = allocSites()
	return json.NewEncoder(w).Encode(&v)
}

// gcEnabled: GOGC is not off, as the runtime sees it.
func gcEnabled() bool {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Kind() != metrics.KindUint64 || int64(s[0].Value.Uint64()) >= 0
}

// allocSites sums the heap profile's in-use figures by the first frame
// outside the runtime, scaled the way pprof scales sampled records.
func allocSites() []site {
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, false)
	for {
		recs = make([]runtime.MemProfileRecord, n+50)
		var ok bool
		if n, ok = runtime.MemProfile(recs, false); ok {
			recs = recs[:n]
			break
		}
	}
	rate := float64(runtime.MemProfileRate)
	by := map[string]*site{}
	for i := range recs {
		r := &recs[i]
		if r.InUseBytes() <= 0 {
			continue
		}
		scale := 1.0
		if r.AllocObjects > 0 && rate > 1 {
			avg := float64(r.AllocBytes) / float64(r.AllocObjects)
			scale = 1 / (1 - math.Exp(-avg/rate))
		}
		fn, file, line := allocFrame(r.Stack())
		key := fn + "\x00" + file
		s := by[key]
		if s == nil {
			s = &site{Function: fn, File: file, Line: line}
			by[key] = s
		}
		s.InuseBytes += uint64(float64(r.InUseBytes()) * scale)
		s.InuseObjects += uint64(float64(r.InUseObjects()) * scale)
	}
	out := make([]site, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].InuseBytes > out[j].InuseBytes })
	if len(out) > topSites {
		out = out[:topSites]
	}
	return out
}

func allocFrame(pcs []uintptr) (string, string, int) {
	frames := runtime.CallersFrames(pcs)
	first := runtime.Frame{}
	for {
		f, more := frames.Next()
		if first.Function == "" {
			first = f
		}
		if !strings.HasPrefix(f.Function, "runtime.") {
			return f.Function, f.File, f.Line
		}
		if !more {
			return first.Function, first.File, first.Line
		}
	}
}
