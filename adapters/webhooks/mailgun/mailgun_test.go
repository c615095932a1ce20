package mailgun_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/adapters/webhooks/mailgun"
	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
)

const (
	signingKey = "key-3f7a9c1e5b2d4f6081a3c5e7092b4d6f" // as Mailgun issues
	path       = "/v1/webhooks/mailgun"
)

var now = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func newHandler(t *testing.T, app webhooks.Appender) http.Handler {
	t.Helper()
	p, err := mailgun.New(mailgun.Config{SigningKey: signingKey})
	if err != nil {
		t.Fatal(err)
	}
	return webhookstest.Handler(app, now, p)
}

// resign replaces the recorded payload's signature object with one made with key at ts
// (the recorded token is kept).
func resign(t *testing.T, body []byte, key string, ts time.Time) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	var sig struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(m["signature"], &sig); err != nil {
		t.Fatal(err)
	}
	stamp := strconv.FormatInt(ts.Unix(), 10)
	m["signature"], _ = json.Marshal(map[string]string{"timestamp": stamp, "token": sig.Token,
		"signature": hex.EncodeToString(mailgun.Sign(key, stamp, sig.Token))})
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func post(body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// wantEvent is one row of the expected events.
type wantEvent = webhookstest.WantJSON

func TestTranslateRecorded(t *testing.T) {
	const msg = "20261121091403.000be97f99f8cea1@mg.example.com"
	const failedMsg = "20261121092041.1c2d3e4f5a6b7c8d@mg.example.com"
	started := func(id, email string) string {
		return `{"interaction_id":"` + id + `","flow":"email","direction":"outgoing","routing":"direct","contact":{"email":"` + email + `"}}`
	}
	tests := []struct {
		file string
		want []wantEvent
	}{
		{"accepted.json", []wantEvent{{"interaction.started", webhooks.EventID("mailgun", msg, "CCXMjJ7nQi2N3BPigGOdgQ"),
			time.Unix(1795252443, 372891000), "cust-42",
			`{"interaction_id":"` + msg + `","flow":"email","direction":"outgoing","routing":"direct","contact":{"email":"jane.doe@example.com"}}`}}},
		{"delivered.json", webhookstest.AfterInferred("mailgun", started(msg, "jane.doe@example.com"), wantEvent{"interaction.ended",
			webhooks.EventID("mailgun", msg, "MXcc2gEpS-eN8HfkOnmK2w"), time.Unix(1795252445, 500000000), "cust-42",
			`{"interaction_id":"` + msg + `","status":"delivered"}`})},
		{"failed_permanent.json", webhookstest.AfterInferred("mailgun", started(failedMsg, "nobody@example.org"), wantEvent{"interaction.ended",
			webhooks.EventID("mailgun", failedMsg, "G9Bn5sl1TC6nu79C8C0bwg"), time.Unix(1795252841, 250000000), "mailto:nobody@example.org",
			`{"interaction_id":"` + failedMsg + `","status":"warning","reason":"550 5.1.1 The email account that you tried to reach does not exist."}`})},
		{"failed_temporary.json", nil},
		{"opened.json", webhookstest.AfterInferred("mailgun", started(msg, "jane.doe@example.com"), wantEvent{"email.opened",
			webhooks.EventID("mailgun", msg, "Ase7i2zsRYeDXztHGENqRA"), time.Unix(1795253460, 0), "cust-42",
			`{"interaction_id":"` + msg + `"}`})},
		{"clicked.json", webhookstest.AfterInferred("mailgun", started(msg, "jane.doe@example.com"), wantEvent{"email.clicked",
			webhooks.EventID("mailgun", msg, "Bq2X9pN4Tq-8fYzL1mKc3w"), time.Unix(1795253520, 118000000), "cust-42",
			`{"interaction_id":"` + msg + `","url":"https://shop.example.com/orders/1234?utm_source=mailgun"}`})},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			app, got := webhookstest.Capture()
			w := httptest.NewRecorder()
			newHandler(t, app).ServeHTTP(w, post(resign(t, webhookstest.Load(t, tt.file), signingKey, now.Add(-time.Minute))))
			if w.Code != http.StatusOK {
				t.Fatalf("code %d, body %s", w.Code, w.Body)
			}
			if len(*got) != len(tt.want) {
				t.Fatalf("got %d events, want %d", len(*got), len(tt.want))
			}
			for i, want := range tt.want {
				g := (*got)[i]
				if g.Type.String() != want.Type || g.ID != want.ID || !g.OccurredAt.Equal(want.OccurredAt) || g.CustomerID != want.CustomerID || g.Source != "mailgun" {
					t.Errorf("got %s %s %s %s, want %s %s %s %s", g.Type, g.ID, g.OccurredAt, g.CustomerID,
						want.Type, want.ID, want.OccurredAt, want.CustomerID)
				}
				var gd, wd map[string]any
				_ = json.Unmarshal(g.Data, &gd)
				_ = json.Unmarshal([]byte(want.Data), &wd)
				if !reflect.DeepEqual(gd, wd) {
					t.Errorf("data: got %s, want %s", g.Data, want.Data)
				}
			}
		})
	}
}

