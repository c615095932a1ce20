package httpapi_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/httpapi"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/history"
	"github.com/interaction-ledger/ledger/projections/history/historytest"
)

// TestMain registers the benchmarks' flags: the data set (historytest.Main).
func TestMain(m *testing.M) { historytest.Main(m, 1_000_000) }

// BenchmarkExportCSV (issue 12, item 6): WriteCSV of the whole data set (every row: an
// administrator whose profile covers every queue and flow, over the 90 days) into a
// writer that counts and discards, as the server would send it. Reports rows/s and the
// memory held while exporting, sampled every 10 ms: the Go heap's live objects and the
// process's anonymous RSS (the view file is mapped, so the total RSS, reported as
// VmHWM-MiB after a reset of the peak, also counts the file's pages the export read).
//
//	go test ./adapters/httpapi/ -run '^$' -bench ExportCSV -benchtime 1x -args -history.interactions=1000000 -history.file=/tmp/history-1m.db
func BenchmarkExportCSV(b *testing.B) {
	n, end := historytest.Size(b), historytest.End()
	hv, _ := historytest.OpenFlagged(b, func(db *projections.DB) *history.View {
		return history.New(db, history.Options{Region: "FR"})
	})
	queues := make([]string, historytest.Queues)
	for i := range queues {
		queues[i] = fmt.Sprintf("q%02d", i)
	}
	rd := domain.Reader{AgentID: "adm", Role: domain.RoleAdministrator, HistoryAccess: true, ProfileFlows: domain.Flows(), ProfileQueues: queues}
	q := history.Query{From: end.AddDate(0, 0, -91), To: end.Add(time.Hour), Desc: true}

	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil { // resets VmHWM to the current RSS
		b.Logf("reset the peak RSS: %v (VmHWM-MiB then includes the build)", err)
	}
	peak := startPeakSampler()
	b.ResetTimer()
	var rows int
	for b.Loop() {
		w := &countingWriter{header: http.Header{}}
		if err := httpapi.WriteCSV(w, hv, rd, q, "interactions.csv"); err != nil {
			b.Fatal(err)
		}
		rows = w.lines - 1 // the header row
	}
	b.StopTimer()
	heap, anon := peak()
	if rows != n {
		b.Fatalf("exported %d rows, want the data set's %d", rows, n)
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(anon)/(1<<20), "peak-anon-RSS-MiB")
	b.ReportMetric(float64(procStatus(b, "VmHWM"))/(1<<20), "VmHWM-MiB")
}

// countingWriter is an http.ResponseWriter that counts the lines written and keeps none.
type countingWriter struct {
	header http.Header
	lines  int
}

func (w *countingWriter) Header() http.Header { return w.header }
func (w *countingWriter) WriteHeader(int)     {}
func (w *countingWriter) Write(p []byte) (int, error) {
	w.lines += bytes.Count(p, []byte{'\n'})
	return len(p), nil
}

// startPeakSampler samples, every 10 ms until the returned function is called, the Go
// heap's live objects and the process's anonymous RSS, and returns their peaks.
func startPeakSampler() func() (heap, anon uint64) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var heap, anon uint64
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			heap = max(heap, sample[0].Value.Uint64())
			anon = max(anon, procStatus(nil, "RssAnon"))
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	return func() (uint64, uint64) {
		close(stop)
		wg.Wait()
		return heap, anon
	}
}

// procStatus reads a "kB" field of /proc/self/status in bytes (0 when absent).
func procStatus(b *testing.B, field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		if b != nil {
			b.Logf("read /proc/self/status: %v", err)
		}
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if ok && name == field {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
