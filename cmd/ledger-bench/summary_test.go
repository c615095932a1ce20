package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoughCount(t *testing.T) {
	for _, c := range []struct {
		n    float64
		want string
	}{{50, "50"}, {73_412, "73k"}, {198_986, "200k"}, {1_951_287, "2M"}, {19_512_870, "20M"}, {1_449_000, "1.4M"}} {
		if got := roughCount(c.n); got != c.want {
			t.Errorf("roughCount(%v) = %q, want %q", c.n, got, c.want)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		vs   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(c.vs); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.vs, got, c.want)
		}
	}
}

// benchRun is one synthetic run: the figures the targets read.
type benchRun struct {
	interactions, events int
	e2e, e2eRatio        float64
	nats, natsRatio      float64
	peerIngest           float64
	replay               float64
	listP99, listP50     float64
	peerListP99          float64
	phoneFigure          string
	phoneP99             float64
	anon                 float64
}

func (r benchRun) report() benchReport {
	ratio := func(v float64) *float64 { return &v }
	return benchReport{Scale: benchScale{Interactions: r.interactions, UniqueEvents: r.events}, Rows: []benchRow{
		{Figure: rawJSFig, Value: r.e2e / r.e2eRatio, Unit: "events/s"},
		{Figure: benchE2EFig, Value: r.e2e, Unit: "events/s", Ratio: ratio(r.e2eRatio), RatioTo: rawJSFig},
		{Figure: benchE2ENATSFig, Value: r.nats, Unit: "events/s", Ratio: ratio(r.natsRatio), RatioTo: rawJSFig},
		{Figure: benchReplayFig, Value: r.replay, Unit: "events/s"},
		{Figure: "history list, default (today), manager, p99", Value: r.listP99, Unit: "ms",
			Note: "p50 " + fmtValue(r.listP50, "ms") + " ms, max 1.00 ms, n=300; first answer: 50 items, 19000 bytes"},
		{Figure: r.phoneFigure, Value: r.phoneP99, Unit: "ms", Note: "p50 0.10 ms, max 1.00 ms, n=300"},
		{Figure: benchAnonFig, Value: r.anon, Unit: "MiB"},
		{Figure: benchPeerIngest, Value: r.peerIngest, Unit: "events/s"},
		{Figure: peerPrefix + "history list, default (today), manager, p99", Value: r.peerListP99, Unit: "ms",
			Note: "ratio: ledger / peer p99 (ledger p50 9.99 ms, p99 9.99 ms); p50 1.52 ms"},
	}}
}

func writeReports(t *testing.T, runs ...benchRun) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i, r := range runs {
		b, err := json.Marshal(r.report())
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "run-"+string(rune('a'+i))+".json")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

const newPhone = "history search q=phone, 3 months, manager, p99"