func TestSignatureMatrix(t *testing.T) {
	body := webhookstest.Load(t, "delivered.json")
	tests := []struct {
		name string
		body func() []byte
		code int
	}{
		{"valid", func() []byte { return resign(t, body, signingKey, now.Add(-time.Hour)) }, http.StatusOK},
		{"missing", func() []byte {
			var m map[string]json.RawMessage
			_ = json.Unmarshal(body, &m)
			delete(m, "signature")
			b, _ := json.Marshal(m)
			return b
		}, http.StatusUnauthorized},
		{"recorded placeholder", func() []byte { return body }, http.StatusUnauthorized},
		{"wrong secret", func() []byte { return resign(t, body, "another-key", now) }, http.StatusUnauthorized},
		{"tampered token", func() []byte {
			return []byte(strings.Replace(string(resign(t, body, signingKey, now)), `"token":"b2e0`, `"token":"b2e1`, 1))
		}, http.StatusUnauthorized},
		{"tampered timestamp", func() []byte {
			signed := string(resign(t, body, signingKey, now))
			stamp := strconv.FormatInt(now.Unix(), 10)
			return []byte(strings.Replace(signed, stamp, strconv.FormatInt(now.Unix()-1, 10), 1))
		}, http.StatusUnauthorized},
		{"stale", func() []byte { return resign(t, body, signingKey, now.Add(-webhooks.MaxSignatureAge-time.Second)) }, http.StatusUnauthorized},
		{"future", func() []byte { return resign(t, body, signingKey, now.Add(time.Hour)) }, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, got := webhookstest.Capture()
			w := httptest.NewRecorder()
			newHandler(t, app).ServeHTTP(w, post(tt.body()))
			if w.Code != tt.code {
				t.Fatalf("code %d, want %d (body %s)", w.Code, tt.code, w.Body)
			}
			if tt.code != http.StatusOK && len(*got) != 0 {
				t.Errorf("appended %d events on a rejected request", len(*got))
			}
		})
	}
}

// TestTamperedEventData documents a property of Mailgun's scheme: the signature covers
// only timestamp and token, not event-data, so a signature never seen before is accepted
// with whatever event data it carries. HTTPS is what protects the body; the replay guard
// (TestReplayedSignatureRefused) stops a captured signature from carrying a second body.
func TestTamperedEventData(t *testing.T) {
	signed := resign(t, webhookstest.Load(t, "delivered.json"), signingKey, now)
	tampered := []byte(strings.Replace(string(signed), `"delivered"`, `"opened"`, 1))
	app, _ := webhookstest.Capture()
	w := httptest.NewRecorder()
	newHandler(t, app).ServeHTTP(w, post(tampered))
	if w.Code != http.StatusOK {
		t.Fatalf("code %d: the scheme does not sign event-data, yet the request was refused", w.Code)
	}
}

func TestIdempotentRetry(t *testing.T) {
	app, got := webhookstest.Capture()
	h := newHandler(t, app)
	body := webhookstest.Load(t, "accepted.json")
	for i := range 2 {
		w := httptest.NewRecorder()
		// Mailgun's retry carries a new signature (timestamp and token).
		h.ServeHTTP(w, post(resign(t, body, signingKey, now.Add(time.Duration(i-5)*time.Minute))))
		if w.Code != http.StatusOK {
			t.Fatalf("code %d", w.Code)
		}
	}
	if ev := *got; len(ev) != 2 || ev[0].ID != ev[1].ID || !ev[0].OccurredAt.Equal(ev[1].OccurredAt) {
		t.Fatalf("retry not identical: %+v", ev)
	}
}

func TestTranslateRejects(t *testing.T) {
	p, err := mailgun.New(mailgun.Config{SigningKey: signingKey})
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{
		`[]`,
		`{"signature":{}}`,
		`{"event-data":{"event":"delivered","id":"x","timestamp":1795252445,"recipient":"a@b.c"}}`,
		`{"event-data":{"event":"delivered","timestamp":1795252445,"recipient":"a@b.c","message":{"headers":{"message-id":"m@x"}}}}`,
		`{"event-data":{"event":"delivered","id":"x","recipient":"a@b.c","message":{"headers":{"message-id":"m@x"}}}}`,
		`{"event-data":{"event":"delivered","id":"x","timestamp":1795252445,"recipient":"nobody","message":{"headers":{"message-id":"m@x"}}}}`,
		`{"event-data":{"event":"delivered","id":"x","timestamp":1000,"recipient":"a@b.c","message":{"headers":{"message-id":"m@x"}}}}`,
	} {
		if evs, err := p.Translate(nil, []byte(body), now); !errors.Is(err, webhooks.ErrBadPayload) {
			t.Errorf("%s: got %v, %v; want ErrBadPayload", body, evs, err)
		}
	}
}

