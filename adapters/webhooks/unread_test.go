package webhooks_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/adapters/webhooks/asterisk"
	"github.com/interaction-ledger/ledger/adapters/webhooks/freeswitch"
	"github.com/interaction-ledger/ledger/adapters/webhooks/metahub"
	"github.com/interaction-ledger/ledger/adapters/webhooks/sendgrid"
	"github.com/interaction-ledger/ledger/adapters/webhooks/telegram"
	"github.com/interaction-ledger/ledger/adapters/webhooks/twilio"
	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
	"github.com/interaction-ledger/ledger/adapters/webhooks/whatsapp"
)

const (
	unreadCDRToken = "cdr-token-7f3a9c1e5b2d"
	unreadTGSecret = "ledger_tg-5f0c2a9e71b4"
	// unreadIssuedKey stands for the HMAC keys providers issue (32 hex characters).
	unreadIssuedKey = "9f86d081884c7d659a2feaa0c55ad015"
	// stalledPrefix is what a stalling sender writes of its body before it stops.
	stalledPrefix = 512
	// largeBody is just under every header-only provider's MaxBody (1 MiB), so that only
	// the signature decides.
	largeBody = 1<<20 - 1
	// answerBound is how long a test waits for an answer before it fails instead of
	// hanging: it bounds a liveness check, it measures nothing.
	answerBound = 30 * time.Second
)

// bodyMode is how a raw request sends its body.
type bodyMode int

const (
	// stalledLength declares a large Content-Length, sends a few bytes and stops.
	stalledLength bodyMode = iota
	// stalledChunked sends one small chunk of a chunked body and stops.
	stalledChunked
	// whole sends the whole body with its Content-Length.
	whole
)

func (m bodyMode) String() string {
	return [...]string{"stalled body with Content-Length", "stalled chunked body", "whole body"}[m]
}

// requestIDHeader names each raw request, so that countingServer can tell which request
// read what even when one of them is never answered.
const requestIDHeader = "X-Test-Request"

// countingServer serves h over real HTTP on loopback; read(id) waits until the request
// sent with requestIDHeader id is handled, and tells how many bytes of its body the
// handler read through r.Body.
func countingServer(t *testing.T, h http.Handler) (addr string, read func(id string) int64) {
	t.Helper()
	var mu sync.Mutex
	counts := map[string]chan int64{}
	countOf := func(id string) chan int64 {
		mu.Lock()
		defer mu.Unlock()
		if counts[id] == nil {
			counts[id] = make(chan int64, 1)
		}
		return counts[id]
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The handler gets a copy, so net/http still sees its own body type when it
		// decides whether to drain what the handler left.
		cr := &countingReader{r: r.Body}
		r2 := r.WithContext(r.Context())
		r2.Body = cr
		h.ServeHTTP(w, r2)
		countOf(r.Header.Get(requestIDHeader)) <- cr.n.Load()
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), func(id string) int64 { return <-countOf(id) }
}

type countingReader struct {
	r io.ReadCloser
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }

// sendRaw writes a POST to path over a new connection, its body sent as mode says (body
// is the whole body for whole; the stalled modes send filler), and returns the answer.
// A stalled body is never finished: the connection stays open until the test ends. No
// answer within answerBound fails the test.
func sendRaw(t *testing.T, addr, path string, header http.Header, mode bodyMode, body []byte) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(answerBound)); err != nil {
		t.Fatal(err)
	}
	var head bytes.Buffer
	fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: %s\r\n%s: %s\r\n", path, addr, requestIDHeader, t.Name())
	if err := header.Write(&head); err != nil {
		t.Fatal(err)
	}
	filler := bytes.Repeat([]byte{' '}, stalledPrefix)
	switch mode {
	case stalledLength:
		fmt.Fprintf(&head, "Content-Length: %d\r\n\r\n", largeBody)
		head.Write(filler)
	case stalledChunked:
		fmt.Fprintf(&head, "Transfer-Encoding: chunked\r\n\r\n%x\r\n", len(filler))
		head.Write(filler)
		head.WriteString("\r\n")
	case whole:
		fmt.Fprintf(&head, "Content-Length: %d\r\n\r\n", len(body))
	}
	if _, err := conn.Write(head.Bytes()); err != nil {
		t.Fatal(err)
	}
	if mode == whole {
		// A server that refuses without reading closes the connection, so this write
		// may fail: only the answer matters.
		go func() { _, _ = conn.Write(body) }()
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("no answer within %s while the %s was unfinished: the handler waits for the body", answerBound, mode)
	}
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func unreadHandler(t *testing.T) http.Handler {
	t.Helper()
	ast, err := asterisk.New(asterisk.Config{Token: unreadCDRToken})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := freeswitch.New(freeswitch.Config{Token: unreadCDRToken})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := telegram.New(telegram.Config{SecretToken: unreadTGSecret})
	if err != nil {
		t.Fatal(err)
	}
	wa, err := whatsapp.New(whatsapp.Config{App: metahub.App{AppSecret: unreadIssuedKey}})
	if err != nil {
		t.Fatal(err)
	}
	tw, err := twilio.New(twilio.Config{AuthToken: unreadIssuedKey, PublicURL: "https://ledger.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	_, pub := webhookstest.SendGridKey(t)
	sg, err := sendgrid.New(sendgrid.Config{PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	app, _ := webhookstest.Capture()
	fake := okProvider(t) // body-signed: declares MaxBody 16
	h := webhooks.NewHandler(app, nil, ast, fs, tg, wa, tw, sg, fake)
	h.Now = func() time.Time { return now }
	mux := http.NewServeMux()
	mux.Handle("POST /v1/webhooks/{provider}", h)
	return mux
}

// TestHeaderOnlySchemesRefuseBeforeReadingTheBody: a request whose bearer, Basic or
// Telegram token is wrong or missing is answered 401 without the handler reading a byte
// of its body, whether the body is whole, stalled after a few bytes with a large
// Content-Length, or stalled mid-chunk; so an unauthenticated sender cannot make the
// ledger read and hold 1 MiB bodies. The same holds for an unknown provider (404) and a
// declared length over the provider's MaxBody (413), and a right token still has its body
// read (the counter counts).
func TestHeaderOnlySchemesRefuseBeforeReadingTheBody(t *testing.T) {
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	refusals := []struct {
		name   string
		path   string
		header http.Header
		code   int
	}{
		{"asterisk, wrong bearer", "/v1/webhooks/asterisk", http.Header{"Authorization": {"Bearer guess-guess-guess-guess"}}, 401},
		{"asterisk, no Authorization", "/v1/webhooks/asterisk", http.Header{}, 401},
		{"freeswitch, wrong Basic password", "/v1/webhooks/freeswitch", http.Header{"Authorization": {basic("freeswitch", "guess")}}, 401},
		{"telegram, wrong secret token", "/v1/webhooks/telegram", http.Header{telegram.SecretHeader: {"guess_guess_guess_guess"}}, 401},
		{"telegram, no secret token", "/v1/webhooks/telegram", http.Header{}, 401},
		{"unknown provider", "/v1/webhooks/nope", http.Header{}, 404},
		{"body-signed provider, declared length over MaxBody", "/v1/webhooks/fake", http.Header{"X-Sig": {"good"}}, 413},
	}
	addr, read := countingServer(t, unreadHandler(t))
	big := bytes.Repeat([]byte{' '}, largeBody)
	for _, tt := range refusals {
		for _, mode := range []bodyMode{stalledLength, stalledChunked, whole} {
			if tt.code == 413 && mode == stalledChunked {
				continue // a chunked body declares no length
			}
			t.Run(tt.name+", "+mode.String(), func(t *testing.T) {
				resp := sendRaw(t, addr, tt.path, tt.header, mode, big)
				if resp.StatusCode != tt.code {
					t.Fatalf("got %d, want %d", resp.StatusCode, tt.code)
				}
				if n := read(t.Name()); n != 0 {
					t.Errorf("the handler read %d bytes of the body before refusing, want none", n)
				}
			})
		}
	}

	accepted := []struct {
		name   string
		path   string
		header http.Header
		body   string
	}{
		{"asterisk, right bearer", "/v1/webhooks/asterisk", http.Header{"Authorization": {"Bearer " + unreadCDRToken}}, "[]"},
		{"freeswitch, right Basic password", "/v1/webhooks/freeswitch", http.Header{"Authorization": {basic("freeswitch", unreadCDRToken)}}, `{"variables":{}}`},
		{"telegram, right secret token", "/v1/webhooks/telegram", http.Header{telegram.SecretHeader: {unreadTGSecret}}, `{"update_id":1}`},
	}
	for _, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			resp := sendRaw(t, addr, tt.path, tt.header, whole, []byte(tt.body))
			if n := read(t.Name()); n != int64(len(tt.body)) {
				t.Errorf("the handler read %d bytes of the body, want all %d", n, len(tt.body))
			}
			// Past the token, the body decides: the answer is not a refusal of the token.
			if resp.StatusCode == http.StatusUnauthorized {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("got 401 with the right token: %s", strings.TrimSpace(string(b)))
			}
		})
	}
}

// TestBodySignedSchemesRefuseBadHeadersUnread: a body-signing provider (Meta, Twilio,
// SendGrid) refuses, before reading the body, a request whose signature header is
// missing or malformed or whose signed timestamp is stale; a well-formed signature still
// has the body read, since only the body can prove it wrong.
func TestBodySignedSchemesRefuseBadHeadersUnread(t *testing.T) {
	stale := strconv.FormatInt(now.Add(-webhooks.MaxSignatureAge-time.Minute).Unix(), 10)
	fresh := strconv.FormatInt(now.Unix(), 10)
	wellFormedMeta := webhookstest.MetaSignature("not-the-secret", []byte("{}"))
	tests := []struct {
		name     string
		path     string
		header   http.Header
		bodyRead bool
	}{
		{"whatsapp, no signature", "/v1/webhooks/whatsapp", http.Header{}, false},
		{"whatsapp, signature not sha256=hex", "/v1/webhooks/whatsapp", http.Header{"X-Hub-Signature-256": {"sha1=abc"}}, false},
		{"twilio, no signature", "/v1/webhooks/twilio", http.Header{}, false},
		{"twilio, signature not base64 HMAC-SHA1", "/v1/webhooks/twilio", http.Header{"X-Twilio-Signature": {"abc"}}, false},
		{"sendgrid, no signature", "/v1/webhooks/sendgrid", http.Header{sendgrid.TimestampHeader: {fresh}}, false},
		{"sendgrid, stale timestamp", "/v1/webhooks/sendgrid", http.Header{sendgrid.SignatureHeader: {"MEUCIQ=="}, sendgrid.TimestampHeader: {stale}}, false},
		{"whatsapp, well-formed wrong signature", "/v1/webhooks/whatsapp", http.Header{"X-Hub-Signature-256": {wellFormedMeta}}, true},
	}
	addr, read := countingServer(t, unreadHandler(t))
	const body = "{}"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := sendRaw(t, addr, tt.path, tt.header, whole, []byte(body))
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("got %d, want 401", resp.StatusCode)
			}
			n := read(t.Name())
			if want := map[bool]int64{false: 0, true: int64(len(body))}[tt.bodyRead]; n != want {
				t.Errorf("the handler read %d bytes of the body, want %d", n, want)
			}
		})
	}
}