// Three runs at 200k, two at 2M: medians per scale, the peer beside, each target judged on
// the medians (not on any single run), the old figure of the phone search merged with the
// new one.
func TestSummarizeJudgesMedians(t *testing.T) {
	small := benchRun{interactions: 43_000, events: 198_986, peerIngest: 20_000, listP99: 1, peerListP99: 2, phoneFigure: newPhone, phoneP99: 1, anon: 400}
	big := benchRun{interactions: 430_000, events: 1_951_287, peerIngest: 20_000, listP99: 1, peerListP99: 2, phoneFigure: newPhone, phoneP99: 1, anon: 400}
	s1, s2, s3 := small, small, small
	s1.e2e, s1.e2eRatio, s1.nats, s1.natsRatio, s1.replay, s1.listP50 = 30_000, 0.35, 30_000, 0.4, 120_000, 0.25
	s2.e2e, s2.e2eRatio, s2.nats, s2.natsRatio, s2.replay, s2.listP50 = 10_000, 0.10, 10_000, 0.1, 50_000, 0.40
	s3.e2e, s3.e2eRatio, s3.nats, s3.natsRatio, s3.replay, s3.listP50 = 25_000, 0.31, 26_000, 0.31, 110_000, 0.28
	s3.phoneFigure = "history search q=phone (+33674990741), 3 months, manager, p99" // an older report
	b1, b2 := big, big
	b1.e2e, b1.e2eRatio, b1.nats, b1.natsRatio, b1.replay, b1.listP50, b1.anon = 18_000, 0.3, 20_000, 0.3, 90_000, 0.3, 500
	b2.e2e, b2.e2eRatio, b2.nats, b2.natsRatio, b2.replay, b2.listP50, b2.anon = 22_000, 0.34, 20_000, 0.3, 100_000, 0.34, 530
	b2.listP99 = 3 // above the peer's 2 in one run of two: the median (2) is not
	var out, errOut bytes.Buffer
	if err := run(t.Context(), append([]string{"summarize", "-markdown"}, writeReports(t, s1, s2, s3, b1, b2)...), nil, &out, &errOut); err != nil {
		t.Fatalf("summarize: %v\n%s", err, errOut.String())
	}
	got := out.String()
	t.Log("\n" + got)
	for _, want := range []string{
		"| figure | 200k envelopes: ledger (3 runs) | PostgreSQL | 2M envelopes: ledger (2 runs) | PostgreSQL |",
		"| " + benchE2EFig + " (events/s) | 25.0k | - | 20.0k | - |",
		"| history list, default (today), manager, p99 (ms) | 1.00 | 2.00 | 2.00 | 2.00 |",
		"| " + newPhone + " (ms) | 1.00 | - | 1.00 | - |", // three runs, two figures
		"| " + benchPeerIngest + " (events/s) | 20.0k | - | 20.0k | - |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks the line\n%s", want)
		}
	}
	for _, c := range []struct{ scale, target, met, figures string }{
		{"200k envelopes", benchE2EFig + " ≥ 0.3 × raw", "yes", "25000 events/s = 0.31 × raw"},
		{"200k envelopes", benchE2ENATSFig + " ≥ 0.3 × raw", "yes", "= 0.31 × raw"},
		{"200k envelopes", "ahead of the peer's ingest", "yes", "25000 vs 20000"},
		{"200k envelopes", "replay of all views ≥ 100,000", "yes", "110000 events/s"},
		{"200k envelopes", "p50 ≤ 0.3 ms", "yes", "history list, default (today), manager 0.28 ms"},
		{"2M envelopes", benchE2EFig + " ≥ 0.3 × raw", "yes", "= 0.32 × raw"},
		{"2M envelopes", "replay of all views ≥ 100,000", "NO", "95000 events/s"},
		{"2M envelopes", "every query's p99 ≤ the peer's", "yes", "1 queries compared"},
		{"2M envelopes", "p50 ≤ 0.3 ms", "NO", "over: history list, default (today), manager 0.32 ms"},
		{"2M envelopes", "anonymous RSS ≤ 512 MiB", "NO", "515 MiB"},
		{"2M envelopes vs 200k envelopes", benchE2EFig + " within 20 %", "yes", "(80 %)"},
		{"2M envelopes vs 200k envelopes", benchReplayFig + " within 20 %", "yes", "(86 %)"},
	} {
		found := false
		for _, l := range strings.Split(got, "\n") {
			if strings.HasPrefix(l, c.scale+"  ") && strings.Contains(l, c.target) {
				found = true
				fields := strings.Fields(l[strings.Index(l, c.target)+len(c.target):])
				met := ""
				for _, f := range fields {
					if f == "yes" || f == "NO" {
						met = f
						break
					}
				}
				if met != c.met || !strings.Contains(l, c.figures) {
					t.Errorf("check %q at %s: got line\n%s\nwant met %s and %q", c.target, c.scale, l, c.met, c.figures)
				}
			}
		}
		if !found {
			t.Errorf("no check %q at %s", c.target, c.scale)
		}
	}
}

func TestSummarizeRefusesWhatIsNoReport(t *testing.T) {
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "notes.txt")
	empty := filepath.Join(dir, "empty.json")
	for p, body := range map[string]string{notJSON: "bench: done\n", empty: `{"rows": []}`} {
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no files", []string{"summarize"}, "name the --json reports"},
		{"missing", []string{"summarize", filepath.Join(dir, "nope.json")}, "nope.json"},
		{"not JSON", []string{"summarize", notJSON}, "notes.txt: not a ledger-bench --json report"},
		{"no rows", []string{"summarize", empty}, "empty.json: a report without rows"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(t.Context(), c.args, nil, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one naming %q", err, c.want)
			}
		})
	}
}
