package httpapi_test

import (
	"fmt"
	"net/http"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/auth"
)

// BenchmarkListAudit measures GET /v1/interactions (a page of 50 over 500 interactions of
// 100 customers, so each read makes up to 50 audit records) over loopback, without and
// with the read audit, and reports the p50 and p99 latency of each (issue 18: p99 within
// 10 %) and the process's CPU time per read (cpu-ns/op: the handler, the recorder and the
// embedded server, and the client, together), which a busy machine disturbs less than the latencies. The
// API is served unchecked (no OpenAPI check of each answer), as `ledger serve` serves it.
//
//	go test ./adapters/httpapi/ -run '^$' -bench ListAudit -benchtime 3000x -count 6
func BenchmarkListAudit(b *testing.B) {
	for _, withAudit := range []bool{false, true} {
		b.Run(fmt.Sprintf("audit=%v", withAudit), func(b *testing.B) {
			a := startAPIWith(b, apiOptions{noAudit: !withAudit, unchecked: true})
			a.post(b, directoryFixture()...)
			var evs []map[string]any
			for i := range 500 {
				evs = append(evs, ev("interaction.started", fmt.Sprintf("cus-%d", i%100), 1+i%600, map[string]any{
					"interaction_id": fmt.Sprintf("call-%d", i), "flow": "voice", "direction": "incoming",
					"routing": "direct", "agent_id": "ann"}))
			}
			a.post(b, evs...)
			a.caughtUp(b)
			tok := token(b, "ann", auth.ScopeHistoryRead)
			lat := make([]time.Duration, 0, b.N)
			cpu0 := cpuTime(b)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				if code := a.do(b, "GET", "/v1/interactions?limit=50", tok, "", "", nil); code != http.StatusOK {
					b.Fatalf("list = %d", code)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		})
	}
}

// cpuTime is the CPU time (user and system) the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
