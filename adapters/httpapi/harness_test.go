package httpapi_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/httpapi"
	"github.com/interaction-ledger/ledger/adapters/httpapi/apitest"
	"github.com/interaction-ledger/ledger/adapters/ingest"
	"github.com/interaction-ledger/ledger/adapters/viewsource"
	"github.com/interaction-ledger/ledger/eventstore/storetest"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/directory"
	"github.com/interaction-ledger/ledger/projections/history"
	"github.com/interaction-ledger/ledger/projections/timeline"
)

const testSecret = "test-secret-0123456789abcdef0123456789"

// node is the API over the real parts: an embedded JetStream, the three bbolt views fed
// by their projectors, and the HTTP server on loopback.
type node struct {
	t        *testing.T
	url      string
	dir      *directory.View
	histDB   *projections.DB
	tlDB     *projections.DB
	verifier *auth.Verifier
}

func startNode(t *testing.T) *node {
	t.Helper()
	store := storetest.Open(t, "")
	log := slog.New(slog.DiscardHandler)
	open := func(name string) *projections.DB {
		db, err := projections.OpenDB(filepath.Join(t.TempDir(), name+".db"), projections.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := db.Close(); err != nil {
				t.Errorf("close %s: %v", name, err)
			}
		})
		return db
	}
	dirDB, histDB, tlDB := open("directory"), open("history"), open("timeline")
	dir, hist, tl := directory.New(dirDB), history.New(histDB, history.Options{Region: "US"}), timeline.New(tlDB)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, pv := range []struct {
		v  projections.View
		db *projections.DB
	}{{dir, dirDB}, {hist, histDB}, {tl, tlDB}} {
		p, err := projections.NewProjector(projections.ProjectorConfig{View: pv.v, DB: pv.db,
			Source: viewsource.New(store, 0), DeadLetters: viewsource.New(store, 0), Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Run(ctx); err != nil {
				t.Errorf("projector %s: %v", pv.v.Name(), err)
			}
		}()
	}
	verifier, err := auth.NewVerifier(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(httpapi.Config{
		Verifier: verifier, Ingest: ingest.New(store, nil, ingest.Observer{}), Directory: dir, History: hist,
		Timeline: tl, TimelineDB: tlDB, HistoryDB: histDB, Logger: log,
	}))
	// Cleanups run last-in first-out: the server and the projectors stop before the
	// files and the store close.
	t.Cleanup(func() {
		srv.Close()
		cancel()
		wg.Wait()
	})
	return &node{t: t, url: srv.URL, dir: dir, histDB: histDB, tlDB: tlDB, verifier: verifier}
}

func token(t testing.TB, sub string, scopes ...string) string {
	t.Helper()
	return apitest.Token(t, testSecret, sub, scopes...)
}

// do sends a request (apitest.Client.Do).
func (n *node) do(method, path, tok string, body, out any) int {
	n.t.Helper()
	return apitest.Client{T: n.t, BaseURL: n.url}.Do(method, path, tok, body, out)
}

// post posts events with tok and returns the code and the per-event results.
func (n *node) post(tok string, evs ...map[string]any) (int, []ingest.Outcome) {
	n.t.Helper()
	var resp struct{ Results []ingest.Outcome }
	code := n.do("POST", "/v1/events", tok, evs, &resp)
	return code, resp.Results
}

// settle waits until the history and timeline views applied every accepted outcome.
func (n *node) settle(outcomes []ingest.Outcome) {
	n.t.Helper()
	var last uint64
	for _, o := range outcomes {
		last = max(last, o.Seq)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for _, db := range []*projections.DB{n.histDB, n.tlDB} {
		if err := db.WaitCheckpoint(ctx, last); err != nil {
			n.t.Fatalf("views did not reach sequence %d: %v", last, err)
		}
	}
}
