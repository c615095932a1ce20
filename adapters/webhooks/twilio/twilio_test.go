package twilio_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/adapters/webhooks/twilio"
	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
)

const (
	token     = "3f7a9c1e5b2d4f6081a3c5e7092b4d6f" // 32 hex, as Twilio issues
	publicURL = "https://ledger.example.com"
	path      = "/v1/webhooks/twilio"
)

var now = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// wantEvent is one row of the expected events.
type wantEvent = webhookstest.WantJSON

func newProvider(t *testing.T) *twilio.Provider {
	return webhookstest.Must[*twilio.Provider](t)(twilio.New(twilio.Config{AuthToken: token, PublicURL: publicURL + "/"}))
}

func newHandler(t *testing.T, app webhooks.Appender) http.Handler {
	t.Helper()
	return webhookstest.Handler(app, now, newProvider(t))
}

// signedRequest builds the request Twilio would send, signed with secret.
func signedRequest(t *testing.T, secret, uri string, body []byte) *http.Request {
	t.Helper()
	params, err := url.ParseQuery(string(body))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, uri, strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Twilio-Signature", twilio.Signature(secret, publicURL+uri, params))
	return r
}

func TestSignatureKnownAnswer(t *testing.T) {
	// The example of Twilio's webhook security documentation.
	params := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"},
		"From": {"+12349013030"}, "To": {"+18005551212"}}
	got := twilio.Signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params)
	if want := "0/KCTR6DLpKmkAf8muzZqo1nDgQ="; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestTranslateRecorded(t *testing.T) {
	const call = "CA5a0ec1d9a2f1c7b5e4d3c2b1a0f9e8d7"
	tests := []struct {
		name string
		file string
		uri  string
		want []wantEvent
	}{
		{"voice inbound ringing, queue on the callback URL", "voice_inbound_ringing.form", path + "?queue=support", []wantEvent{{
			Type: "interaction.started", ID: webhooks.EventID("twilio", call, "ringing", "1"),
			OccurredAt: time.Date(2026, 11, 21, 9, 14, 3, 0, time.UTC), CustomerID: "tel:+14155551234",
			Data: `{"interaction_id":"` + call + `","flow":"voice","direction":"incoming","routing":"smart","queue_id":"support","contact":{"phone":"+14155551234"}}`,
		}}},
		{"voice inbound completed: the started inferred at the end minus CallDuration", "voice_inbound_completed.form", path, []wantEvent{
			webhookstest.Inferred("twilio", webhooks.EventID("twilio", call, "completed", "3"), time.Date(2026, 11, 21, 9, 14, 8, 0, time.UTC),
				"tel:+14155551234", `{"interaction_id":"`+call+`","flow":"voice","direction":"incoming","routing":"direct","contact":{"phone":"+14155551234"}}`), {
				Type: "interaction.ended", ID: webhooks.EventID("twilio", call, "completed", "3"),
				OccurredAt: time.Date(2026, 11, 21, 9, 16, 15, 0, time.UTC), CustomerID: "tel:+14155551234",
				Data: `{"interaction_id":"` + call + `","status":"processed"}`,
			}}},
		{"voice outbound busy from a client", "voice_outbound_busy.form", path, []wantEvent{
			webhookstest.Inferred("twilio", webhooks.EventID("twilio", "CAb1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6", "busy", "2"), time.Date(2026, 11, 21, 9, 20, 0, 0, time.UTC),
				"tel:+33612345678", `{"interaction_id":"CAb1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6","flow":"voice","direction":"outgoing","routing":"direct","agent_id":"agent-7","contact":{"phone":"+33612345678"}}`), {
				Type: "interaction.ended", ID: webhooks.EventID("twilio", "CAb1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6", "busy", "2"),
				OccurredAt: time.Date(2026, 11, 21, 9, 20, 0, 0, time.UTC), CustomerID: "tel:+33612345678",
				Data: `{"interaction_id":"CAb1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6","status":"aborted","reason":"busy (SIP 486)"}`,
			}}},
		{"sms outbound sent, national number", "sms_outbound_sent.form", path, []wantEvent{{
			Type: "interaction.started", ID: webhooks.EventID("twilio", "SM1f0e2d3c4b5a69788796a5b4c3d2e1f0", "sent"),
			OccurredAt: now, CustomerID: "tel:+14155551234",
			Data: `{"interaction_id":"SM1f0e2d3c4b5a69788796a5b4c3d2e1f0","flow":"sms","direction":"outgoing","routing":"direct","contact":{"phone":"+14155551234"}}`,
		}}},
		{"sms outbound undelivered", "sms_outbound_undelivered.form", path, []wantEvent{
			webhookstest.Inferred("twilio", webhooks.EventID("twilio", "SM1f0e2d3c4b5a69788796a5b4c3d2e1f0", "undelivered"), now,
				"tel:+14155551234", `{"interaction_id":"SM1f0e2d3c4b5a69788796a5b4c3d2e1f0","flow":"sms","direction":"outgoing","routing":"direct","contact":{"phone":"+14155551234"}}`), {
				Type: "interaction.ended", ID: webhooks.EventID("twilio", "SM1f0e2d3c4b5a69788796a5b4c3d2e1f0", "undelivered"),
				OccurredAt: now, CustomerID: "tel:+14155551234",
				Data: `{"interaction_id":"SM1f0e2d3c4b5a69788796a5b4c3d2e1f0","status":"warning","reason":"undelivered: error 30003 Unreachable destination handset"}`,
			}}},
		{"whatsapp outbound read", "whatsapp_outbound_read.form", path, []wantEvent{
			webhookstest.Inferred("twilio", webhooks.EventID("twilio", "SMa9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4", "read"), now,
				"tel:+33612345678", `{"interaction_id":"SMa9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4","flow":"whatsapp","direction":"outgoing","routing":"direct","contact":{"phone":"+33612345678"}}`), {
				Type: "interaction.ended", ID: webhooks.EventID("twilio", "SMa9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4", "read"),
				OccurredAt: now, CustomerID: "tel:+33612345678",
				Data: `{"interaction_id":"SMa9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4","status":"delivered"}`,
			}}},
		{"sms inbound received", "sms_inbound_received.form", path, []wantEvent{{
			Type: "interaction.started", ID: webhooks.EventID("twilio", "SMc3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8", "received"),
			OccurredAt: now, CustomerID: "tel:+14155551234",
			Data: `{"interaction_id":"SMc3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8","flow":"sms","direction":"incoming","routing":"direct","contact":{"phone":"+14155551234"}}`,
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, got := webhookstest.Capture()
			w := httptest.NewRecorder()
			newHandler(t, app).ServeHTTP(w, signedRequest(t, token, tt.uri, webhookstest.Load(t, tt.file)))
			if w.Code != http.StatusOK {
				t.Fatalf("code %d, body %s", w.Code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "text/xml" {
				t.Errorf("Content-Type %q, want text/xml (TwiML)", ct)
			}
			webhookstest.CheckEventsJSON(t, *got, tt.want, "twilio")
		})
	}
}

func TestSignatureMatrix(t *testing.T) {
	body := webhookstest.Load(t, "voice_inbound_completed.form")
	jsonBody := webhookstest.Load(t, "voice_inbound_completed.json")
	tests := []struct {
		name string
		req  func() *http.Request
		code int
	}{
		{"valid", func() *http.Request { return signedRequest(t, token, path, body) }, http.StatusOK},
		{"missing", func() *http.Request {
			r := signedRequest(t, token, path, body)
			r.Header.Del("X-Twilio-Signature")
			return r
		}, http.StatusUnauthorized},
		{"wrong secret", func() *http.Request { return signedRequest(t, "not-the-token", path, body) }, http.StatusUnauthorized},
		{"tampered body", func() *http.Request {
			r := signedRequest(t, token, path, body)
			tampered := strings.Replace(string(body), "CallDuration=127", "CallDuration=128", 1)
			return signedRequestWithHeader(r, tampered)
		}, http.StatusUnauthorized},
		{"JSON-bodied", func() *http.Request { return jsonRequest(t, token, path, jsonBody) }, http.StatusOK},
		{"JSON-bodied, queue on the URL", func() *http.Request { return jsonRequest(t, token, path+"?queue=support", jsonBody) }, http.StatusOK},
		{"JSON-bodied, wrong secret", func() *http.Request { return jsonRequest(t, "not-the-token", path, jsonBody) }, http.StatusUnauthorized},
		{"JSON-bodied, tampered body", func() *http.Request {
			return signedRequestWithHeader(jsonRequest(t, token, path, jsonBody), strings.Replace(string(jsonBody), `"127"`, `"128"`, 1))
		}, http.StatusUnauthorized},
		{"JSON-bodied, signed bodySHA256 of another body", func() *http.Request {
			return signedRequestWithHeader(jsonRequest(t, token, path, []byte(`{}`)), string(jsonBody))
		}, http.StatusUnauthorized},
		{"other URL", func() *http.Request {
			r := signedRequest(t, token, path, body)
			r2 := httptest.NewRequest(http.MethodPost, path+"?queue=x", strings.NewReader(string(body)))
			r2.Header = r.Header
			return r2
		}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, got := webhookstest.Capture()
			w := httptest.NewRecorder()
			newHandler(t, app).ServeHTTP(w, tt.req())
			if w.Code != tt.code {
				t.Fatalf("code %d, want %d (body %s)", w.Code, tt.code, w.Body)
			}
			if tt.code != http.StatusOK {
				if len(*got) != 0 {
					t.Errorf("appended %d events on a rejected request", len(*got))
				}
				var e map[string]string
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e["error"] == "" {
					t.Errorf("body %s is not {\"error\": ...}", w.Body)
				}
			}
		})
	}
}

func signedRequestWithHeader(signed *http.Request, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, signed.URL.RequestURI(), strings.NewReader(body))
	r.Header = signed.Header
	return r
}

func TestIdempotentRetry(t *testing.T) {
	app, got := webhookstest.Capture()
	h := newHandler(t, app)
	for _, f := range []string{"voice_inbound_ringing.form", "sms_outbound_sent.form"} {
		body := webhookstest.Load(t, f)
		for range 2 {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, signedRequest(t, token, path, body))
			if w.Code != http.StatusOK {
				t.Fatalf("%s: code %d", f, w.Code)
			}
		}
	}
	if len(*got) != 4 {
		t.Fatalf("got %d events, want 4", len(*got))
	}
	ev := *got
	if ev[0].ID != ev[1].ID || ev[2].ID != ev[3].ID {
		t.Errorf("a retry got another id: %s/%s, %s/%s", ev[0].ID, ev[1].ID, ev[2].ID, ev[3].ID)
	}
}

