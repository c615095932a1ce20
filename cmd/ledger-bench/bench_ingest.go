package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/interaction-ledger/ledger/projections"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/node"
	"github.com/interaction-ledger/ledger/eventstore"
)

// benchLedger is one in-process `ledger serve` on a loopback port.
type benchLedger struct {
	cfg    node.Config
	base   string
	client *http.Client
	cancel context.CancelFunc
	done   chan error
}

func startBenchLedger(ctx context.Context, dataDir, secret string, log *slog.Logger, clients int) (*benchLedger, error) {
	cfg := node.Config{DataDir: dataDir, HTTPAddr: "127.0.0.1:0", AuthSecret: secret, Region: "US", Replicas: 1}
	sctx, cancel := context.WithCancel(ctx)
	started := make(chan string, 1)
	bl := &benchLedger{cfg: cfg, cancel: cancel, done: make(chan error, 1),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients + 2, MaxConnsPerHost: clients + 2, DisableCompression: true}}}
	go func() { bl.done <- node.Serve(sctx, cfg, log, io.Discard, started) }()
	select {
	case addr := <-started:
		bl.base = "http://" + addr
		return bl, nil
	case err := <-bl.done:
		cancel()
		return nil, fmt.Errorf("ledger did not start: %w", err)
	case <-time.After(60 * time.Second):
		cancel()
		return nil, errors.New("ledger did not start within 60s")
	}
}

func (bl *benchLedger) stop() error {
	bl.cancel()
	bl.client.CloseIdleConnections()
	select {
	case err := <-bl.done:
		return err
	case <-time.After(30 * time.Second):
		return errors.New("ledger did not stop within 30s")
	}
}

