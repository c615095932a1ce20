package sendgrid_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/adapters/webhooks/sendgrid"
	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
)

const path = "/v1/webhooks/sendgrid"

var now = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// wantEvent is one row of the expected events.
type wantEvent = webhookstest.WantJSON

func newKey(t testing.TB) (*ecdsa.PrivateKey, string) {
	t.Helper()
	return webhookstest.SendGridKey(t)
}

func newHandler(t *testing.T, app webhooks.Appender, publicKey string) http.Handler {
	t.Helper()
	p, err := sendgrid.New(sendgrid.Config{PublicKey: publicKey})
	if err != nil {
		t.Fatal(err)
	}
	return webhookstest.Handler(app, now, p)
}

func signedRequest(t *testing.T, key *ecdsa.PrivateKey, at time.Time, body []byte) *http.Request {
	t.Helper()
	ts := strconv.FormatInt(at.Unix(), 10)
	sum := sha256.Sum256(append([]byte(ts), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(sendgrid.SignatureHeader, base64.StdEncoding.EncodeToString(sig))
	r.Header.Set(sendgrid.TimestampHeader, ts)
	return r
}

// TestVerifyKnownAnswer checks the verification against the vector of SendGrid's own
// Go helper (helpers/eventwebhook): key, timestamp, payload and signature as published.
func TestVerifyKnownAnswer(t *testing.T) {
	const (
		pub = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA=="
		sig = "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0="
		ts  = "1588788367"
	)
	payload := []byte(`{"category":"example_payload","event":"test_event","message_id":"message_id"}`)
	p, err := sendgrid.New(sendgrid.Config{PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, path, nil)
	r.Header.Set(sendgrid.SignatureHeader, sig)
	r.Header.Set(sendgrid.TimestampHeader, ts)
	at := time.Unix(1588788367, 0).Add(time.Minute)
	if err := p.Verify(r, payload, at); err != nil {
		t.Fatalf("published vector rejected: %v", err)
	}
	if err := p.Verify(r, append(payload, ' '), at); !errors.Is(err, webhooks.ErrUnauthorized) {
		t.Fatalf("tampered payload: got %v", err)
	}
}

func TestTranslateRecorded(t *testing.T) {
	const msg = "14c5d75ce93"
	started := `{"interaction_id":"` + msg + `","flow":"email","direction":"outgoing","routing":"direct","contact":{"email":"jane.doe@example.com"}}`
	startedOf := func(id, email string) string {
		return `{"interaction_id":"` + id + `","flow":"email","direction":"outgoing","routing":"direct","contact":{"email":"` + email + `"}}`
	}
	// after is the event id of SendGrid's batch at (Unix seconds) for customer, after
	// the started inferred at it (of data started).
	after := func(id string, at int64, customer, started, typ, data string) []wantEvent {
		return webhookstest.AfterInferred("sendgrid", started, wantEvent{typ, webhooks.EventID("sendgrid", id), time.Unix(at, 0), customer, data})
	}
	tests := []struct {
		file string
		want []wantEvent
	}{
		{"batch_lifecycle.json", slices.Concat(
			[]wantEvent{{"interaction.started", webhooks.EventID("sendgrid", "rbtnWrG1DVDGGGFHFyun0A=="), time.Unix(1795252443, 0), "cust-42",
				started}},
			after("rWVYmVk90MjZJ9iohOBa3w==", 1795252841, "cust-42", started, "interaction.ended",
				`{"interaction_id":"`+msg+`","status":"delivered"}`),
			after("FOTFFO0ecsBE-zxFXfs6WA==", 1795253460, "cust-42", started, "email.opened",
				`{"interaction_id":"`+msg+`"}`),
			// SendGrid's sample click is another recipient's: its own customer.
			after("kCAi1KttyQdEKHhdC-nuEA==", 1795253460, "mailto:example@test.com", startedOf(msg, "example@test.com"), "email.clicked",
				`{"interaction_id":"`+msg+`","url":"http://www.sendgrid.com/"}`),
		)},
		{"click.json", after("Y2xpY2stMDAwMS1qYW5l", 1795253520, "cust-42", started, "email.clicked",
			`{"interaction_id":"`+msg+`","url":"https://shop.example.com/orders/1234"}`)},
		{"batch_failures.json", slices.Concat(
			after("6g4ZI7SA-xmRDv57GoPIPw==", 1795252841, "mailto:bounce@example.org", startedOf("14c5d75ce94", "bounce@example.org"),
				"interaction.ended", `{"interaction_id":"14c5d75ce94","status":"warning","reason":"bounce 5.0.0: 500 unknown recipient"}`),
			after("zmzJhfJgAfUSOW80yYbPyw==", 1795252841, "mailto:dropped@example.org", startedOf("14c5d75ce95", "dropped@example.org"),
				"interaction.ended", `{"interaction_id":"14c5d75ce95","status":"warning","reason":"dropped 5.0.0: Bounced Address"}`),
		)},
		{"batch_complaints.json", slices.Concat(
			after("c3BhbXJlcG9ydC0wMDAx", 1795254000, "cust-42", started,
				"interaction.ended", `{"interaction_id":"`+msg+`","status":"warning","reason":"spam complaint"}`),
			after("Z3JvdXAtdW5zdWItMDAx", 1795254060, "mailto:paul@example.net", startedOf("14c5d75ce96", "paul@example.net"),
				"interaction.ended", `{"interaction_id":"14c5d75ce96","status":"warning","reason":"unsubscribed from group 42"}`),
		)},
	}
	key, pub := newKey(t)
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			app, got := webhookstest.Capture()
			w := httptest.NewRecorder()
			newHandler(t, app, pub).ServeHTTP(w, signedRequest(t, key, now.Add(-time.Minute), webhookstest.Load(t, tt.file)))
			if w.Code != http.StatusOK {
				t.Fatalf("code %d, body %s", w.Code, w.Body)
			}
			var resp map[string]int
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || resp["accepted"] != len(tt.want) {
				t.Errorf("body %s, want {\"accepted\": %d}", w.Body, len(tt.want))
			}
			webhookstest.CheckEventsJSON(t, *got, tt.want, "sendgrid")
		})
	}
}