func FuzzTranslate(f *testing.F) {
	p, err := mailgun.New(mailgun.Config{SigningKey: signingKey})
	if err != nil {
		f.Fatal(err)
	}
	webhookstest.Fuzz(f, p, now, func() *http.Request { return httptest.NewRequest(http.MethodPost, path, nil) })
}

// TestReplayedSignatureRefused: a captured signature, valid for 24 h, is refused with any
// other event data; the same webhook again (a retry) is still a 2xx.
func TestReplayedSignatureRefused(t *testing.T) {
	app, got := webhookstest.Capture()
	h := newHandler(t, app)
	signed := string(resign(t, webhookstest.Load(t, "delivered.json"), signingKey, now.Add(-time.Minute)))
	forged := []string{
		strings.Replace(signed, `"delivered"`, `"opened"`, 1),
		strings.Replace(signed, `"cust-42"`, `"cust-666"`, 1),
	}
	for i, f := range forged {
		if f == signed {
			t.Fatalf("forgery %d changed nothing: the test would prove nothing", i)
		}
	}
	steps := []struct {
		name string
		body string
		code int
	}{
		{"original", signed, http.StatusOK},
		{"forged event", forged[0], http.StatusUnauthorized},
		{"forged customer", forged[1], http.StatusUnauthorized},
		{"retry of the original", signed, http.StatusOK},
	}
	for _, st := range steps {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, post([]byte(st.body)))
		if w.Code != st.code {
			t.Errorf("%s: code %d, want %d (body %s)", st.name, w.Code, st.code, w.Body)
		}
	}
	// Each delivery is the inferred started and the ended (webhooks.WithInferredStarted).
	if ev := *got; len(ev) != 4 || ev[0].ID != ev[2].ID || ev[1].ID != ev[3].ID || ev[1].Type.String() != "interaction.ended" {
		t.Errorf("appended %+v, want the original twice (a duplicate)", ev)
	}
}

// TestReplayGuardBounded: with room for two tokens, a third fresh one is refused with 503
// (the two are not forgotten: their forgeries stay refused) until the first two are stale.
func TestReplayGuardBounded(t *testing.T) {
	p, err := mailgun.New(mailgun.Config{SigningKey: signingKey, ReplayTokens: 2})
	if err != nil {
		t.Fatal(err)
	}
	app, got := webhookstest.Capture()
	h := webhooks.NewHandler(app, nil, p)
	clock := now
	h.Now = func() time.Time { return clock }
	mux := http.NewServeMux()
	mux.Handle("POST /v1/webhooks/{provider}", h)
	body := webhookstest.Load(t, "delivered.json")
	withToken := func(token string, ts time.Time, status string) []byte {
		t.Helper()
		b := strings.Replace(string(body), `"b2e0`, `"`+token, 1)
		b = strings.Replace(b, `"delivered"`, `"`+status+`"`, 1)
		if b == string(body) && token != "b2e0" {
			t.Fatal("the token was not replaced: the test would prove nothing")
		}
		return resign(t, []byte(b), signingKey, ts)
	}
	send := func(b []byte) int {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, post(b))
		return w.Code
	}
	t0 := now.Add(-time.Hour)
	steps := []struct {
		name  string
		clock time.Time
		body  []byte
		code  int
	}{
		{"first token", now, withToken("tok1", t0, "delivered"), http.StatusOK},
		{"second token", now, withToken("tok2", t0.Add(time.Minute), "delivered"), http.StatusOK},
		{"third token: full", now, withToken("tok3", t0.Add(2*time.Minute), "delivered"), http.StatusServiceUnavailable},
		{"first token forged: still refused", now, withToken("tok1", t0, "opened"), http.StatusUnauthorized},
		{"first token stale, third fits", t0.Add(webhooks.MaxSignatureAge + 30*time.Second), withToken("tok3", t0.Add(2*time.Minute), "delivered"), http.StatusOK},
		{"second token forged: still remembered", t0.Add(webhooks.MaxSignatureAge + 30*time.Second), withToken("tok2", t0.Add(time.Minute), "opened"), http.StatusUnauthorized},
	}
	for _, st := range steps {
		clock = st.clock
		if code := send(st.body); code != st.code {
			t.Errorf("%s: code %d, want %d", st.name, code, st.code)
		}
	}
	if len(*got) != 6 { // three deliveries, each an inferred started and the ended
		t.Errorf("appended %d events, want 6", len(*got))
	}
}
