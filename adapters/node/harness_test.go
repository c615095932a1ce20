package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/httpapi/apitest"
	"github.com/interaction-ledger/ledger/adapters/node/nodetest"
)

const testSecret = nodetest.Secret

// instance is one in-process `ledger serve` on loopback with its own data directory.
type instance struct {
	t      testing.TB
	cfg    Config
	base   string
	client *http.Client // holds every request and answer to the OpenAPI document
	cancel context.CancelFunc
	done   chan error
}

// startLedger serves a ledger over dataDir (a new temp dir when empty) on a free
// loopback port, with an in-process (non-listening) embedded NATS, and stops it on cleanup.
func startLedger(t testing.TB, dataDir string) *instance {
	t.Helper()
	return startLedgerWith(t, Config{DataDir: dataDir})
}

// startLedgerWith is startLedger with more of the configuration set.
func startLedgerWith(t testing.TB, cfg Config) *instance {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.HTTPAddr, cfg.AuthSecret, cfg.Region, cfg.Replicas = "127.0.0.1:0", testSecret, "US", 1
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan string, 1)
	in := &instance{t: t, cfg: cfg, cancel: cancel, done: make(chan error, 1),
		client: apitest.NewValidator(t).HTTPClient(t)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	go func() { in.done <- Serve(ctx, cfg, log, io.Discard, started) }()
	select {
	case addr := <-started:
		in.base = "http://" + addr
	case err := <-in.done:
		t.Fatalf("ledger did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("ledger did not start within 30s")
	}
	t.Cleanup(in.stop)
	return in
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

// stop shuts the ledger down gracefully and waits for it; safe to call twice.
func (in *instance) stop() {
	if in.cancel == nil {
		return
	}
	in.cancel()
	in.cancel = nil
	select {
	case err := <-in.done:
		if err != nil {
			in.t.Errorf("ledger stopped with error: %v", err)
		}
	case <-time.After(20 * time.Second):
		in.t.Error("ledger did not stop within 20s")
	}
}

func token(t testing.TB, sub string, scopes ...string) string {
	t.Helper()
	return nodetest.Token(t, sub, scopes...)
}

func (in *instance) do(method, path, tok string, body any, out any) int {
	in.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			in.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, in.base+path, rd)
	if err != nil {
		in.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := in.client.Do(req)
	if err != nil {
		in.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			in.t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

func eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	nodetest.Eventually(t, what, cond)
}

func ev(typ, customer string, minutesAgo int, data map[string]any) map[string]any {
	return nodetest.Ev(typ, customer, minutesAgo, data)
}

type listPage = nodetest.ListPage

func fmtIDs(ids []string) string { return fmt.Sprint(ids) }

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	return nodetest.MustJSON(t, v)
}