// status asks GET /v1/admin/status, as `ledger status` does.
func (bl *benchLedger) status(ctx context.Context, tok string) (node.Status, error) {
	var rep node.Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, bl.base+"/v1/admin/status", nil)
	if err != nil {
		return rep, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := bl.client.Do(req)
	if err != nil {
		return rep, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return rep, fmt.Errorf("status: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return rep, json.NewDecoder(resp.Body).Decode(&rep)
}

// benchCaughtUp reports whether every view's checkpoint reached its stream's last sequence
// and the events stream holds want messages.
func benchCaughtUp(rep node.Status, want uint64) (bool, string) {
	var events uint64
	for _, s := range rep.Streams {
		if s.Name == eventstore.StreamEvents {
			events = s.LastSeq
		}
	}
	if events < want {
		return false, fmt.Sprintf("stream at %d of %d", events, want)
	}
	for _, v := range rep.Views {
		if v.LagEvents > 0 {
			return false, fmt.Sprintf("view %s lags %d", v.Name, v.LagEvents)
		}
	}
	return true, ""
}

// benchWaitCaughtUp polls status until benchCaughtUp.
func benchWaitCaughtUp(ctx context.Context, status func(context.Context) (node.Status, error), want uint64, timeout time.Duration, progress io.Writer) (node.Status, error) {
	deadline := time.Now().Add(timeout)
	lastSaid := time.Now()
	var last string
	for {
		if progress != nil && time.Since(lastSaid) > 10*time.Second {
			fmt.Fprintf(progress, "bench: waiting for the views: %s\n", last)
			lastSaid = time.Now()
		}
		rep, err := status(ctx)
		if err == nil {
			var ok bool
			if ok, last = benchCaughtUp(rep, want); ok {
				return rep, nil
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return rep, fmt.Errorf("views not caught up within %s: %s", timeout, last)
		}
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// benchIngestResult is what an ingest phase measured.
type benchIngestResult struct {
	acked   time.Duration // until the stream acknowledged every envelope
	settled time.Duration // until every view's checkpoint reached the stream's last sequence
	stored  uint64        // messages in the events stream
	views   []node.ViewStatus
}

// benchHTTPIngest POSTs the envelopes as NDJSON batches of batchSize with clients concurrent
// clients, then waits for every view to catch up.
func benchHTTPIngest(ctx context.Context, bl *benchLedger, data *benchData, secret string, clients, batchSize int, memProfile string, progress io.Writer) (benchIngestResult, error) {
	var res benchIngestResult
	ingestTok, opsTok, err := benchIngestTokens(secret)
	if err != nil {
		return res, err
	}
	start := time.Now()
	if err := benchPostAll(ctx, []*benchLedger{bl}, data, ingestTok, clients, batchSize); err != nil {
		return res, err
	}
	res.acked = time.Since(start)
	fmt.Fprintf(progress, "bench: HTTP ingest acked by the stream in %s\n", res.acked.Round(time.Millisecond))
	if memProfile != "" {
		if err := writeHeapProfile(memProfile); err != nil {
			return res, err
		}
	}
	return res, res.settle(ctx, start, func(ctx context.Context) (node.Status, error) { return bl.status(ctx, opsTok) }, uint64(data.unique), progress)
}

// benchIngestTokens mints the producer's token (ingest and the directory) and the
// operator's (status).
func benchIngestTokens(secret string) (ingest, ops string, err error) {
	now := time.Now()
	if ingest, err = auth.Mint(secret, "bench-producer", []string{auth.ScopeIngest, auth.ScopeDirectoryWrite}, now, 24*time.Hour); err != nil {
		return "", "", err
	}
	if ops, err = auth.Mint(secret, "bench-ops", []string{auth.ScopeOps}, now, 24*time.Hour); err != nil {
		return "", "", err
	}
	return ingest, ops, nil
}

// settle waits until every view applied the want envelopes and records the end-to-end
// time, the views and what the stream stored.
func (res *benchIngestResult) settle(ctx context.Context, start time.Time, status func(context.Context) (node.Status, error), want uint64, progress io.Writer) error {
	rep, err := benchWaitCaughtUp(ctx, status, want, 30*time.Minute, progress)
	if err != nil {
		return err
	}
	res.settled = time.Since(start)
	res.views = rep.Views
	for _, s := range rep.Streams {
		if s.Name == eventstore.StreamEvents {
			res.stored = s.Messages
		}
	}
	return nil
}

type benchBatchAnswer struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Rejected   int `json:"rejected"`
	Results    []struct {
		Status string `json:"status"`
		Field  string `json:"field"`
		Error  string `json:"error"`
	} `json:"results"`
}

// benchPostBatch posts one batch as a producer does: a 503 (the stream did not confirm
// in time, or the ledger is busy) is resent after its Retry-After; the ids make the
// resend safe.
func benchPostBatch(ctx context.Context, bl *benchLedger, tok string, body []byte) error {
	const attempts = 5
	for i := 1; ; i++ {
		err := benchPostOnce(ctx, bl, tok, body)
		var busy benchRetryAfter
		if !errors.As(err, &busy) || i == attempts {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(busy.wait):
		}
	}
}

// benchRetryAfter is a 503 answer: its Retry-After and what the body said.
type benchRetryAfter struct {
	wait time.Duration
	body string
}

func (b benchRetryAfter) Error() string {
	return fmt.Sprintf("POST /v1/events: 503, retry after %s: %.300s", b.wait, b.body)
}

func benchPostOnce(ctx context.Context, bl *benchLedger, tok string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, bl.base+"/v1/events", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := bl.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusServiceUnavailable {
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return benchRetryAfter{time.Duration(max(secs, 1)) * time.Second, string(raw)}
	}
	if resp.StatusCode != http.StatusOK {
		var a benchBatchAnswer
		if json.Unmarshal(raw, &a) == nil && a.Rejected > 0 {
			for _, r := range a.Results {
				if r.Status == "rejected" {
					return fmt.Errorf("POST /v1/events: %s: %d rejected, first: %s: %s", resp.Status, a.Rejected, r.Field, r.Error)
				}
			}
		}
		return fmt.Errorf("POST /v1/events: %s: %.300s", resp.Status, raw)
	}
	return nil
}

// benchNATSIngest opens a second, fresh ledger whose embedded server listens on a loopback
// port, and publishes every envelope straight to ledger.events.<type> over TCP with its
// Nats-Msg-Id (CONTRACT.md §4), as a producer would; then waits for every view.
func benchNATSIngest(ctx context.Context, dataDir string, data *benchData, log *slog.Logger, progress io.Writer) (benchIngestResult, error) {
	var res benchIngestResult
	cfg := node.Config{DataDir: dataDir, NATSAddr: "127.0.0.1:0", Region: "US", Replicas: 1}
	l, err := node.Open(ctx, cfg, log, node.Options{Listen: true})
	if err != nil {
		return res, err
	}
	pctx, stopProjectors := context.WithCancel(ctx)
	projDone := make(chan struct{})
	go func() { defer close(projDone); _ = l.RunProjectors(pctx) }()
	defer func() {
		stopProjectors()
		<-projDone
		l.Close()
	}()
	producer, err := l.Store().ProducerURL()
	if err != nil {
		return res, err
	}
	nc, err := nats.Connect(producer, nats.Name("bench-producer"))
	if err != nil {
		return res, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(2*benchInFlight))
	if err != nil {
		return res, err
	}
	start := time.Now()
	anc, err := l.Store().Connect(nats.Name("bench-directory"))
	if err != nil {
		return res, err
	}
	defer anc.Close()
	ajs, err := jetstream.New(anc)
	if err != nil {
		return res, err
	}
	failed, err := benchPublishAll(ctx, js, ajs, data)
	if err != nil {
		return res, fmt.Errorf("nats ingest: %w", err)
	}
	if failed > 0 {
		return res, fmt.Errorf("nats ingest: %d publishes failed", failed)
	}
	res.acked = time.Since(start)
	fmt.Fprintf(progress, "bench: NATS publish acked by the stream in %s\n", res.acked.Round(time.Millisecond))
	return res, res.settle(ctx, start, l.Status, uint64(data.unique), progress)
}

// benchReplayResult is one view's rebuild.
type benchReplayResult struct {
	view     string
	messages uint64 // the view's checkpoint after the rebuild
	took     time.Duration
	bytes    int64 // the rebuilt file
}

// benchReplayAll rebuilds every view of the (stopped) ledger in dataDir from its stream
// as `ledger replay` does (projections.ReplayAll: one read of each stream for all its
// views), and swaps the rebuilt files in (they answer the same); it returns each view's
// own time and the wall time of the whole.
func benchReplayAll(ctx context.Context, dataDir string, log *slog.Logger) ([]benchReplayResult, time.Duration, error) {
	l, err := node.Open(ctx, node.Config{DataDir: dataDir, Region: "US", Replicas: 1}, log, node.Options{})
	if err != nil {
		return nil, 0, err
	}
	defer l.Close()
	views := l.Views()
	start := time.Now()
	done, err := projections.ReplayAll(ctx, views, nil)
	took := time.Since(start)
	out := make([]benchReplayResult, len(done))
	for i, d := range done {
		out[i] = benchReplayResult{view: d.View, messages: d.Checkpoint, took: d.Took, bytes: views[i].DB().Size()}
	}
	return out, took, err
}

// benchPostAll POSTs every envelope as NDJSON batches of batchSize with clients
// concurrent clients, until each batch is answered 200 (the ledger, its peer, or the
// nodes of a cluster: client c posts to targets[c mod len(targets)], as producers behind
// a load balancer would).
func benchPostAll(ctx context.Context, targets []*benchLedger, data *benchData, ingestTok string, clients, batchSize int) error {
	bodies := make(chan []byte, clients)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, clients)
	for c := range clients {
		wg.Go(func() {
			for body := range bodies {
				if errs[c] != nil {
					continue
				}
				if err := benchPostBatch(ctx, targets[c%len(targets)], ingestTok, body); err != nil {
					errs[c] = err
					cancel()
				}
			}
		})
	}
	var buf bytes.Buffer
	n := 0
	flush := func() {
		if n == 0 {
			return
		}
		body := bytes.Clone(buf.Bytes())
		buf.Reset()
		n = 0
		select {
		case bodies <- body:
		case <-ctx.Done():
		}
	}
	rerr := data.each(false, func(_, _ string, b []byte) error {
		buf.Write(b)
		buf.WriteByte('\n')
		if n++; n == batchSize {
			flush()
		}
		return ctx.Err()
	})
	flush()
	close(bodies)
	wg.Wait()
	if err := errors.Join(append(errs, rerr)...); err != nil {
		return fmt.Errorf("http ingest: %w", err)
	}
	return nil
}

// writeHeapProfile writes the heap in use after a collection: what the process holds
// while the views catch up, the bench client's share included.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("memprofile: %w", err)
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("memprofile: %w", err)
	}
	return f.Close()
}