func TestSignatureMatrix(t *testing.T) {
	key, pub := newKey(t)
	otherKey, _ := newKey(t)
	body := webhookstest.Load(t, "batch_lifecycle.json")
	tests := []struct {
		name string
		req  func() *http.Request
		code int
	}{
		{"valid", func() *http.Request { return signedRequest(t, key, now.Add(-time.Hour), body) }, http.StatusOK},
		{"missing signature", func() *http.Request {
			r := signedRequest(t, key, now, body)
			r.Header.Del(sendgrid.SignatureHeader)
			return r
		}, http.StatusUnauthorized},
		{"missing timestamp", func() *http.Request {
			r := signedRequest(t, key, now, body)
			r.Header.Del(sendgrid.TimestampHeader)
			return r
		}, http.StatusUnauthorized},
		{"wrong key", func() *http.Request { return signedRequest(t, otherKey, now, body) }, http.StatusUnauthorized},
		{"tampered body", func() *http.Request {
			r := signedRequest(t, key, now, body)
			tampered := strings.Replace(string(body), "cust-42", "cust-43", 1)
			r2 := httptest.NewRequest(http.MethodPost, path, strings.NewReader(tampered))
			r2.Header = r.Header
			return r2
		}, http.StatusUnauthorized},
		{"tampered timestamp", func() *http.Request {
			r := signedRequest(t, key, now, body)
			r.Header.Set(sendgrid.TimestampHeader, strconv.FormatInt(now.Unix()-1, 10))
			return r
		}, http.StatusUnauthorized},
		{"stale timestamp", func() *http.Request {
			return signedRequest(t, key, now.Add(-webhooks.MaxSignatureAge-time.Second), body)
		}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, got := webhookstest.Capture()
			w := httptest.NewRecorder()
			newHandler(t, app, pub).ServeHTTP(w, tt.req())
			if w.Code != tt.code {
				t.Fatalf("code %d, want %d (body %s)", w.Code, tt.code, w.Body)
			}
			if tt.code != http.StatusOK && len(*got) != 0 {
				t.Errorf("appended %d events on a rejected request", len(*got))
			}
		})
	}
}

func TestIdempotentRetry(t *testing.T) {
	key, pub := newKey(t)
	app, got := webhookstest.Capture()
	h := newHandler(t, app, pub)
	body := webhookstest.Load(t, "batch_lifecycle.json")
	for i := range 2 {
		w := httptest.NewRecorder()
		// SendGrid's retry is signed again, at a later timestamp.
		h.ServeHTTP(w, signedRequest(t, key, now.Add(time.Duration(i-2)*time.Minute), body))
		if w.Code != http.StatusOK {
			t.Fatalf("code %d", w.Code)
		}
	}
	ev := *got
	if len(ev) != 14 {
		t.Fatalf("got %d events, want 14", len(ev))
	}
	for i := range 7 {
		if ev[i].ID != ev[i+7].ID || !ev[i].OccurredAt.Equal(ev[i+7].OccurredAt) {
			t.Errorf("event %d: retry differs: %s vs %s", i, ev[i].ID, ev[i+7].ID)
		}
	}
}

func TestTranslateRejects(t *testing.T) {
	_, pub := newKey(t)
	p, err := sendgrid.New(sendgrid.Config{PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{
		`{"event":"processed"}`,
		`[{"event":"processed","email":"nope","sg_message_id":"a.b","timestamp":1795252443}]`,
		`[{"event":"delivered","email":"a@b.c","sg_message_id":"a.b","timestamp":"yesterday"}]`,
		`[{"event":"delivered","email":"a@b.c","sg_message_id":"a.b","timestamp":1000}]`,
		`[{"event":"open","email":"a@b.c","sg_message_id":"a.b","timestamp":1795252443,"customer_id":"` + strings.Repeat("x", 300) + `"}]`,
	} {
		if evs, err := p.Translate(nil, []byte(body), now); !errors.Is(err, webhooks.ErrBadPayload) {
			t.Errorf("%s: got %v, %v; want ErrBadPayload", body, evs, err)
		}
	}
}

func TestNewValidates(t *testing.T) {
	for _, k := range []string{"", "not base64!", base64.StdEncoding.EncodeToString([]byte("not DER"))} {
		if _, err := sendgrid.New(sendgrid.Config{PublicKey: k}); err == nil {
			t.Errorf("key %q accepted", k)
		}
	}
}

func FuzzTranslate(f *testing.F) {
	_, pub := newKey(f)
	p, err := sendgrid.New(sendgrid.Config{PublicKey: pub})
	if err != nil {
		f.Fatal(err)
	}
	webhookstest.Fuzz(f, p, now, nil)
}
