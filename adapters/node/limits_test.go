package node

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/node/nodetest"
)

// dialHTTP opens a raw connection to the instance.
func dialHTTP(t *testing.T, in *instance) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(in.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer reports whether the server closed c within d (a read returns EOF or a
// reset, rather than timing out on our side).
func closedByServer(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.ReadAll(c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// TestHTTPLimits: a client that sends part of a body and stalls, or keeps an idle
// keep-alive connection, loses it instead of holding it (the defaults are 15 s and 60 s;
// shortened here).
func TestHTTPLimits(t *testing.T) {
	in := startLedgerWith(t, Config{HTTP: HTTPLimits{ReadTimeout: 500 * time.Millisecond, IdleTimeout: 500 * time.Millisecond}})

	stalled := dialHTTP(t, in)
	// A handler that reads the body as it comes (ingest): without a read timeout it
	// would wait for the rest for ever.
	fmt.Fprintf(stalled, "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/x-ndjson\r\nContent-Length: 1048575\r\n\r\n%s",
		token(t, "svc", auth.ScopeIngest), `{"type":"note.added",`)
	if !closedByServer(stalled, 10*time.Second) {
		t.Error("a stalled request body still holds its connection")
	}

	idle := dialHTTP(t, in)
	fmt.Fprintf(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if !closedByServer(idle, 10*time.Second) {
		t.Error("an idle keep-alive connection was not closed")
	}
}

// TestMetricsPlacement: /metrics can ask for the ops scope, or move to an address of
// its own.
func TestMetricsPlacement(t *testing.T) {
	get := func(in *instance, url, tok string) int {
		req, _ := http.NewRequest("GET", url, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := in.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	t.Run("ops scope", func(t *testing.T) {
		in := startLedgerWith(t, Config{MetricsOps: true})
		for _, tc := range []struct {
			tok  string
			want int
		}{{"", 401}, {token(t, "ann", auth.ScopeHistoryRead), 403}, {token(t, "prom", auth.ScopeOps), 200}} {
			if got := get(in, in.base+"/metrics", tc.tok); got != tc.want {
				t.Errorf("/metrics = %d, want %d", got, tc.want)
			}
		}
	})
	t.Run("own address", func(t *testing.T) {
		addr := nodetest.FreeAddr(t)
		in := startLedgerWith(t, Config{MetricsAddr: addr})
		if got := get(in, in.base+"/metrics", ""); got != 404 {
			t.Errorf("/metrics on the API address = %d, want 404", got)
		}
		if got := get(in, "http://"+addr+"/metrics", ""); got != 200 {
			t.Errorf("/metrics on its own address = %d, want 200", got)
		}
	})
}

// TestShutdownAbandonsARebuild: shutdown cancels an online rebuild in progress within
// its bound, and the old file keeps what it served.
func TestShutdownAbandonsARebuild(t *testing.T) {
	dir := t.TempDir()
	in := startLedgerWith(t, Config{DataDir: dir, ShutdownGrace: time.Second, StopBound: 5 * time.Second})
	postFixture(t, in)
	waitVisible(t, in)
	before := answers(t, in)
	ops := token(t, "op", auth.ScopeOps)
	for i := range 5 {
		if code := in.do("POST", "/v1/admin/views/history/rebuild", ops, nil, nil); code != 202 && code != 409 && code != 400 {
			t.Fatalf("rebuild %d = %d", i, code)
		}
	}
	stopped := make(chan struct{})
	go func() { in.stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(15 * time.Second):
		t.Fatal("the node did not stop within its bound (1 s grace + 5 s)")
	}
	in = startLedger(t, dir)
	waitVisible(t, in)
	if after := answers(t, in); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Error("answers changed across a shutdown during a rebuild")
	}
}
