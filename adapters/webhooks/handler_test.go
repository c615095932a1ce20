package webhooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/domain"
)

var now = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// fakeProvider is a function-field fake of webhooks.Provider.
type fakeProvider struct {
	name          string
	maxBody       int64
	VerifyFunc    func(r *http.Request, body []byte, now time.Time) error
	TranslateFunc func(r *http.Request, body []byte, now time.Time) ([]domain.Event, error)
}

func (f *fakeProvider) Name() string   { return f.name }
func (f *fakeProvider) MaxBody() int64 { return f.maxBody }
func (f *fakeProvider) Verify(r *http.Request, body []byte, now time.Time) error {
	return f.VerifyFunc(r, body, now)
}
func (f *fakeProvider) Translate(r *http.Request, body []byte, now time.Time) ([]domain.Event, error) {
	return f.TranslateFunc(r, body, now)
}

// handshaker adds a GET handshake to the fake.
type handshaker struct{ *fakeProvider }

func (handshaker) Handshake(w http.ResponseWriter, r *http.Request) {
	_, _ = w.Write([]byte(r.URL.Query().Get("hub.challenge")))
}

type fakeAppender struct {
	AppendEventsFunc func(ctx context.Context, events []domain.Event) error
}

func (f *fakeAppender) AppendEvents(ctx context.Context, events []domain.Event) error {
	return f.AppendEventsFunc(ctx, events)
}

func event(t *testing.T, id string) domain.Event {
	t.Helper()
	ev, err := domain.NewEventFromData(id, domain.TypeEmailOpened, now, "mailto:a@b.c", "fake",
		map[string]string{"interaction_id": "m1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func okProvider(t *testing.T) *fakeProvider {
	return &fakeProvider{
		name: "fake", maxBody: 16,
		VerifyFunc: func(r *http.Request, _ []byte, _ time.Time) error {
			if r.Header.Get("X-Sig") != "good" {
				return fmt.Errorf("%w: bad X-Sig", webhooks.ErrUnauthorized)
			}
			return nil
		},
		TranslateFunc: func(_ *http.Request, body []byte, _ time.Time) ([]domain.Event, error) {
			switch string(body) {
			case "bad":
				return nil, fmt.Errorf("%w: field x is wrong", webhooks.ErrBadPayload)
			case "none":
				return nil, nil
			}
			return []domain.Event{event(t, webhooks.EventID("fake", string(body), "1")), event(t, webhooks.EventID("fake", string(body), "2"))}, nil
		},
	}
}

func serve(h http.Handler, method, target, body string, sig string) *httptest.ResponseRecorder {
	mux := http.NewServeMux()
	mux.Handle("POST /v1/webhooks/{provider}", h)
	mux.Handle("GET /v1/webhooks/{provider}", h)
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if sig != "" {
		r.Header.Set("X-Sig", sig)
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w
}

func TestHandler(t *testing.T) {
	var appended []domain.Event
	var appendErr error
	app := &fakeAppender{AppendEventsFunc: func(_ context.Context, evs []domain.Event) error {
		if appendErr != nil {
			return appendErr
		}
		appended = append(appended, evs...)
		return nil
	}}
	tests := []struct {
		name       string
		method     string
		target     string
		body, sig  string
		appendErr  error
		code       int
		wantBody   string // substring
		wantEvents int
	}{
		{"accepted", "POST", "/v1/webhooks/fake", "ok", "good", nil, 200, `{"accepted":2}`, 2},
		{"nothing to record", "POST", "/v1/webhooks/fake", "none", "good", nil, 200, `{"accepted":0}`, 0},
		{"unknown provider", "POST", "/v1/webhooks/nope", "ok", "good", nil, 404, `"error"`, 0},
		{"too large", "POST", "/v1/webhooks/fake", strings.Repeat("x", 17), "good", nil, 413, `"error"`, 0},
		{"bad signature", "POST", "/v1/webhooks/fake", "ok", "bad", nil, 401, `bad X-Sig`, 0},
		{"missing signature", "POST", "/v1/webhooks/fake", "ok", "", nil, 401, `"error"`, 0},
		{"bad payload", "POST", "/v1/webhooks/fake", "bad", "good", nil, 400, `field x is wrong`, 0},
		{"stream down", "POST", "/v1/webhooks/fake", "ok", "good", errors.New("nats: timeout"), 503, `"error"`, 0},
		{"rejected by ingest", "POST", "/v1/webhooks/fake", "ok", "good", fmt.Errorf("append: %w", domain.ErrInvalid), 400, `"error"`, 0},
		{"GET without handshake", "GET", "/v1/webhooks/fake", "", "", nil, 405, `"error"`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			appended, appendErr = nil, tt.appendErr
			var observed []string
			h := webhooks.NewHandler(app, nil, okProvider(t))
			h.Now = func() time.Time { return now }
			h.Observe = func(p string, code int) { observed = append(observed, fmt.Sprint(p, code)) }
			w := serve(h, tt.method, tt.target, tt.body, tt.sig)
			if w.Code != tt.code || !strings.Contains(w.Body.String(), tt.wantBody) {
				t.Fatalf("got %d %s, want %d containing %s", w.Code, w.Body, tt.code, tt.wantBody)
			}
			if len(appended) != tt.wantEvents {
				t.Errorf("appended %d events, want %d", len(appended), tt.wantEvents)
			}
			if len(observed) != 1 || !strings.HasSuffix(observed[0], fmt.Sprint(tt.code)) {
				t.Errorf("observed %v, want one entry with code %d", observed, tt.code)
			}
			if tt.code >= 400 {
				var e map[string]string
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e["error"] == "" {
					t.Errorf("body %s is not {\"error\": ...}", w.Body)
				}
			}
		})
	}
}

func TestHandlerHandshake(t *testing.T) {
	app := &fakeAppender{AppendEventsFunc: func(context.Context, []domain.Event) error { return nil }}
	h := webhooks.NewHandler(app, nil, handshaker{okProvider(t)})
	w := serve(h, "GET", "/v1/webhooks/fake?hub.challenge=1158201444", "", "")
	if w.Code != 200 || w.Body.String() != "1158201444" {
		t.Fatalf("got %d %q", w.Code, w.Body)
	}
}

func TestNewHandlerSkipsNilAndDuplicates(t *testing.T) {
	app := &fakeAppender{AppendEventsFunc: func(context.Context, []domain.Event) error { return nil }}
	second := okProvider(t)
	second.VerifyFunc = func(*http.Request, []byte, time.Time) error { return nil } // would accept anything
	h := webhooks.NewHandler(app, nil, nil, okProvider(t), second)
	h.Now = func() time.Time { return now }
	if w := serve(h, "POST", "/v1/webhooks/fake", "ok", ""); w.Code != 401 {
		t.Fatalf("the duplicate replaced the first provider: %d", w.Code)
	}
}

func TestEventIDDeterministic(t *testing.T) {
	a, b := webhooks.EventID("twilio", "CA1", "ringing", "1"), webhooks.EventID("twilio", "CA1", "ringing", "1")
	if a != b || a == webhooks.EventID("sendgrid", "CA1", "ringing", "1") || a == webhooks.EventID("twilio", "CA1", "ringing1") {
		t.Fatal("EventID is not a deterministic function of provider and parts")
	}
}
