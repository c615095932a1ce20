package httpapi_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/interaction-ledger/ledger/adapters/httpapi"
	ledgernode "github.com/interaction-ledger/ledger/adapters/node"
	"github.com/interaction-ledger/ledger/eventstore/storetest"
)

// BenchmarkHostileIngestRSS (issue 11, item 10) sends three hostile 16 MiB bodies at once
// to the real handler, under the binary's memory settings (GOGC 300, the node's SoftMemoryLimit),
// and reports the process's peak RSS (VmHWM, reset before the run) against that limit.
// The bodies are generated as they are sent, so the client holds none of them.
//
//	go test ./adapters/httpapi/ -run '^$' -bench HostileIngestRSS -benchtime 3x
func BenchmarkHostileIngestRSS(b *testing.B) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(softLimit))
	defer debug.SetGCPercent(debug.SetGCPercent(300))
	store := storetest.Open(b, "")
	base, tok := ingestAPI(b, store, httpapi.Config{})
	bodies := []struct {
		name string
		body func() io.Reader
	}{
		// The body: 16 MiB of tiny array elements.
		{"tiny-elements", func() io.Reader { return repeatBody("[", "1,", "1]", httpapi.DefaultMaxBody) }},
		{"10000-rejected-1.6KiB", rejectedBody},
	}
	for _, bb := range bodies {
		benchHostile(b, base, tok, bb.name, bb.body, 3)
	}
}

// BenchmarkHostileIngestRSSAtSlotLimit is BenchmarkHostileIngestRSS with as many hostile
// bodies at once as the handler serves (DefaultMaxConcurrentIngest): the worst case of
// the default configuration.
func BenchmarkHostileIngestRSSAtSlotLimit(b *testing.B) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(softLimit))
	defer debug.SetGCPercent(debug.SetGCPercent(300))
	store := storetest.Open(b, "")
	base, tok := ingestAPI(b, store, httpapi.Config{})
	benchHostile(b, base, tok, "10000-rejected-1.6KiB", rejectedBody, httpapi.DefaultMaxConcurrentIngest)
}

func benchHostile(b *testing.B, base, tok, name string, body func() io.Reader, concurrent int) {
	b.Run(fmt.Sprintf("%s-x%d", name, concurrent), func(b *testing.B) {
		if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
			b.Skipf("cannot reset the peak RSS: %v", err)
		}
		before := procStatusKiB(b, "VmRSS")
		b.ResetTimer()
		for b.Loop() {
			var wg sync.WaitGroup
			for range concurrent {
				wg.Go(func() {
					req, _ := http.NewRequest(http.MethodPost, base+"/v1/events", body())
					req.Header.Set("Authorization", "Bearer "+tok)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						b.Errorf("POST: %v", err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode < 400 {
						b.Errorf("POST: %d, want a refusal", resp.StatusCode)
					}
				})
			}
			wg.Wait()
		}
		b.StopTimer()
		b.ReportMetric(float64(procStatusKiB(b, "VmHWM"))/1024, "peak-RSS-MiB")
		b.ReportMetric(float64(before)/1024, "RSS-before-MiB")
		b.ReportMetric(float64(softLimit>>20), "soft-limit-MiB")
	})
}

// softLimit is the binary's default soft memory limit (cmd/ledger sets it unless
// GOMEMLIMIT is set).
const softLimit = ledgernode.SoftMemoryLimit

// rejectedBody stays within the count limit and is read to its end: 10000 envelopes of
// 1.6 KiB, each rejected with a long message (the unknown type's list of allowed ones).
func rejectedBody() io.Reader {
	pad := strings.Repeat("x", httpapi.DefaultMaxBody/10000-40)
	return repeatBody("[", `{"type":"nope","pad":"`+pad+`"},`, `{}]`, httpapi.DefaultMaxBody)
}

// repeatBody yields head, then unit repeated, then tail: size bytes at most, generated
// as read.
func repeatBody(head, unit, tail string, size int) io.Reader {
	n := (size - len(head) - len(tail)) / len(unit)
	return io.MultiReader(strings.NewReader(head), &repeatReader{unit: []byte(unit), n: n}, strings.NewReader(tail))
}

type repeatReader struct {
	unit []byte
	n    int // units left
	off  int // within the current unit
}

func (r *repeatReader) Read(p []byte) (int, error) {
	written := 0
	for written < len(p) && r.n > 0 {
		c := copy(p[written:], r.unit[r.off:])
		written += c
		if r.off += c; r.off == len(r.unit) {
			r.off, r.n = 0, r.n-1
		}
	}
	if written == 0 {
		return 0, io.EOF
	}
	return written, nil
}

// procStatusKiB reads a "kB" field of /proc/self/status.
func procStatusKiB(b *testing.B, field string) int64 {
	b.Helper()
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("%s: %q: %v", field, v, err)
			}
			return n
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}
