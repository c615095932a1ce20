package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/interaction-ledger/ledger/adapters/audit"
	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/httpapi"
	"github.com/interaction-ledger/ledger/adapters/httpapi/apitest"
	"github.com/interaction-ledger/ledger/adapters/ingest"
	"github.com/interaction-ledger/ledger/adapters/viewsource"
	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/eventstore/storetest"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/directory"
	"github.com/interaction-ledger/ledger/projections/history"
	"github.com/interaction-ledger/ledger/projections/timeline"
)

// api is the HTTP API over a real event store and real view files, with their projectors
// running, as `ledger serve` wires it (cmd/ledger/serve.go), on an httptest server.
type api struct {
	url   string
	store *eventstore.Store
	views map[string]*projections.DB
	hist  *history.View
	dir   *directory.View
	// directory counts the directory records posted: the directory stream, sourced from
	// LEDGER asynchronously, holds exactly these.
	directory uint64
}

// opsFake answers the ops endpoints with fixed values (the running node is cmd/ledger's).
type opsFake struct{}

func (opsFake) Status(*http.Request) (any, error) { return map[string]any{"ok": true}, nil }
func (opsFake) DeadLetters(_ *http.Request, after uint64, limit int) (any, uint64, error) {
	return []map[string]uint64{{"after": after, "limit": uint64(limit)}}, after + uint64(limit), nil
}
func (opsFake) Rebuild(_ *http.Request, view string) (any, error) {
	return map[string]string{"view": view}, nil
}

func startAPI(t testing.TB) *api {
	t.Helper()
	return startAPIWith(t, apiOptions{})
}

// apiOptions is what startAPIWith changes from startAPI.
type apiOptions struct {
	noAudit bool // no read audit: the audit benchmark's baseline
	// unchecked serves the API without the OpenAPI check of every request and answer
	// (apitest.Validator), as `ledger serve` does: a benchmark of the API measures the
	// API, and the check is two thirds of BenchmarkListAudit's CPU time.
	unchecked bool
	tune      func(*httpapi.Config) // changes the API's configuration, if not nil
}

// startAPIWith is startAPI changed by opts.
func startAPIWith(t testing.TB, opts apiOptions) *api {
	t.Helper()
	dir := t.TempDir()
	store := storetest.Open(t, dir)
	a := &api{store: store, views: map[string]*projections.DB{}}
	open := func(name string) *projections.DB {
		db, err := projections.OpenDB(filepath.Join(dir, name+".db"), projections.Options{})
		if err != nil {
			t.Fatalf("open view %s: %v", name, err)
		}
		t.Cleanup(func() { db.Close() })
		a.views[name] = db
		return db
	}
	dirView := directory.New(open(directory.Name))
	hist := history.New(open(history.Name), history.Options{Region: "US"})
	tl := timeline.New(open(timeline.Name))
	src := viewsource.New(store, 0)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, v := range []projections.View{dirView, hist, tl} {
		p, err := projections.NewProjector(projections.ProjectorConfig{View: v, DB: a.views[v.Name()], Source: src, DeadLetters: src,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("projector %s: %v", v.Name(), err)
		}
		wg.Go(func() {
			if err := p.Run(ctx); err != nil {
				t.Errorf("projector %s: %v", v.Name(), err)
			}
		})
	}
	verifier, err := auth.NewVerifier(testSecret)
	if err != nil {
		t.Fatalf("verifier: %v", err)
	}
	var rec *audit.Recorder
	if !opts.noAudit {
		if rec, err = audit.NewRecorder(audit.Config{Store: store, Logger: slog.New(slog.DiscardHandler)}); err != nil {
			t.Fatalf("audit recorder: %v", err)
		}
		wg.Go(func() { _ = rec.Run(ctx) })
	}
	cfg := httpapi.Config{
		Verifier: verifier, Ingest: ingest.New(store, nil, ingest.Observer{}), Directory: dirView, History: hist,
		Timeline: tl, TimelineDB: a.views[timeline.Name], HistoryDB: a.views[history.Name], Ops: opsFake{}, Logger: slog.New(slog.DiscardHandler),
		Audit: rec, AccessLog: audit.NewLog(store, nil),
	}
	if opts.tune != nil {
		opts.tune(&cfg)
	}
	var h http.Handler = httpapi.New(cfg)
	if !opts.unchecked {
		h = apitest.NewValidator(t).Handler(t, h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); cancel(); wg.Wait() })
	a.url, a.hist, a.dir = srv.URL, hist, dirView
	return a
}

// do sends a request and decodes a JSON answer into out (if not nil); it returns the code.
func (a *api) do(t testing.TB, method, path, tok, contentType, body string, out any) int {
	t.Helper()
	hdr := map[string]string{}
	if contentType != "" {
		hdr["Content-Type"] = contentType
	}
	code, _, b := a.request(t, method, path, tok, body, hdr)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	return code
}

// request sends a request with tok (unless empty) and the headers hdr, and returns the
// answer's code, headers and body.
func (a *api) request(t testing.TB, method, path, tok, body string, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	resp := a.send(t, method, path, tok, body, hdr)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, b
}

// send sends a request with tok (unless empty) and the headers hdr, and returns the
// answer unread, for a caller that must not wait for its end (a stream), which closes
// the body.
func (a *api) send(t testing.TB, method, path, tok, body string, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, a.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// ev is one envelope of type typ, minutesAgo, for customer (none for directory records).
func ev(typ, customer string, minutesAgo int, data map[string]any) map[string]any {
	e := map[string]any{"id": uuid.NewString(), "type": typ, "occurred_at": apitest.Ago(minutesAgo).Format(time.RFC3339Nano),
		"source": "test", "data": data}
	if customer != "" {
		e["customer_id"] = customer
	}
	return e
}

// post sends envs as one JSON array through POST /v1/events and fails on any rejection.
func (a *api) post(t testing.TB, envs ...map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(envs); err != nil {
		t.Fatal(err)
	}
	for _, e := range envs {
		if strings.HasPrefix(e["type"].(string), "directory.") {
			a.directory++
		}
	}
	var out struct{ Rejected int }
	if code := a.do(t, "POST", "/v1/events", token(t, "producer", auth.ScopeIngest, auth.ScopeDirectoryWrite), "application/json", buf.String(), &out); code != http.StatusOK || out.Rejected != 0 {
		t.Fatalf("post fixture: code %d, %d rejected", code, out.Rejected)
	}
}

// caughtUp waits until every view applied its stream up to the last sequence posted.
func (a *api) caughtUp(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for name, db := range a.views {
		var last uint64
		var err error
		if name == directory.Name {
			last = a.directory
		} else if last, err = a.store.LastSeq(ctx, eventstore.StreamEvents); err != nil {
			t.Fatalf("last seq: %v", err)
		}
		if err := db.WaitCheckpoint(ctx, last); err != nil {
			t.Fatalf("view %s did not reach seq %d: %v", name, last, err)
		}
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