func TestTranslateRejects(t *testing.T) {
	p := newProvider(t)
	tests := []struct {
		name, body string
	}{
		{"neither sid", "AccountSid=AC1&From=%2B14155551234"},
		{"call without status", "CallSid=CA1&Direction=inbound&From=%2B14155551234"},
		{"bad direction", "CallSid=CA1&CallStatus=ringing&Direction=sideways&From=%2B14155551234"},
		{"bad timestamp", "CallSid=CA1&CallStatus=ringing&Direction=inbound&From=%2B14155551234&Timestamp=yesterday"},
		{"stale timestamp", "CallSid=CA1&CallStatus=ringing&Direction=inbound&From=%2B14155551234&Timestamp=Mon%2C+16+Aug+2010+03%3A45%3A01+%2B0000"},
		{"not a form", "%zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, path, nil)
			evs, err := p.Translate(r, []byte(tt.body), now)
			if err == nil || !isBadPayload(err) {
				t.Fatalf("got %v, %v; want an ErrBadPayload", evs, err)
			}
		})
	}
	// Nothing to record: a status the ledger ignores, or no customer phone number.
	for _, body := range []string{
		"MessageSid=SM1&MessageStatus=partially_delivered&From=%2B14155550100&To=%2B14155551234",
		"CallSid=CA1&CallStatus=ringing&Direction=inbound&From=anonymous&To=%2B14155550100",
		"CallSid=CA1&CallStatus=ringing&Direction=inbound&From=client%3Aa&To=client%3Ab",
	} {
		evs, err := p.Translate(httptest.NewRequest(http.MethodPost, path, nil), []byte(body), now)
		if err != nil || len(evs) != 0 {
			t.Errorf("%s: got %v, %v; want no events, no error", body, evs, err)
		}
	}
}

func isBadPayload(err error) bool { return errors.Is(err, webhooks.ErrBadPayload) }

func TestNewValidates(t *testing.T) {
	_, err := twilio.New(twilio.Config{PublicURL: "ledger.example.com"})
	if err == nil || !strings.Contains(err.Error(), "AuthToken") || !strings.Contains(err.Error(), "PublicURL") {
		t.Fatalf("got %v, want both problems reported", err)
	}
}

func FuzzTranslate(f *testing.F) {
	entries, _ := os.ReadDir("testdata")
	for _, e := range entries {
		if !e.IsDir() {
			b, err := os.ReadFile(filepath.Join("testdata", e.Name()))
			if err == nil {
				f.Add(string(b))
			}
		}
	}
	p, err := twilio.New(twilio.Config{AuthToken: token, PublicURL: publicURL})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, path, nil)
		evs, err := p.Translate(r, []byte(body), now)
		webhookstest.CheckTranslated(t, evs, err, now)
	})
}
