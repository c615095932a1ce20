package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/cmd/ledger-bench/pgpeer"
)

// TestBench runs the whole bench at a tiny size: every phase runs end to end (the
// cluster's too: three nats-servers and two ledger processes) and every row is printed. Targets are printed, never asserted here (the machine is noisy).
func TestBench(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every phase of the bench (about a minute: it builds and starts a cluster)")
	}
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "bench.json")
	profPath := filepath.Join(dir, "cpu.prof")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	// The PostgreSQL peer runs where PostgreSQL is installed; under CI it must be (make
	// test installs it).
	_, pgErr := pgpeer.FindBin()
	peer := pgErr == nil
	if !peer && os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: %v", pgErr)
	}
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"--interactions", "2000", "--queries", "10", "--dir", filepath.Join(dir, "work"),
		"--json", jsonPath, "--cpuprofile", profPath, "--peer=" + strconv.FormatBool(peer)}, func(string) string { return "" }, &stdout, &stderr)
	if err != nil {
		t.Fatalf("bench: %v\nstderr:\n%s", err, stderr.String())
	}
	out := stdout.String()
	t.Log("\n" + out)

	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep benchReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("decode %s: %v", jsonPath, err)
	}
	if got, want := rep.Scale.Interactions, 2000; got != want {
		t.Errorf("scale interactions = %d, want %d", got, want)
	}
	if rep.Scale.Events == 0 || rep.Scale.UniqueEvents == 0 {
		t.Errorf("scale = %+v, want events", rep.Scale)
	}
	want := []string{
		"raw JetStream async publish",
		"raw bbolt insert, interaction ids unsorted",
		"raw bbolt insert, interaction ids sorted per tx",
		"ingest end to end, HTTP NDJSON",
		"ingest end to end, direct NATS publish",
		"ingest end to end, 2 nodes on an R3 cluster",
		"ingest, 2 nodes on an R3 cluster",
		"cluster ingest: CPU per event",
		"replay, all views",
		"replay, history view (its own time",
		"replay, timeline view (its own time",
		"start over the data, until the ledger serves",
		"history list, default (today), manager",
		"history list, default (today), administrator",
		"history list, default (today), collaborator",
		"history list, 3 months, flow+status, sort agent_id, manager",
		"history search q=phone",
		"history detail, manager",
		"timeline newest 50, busiest customer",
		"timeline tab chats",
		"timeline tab tasks",
		"peak RssAnon, ledger phases",
		"peak RSS (VmHWM)",
		"disk: stream (data/nats) per event",
		"disk: history view file",
		"disk: timeline view file",
		"disk: directory view file",
	}
	if peer {
		want = append(want,
			"PostgreSQL peer: ingest to queryable",
			"PostgreSQL COPY of the unique events",
			"PostgreSQL peer: history list, default (today), manager",
			"PostgreSQL peer: history list, 3 months, flow+status, sort agent_id, administrator",
			"PostgreSQL peer: history search q=phone",
			"PostgreSQL peer: history detail, collaborator",
			"PostgreSQL peer: timeline newest 50, busiest customer",
			"PostgreSQL peer: timeline tab tasks",
		)
	} else {
		t.Logf("PostgreSQL is not installed (%v): the peer's rows are not checked", pgErr)
	}
	for _, prefix := range want {
		found := false
		for _, r := range rep.Rows {
			if strings.HasPrefix(r.Figure, prefix) {
				found = true
				if r.Value <= 0 {
					t.Errorf("row %q = %v %s, want a positive value", r.Figure, r.Value, r.Unit)
				}
			}
		}
		if !found {
			t.Errorf("no row %q in the JSON report", prefix)
		}
		if !strings.Contains(out, prefix) {
			t.Errorf("no row %q in the printed table", prefix)
		}
	}
	// The cluster's rows are compared with the embedded node's: the ratio is set.
	for _, r := range rep.Rows {
		if strings.Contains(r.Figure, "R3 cluster") && (r.Ratio == nil || *r.Ratio <= 0 || r.RatioTo == "") {
			t.Errorf("row %q: ratio %v to %q, want a positive ratio to the embedded node's row", r.Figure, r.Ratio, r.RatioTo)
		}
	}
	// The peer answers the same queries from the same data: the same number of items.
	for _, w := range rep.Warnings {
		if strings.HasPrefix(w, "peer answers differ") {
			t.Error(w)
		}
	}
	for _, r := range rep.Rows {
		if r.Target != "" && r.Holds == nil {
			t.Errorf("row %q has target %q but no verdict", r.Figure, r.Target)
		}
	}
	for _, want := range []string{"machine:", "GOMAXPROCS", "scale:", "FIGURE", "TARGET", "HOLDS"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if fi, err := os.Stat(profPath); err != nil || fi.Size() == 0 {
		t.Errorf("cpu profile %s: %v, want a non-empty file", profPath, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "work", "events.bin")); err != nil {
		t.Errorf("--dir is kept: %v", err)
	}
	// The report is what summarize reads (make bench runs it after the runs).
	var sum bytes.Buffer
	if err := run(ctx, []string{"summarize", "-markdown", jsonPath}, nil, &sum, &stderr); err != nil {
		t.Fatalf("summarize %s: %v", jsonPath, err)
	}
	for _, want := range []string{"envelopes: ledger (1 run)", benchE2EFig + " (events/s)", "history search q=phone, 3 months, manager, p99 (ms)",
		"replay of all views ≥ 100,000 events/s", "anonymous RSS ≤ 512 MiB"} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary of the run lacks %q:\n%s", want, sum.String())
		}
	}
}

func TestBenchOtherPhoneFormat(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"US compact", "+14155550123", "(415) 555-0123"},
		{"US formatted", "(415) 555-0123", "4155550123"},
		{"US international spaced", "+1 415 555 0123", "+14155550123"},
		{"US national compact", "4155550123", "+1 415 555 0123"},
		{"FR compact", "+33123456789", "+33 1 23 45 67 89"},
		{"UK spaced", "+44 20 7946 0958", "+442079460958"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := benchOtherPhoneFormat(tc.in); got != tc.want {
				t.Errorf("benchOtherPhoneFormat(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestBenchFlagErrors(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--interactions", "0", "--queries", "0", "--cluster-sync", "sometimes"}, func(string) string { return "" }, &stdout, &stderr)
	if err == nil {
		t.Fatal("bench with --interactions 0 --queries 0 --cluster-sync sometimes: want an error")
	}
	for _, want := range []string{"--interactions", "--queries", "--cluster-sync"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
