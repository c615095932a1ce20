package webhookstest

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
)

// Rejected is a payload a provider must refuse: its Translate's error wraps
// webhooks.ErrBadPayload and mentions Want. An unnamed struct (as Want), so that the
// tables list their rows without field names.
type Rejected = struct {
	Name, Body string
	Want       string // in the error message
}

// CheckRejects asserts that p refuses each payload of cases, naming what is wrong.
func CheckRejects(t *testing.T, p webhooks.Provider, now time.Time, cases []Rejected) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			evs, err := p.Translate(nil, []byte(tt.Body), now)
			if !errors.Is(err, webhooks.ErrBadPayload) {
				t.Fatalf("got %v (%d events), want ErrBadPayload", err, len(evs))
			}
			if !strings.Contains(err.Error(), tt.Want) {
				t.Errorf("got %q, want it to mention %q", err, tt.Want)
			}
		})
	}
}

// CheckRetry asserts that p translates a provider's retry of each recorded payload
// (files, in testdata), later by retryAfter, into the same events: the same ids, in the
// same order, none twice in one payload, so that the stream keeps it once.
func CheckRetry(t *testing.T, p webhooks.Provider, now time.Time, retryAfter time.Duration, files ...string) {
	t.Helper()
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			body := Load(t, file)
			first, err := p.Translate(nil, body, now)
			if err != nil {
				t.Fatal(err)
			}
			second, err := p.Translate(nil, body, now.Add(retryAfter))
			if err != nil {
				t.Fatal(err)
			}
			if len(first) == 0 || len(first) != len(second) {
				t.Fatalf("got %d then %d events", len(first), len(second))
			}
			seen := map[string]bool{}
			for i := range first {
				if first[i].ID != second[i].ID {
					t.Errorf("event %d: got id %s then %s", i, first[i].ID, second[i].ID)
				}
				if seen[first[i].ID] {
					t.Errorf("event %d: id %s used twice in one payload", i, first[i].ID)
				}
				seen[first[i].ID] = true
			}
		})
	}
}

// CheckConfigErrors asserts that err, a New's answer to a bad Config, is an error that
// reports each of fields.
func CheckConfigErrors(t *testing.T, err error, fields ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("got nil, want errors")
	}
	for _, want := range fields {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want it to report %s", err, want)
		}
	}
}

// CheckDefaults asserts that a provider built with only its secrets answers its name and
// its default body limit.
func CheckDefaults(t *testing.T, p webhooks.Provider, err error, name string, maxBody int64) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != name || p.MaxBody() != maxBody {
		t.Errorf("got %s %d, want %s %d", p.Name(), p.MaxBody(), name, maxBody)
	}
}

// AuthCase is one row of an authentication matrix: the Authorization header sent and
// the answer it must get (an unnamed struct, as Want).
type AuthCase = struct {
	Name, Auth string
	Code       int
}

// CheckAuth sends request(auth) for each case to a fresh handler (handler builds it over
// the appender given) and asserts the answer; a refused request appends nothing.
func CheckAuth(t *testing.T, handler func(webhooks.Appender) http.Handler, request func(auth string) *http.Request, cases []AuthCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			app, got := Capture()
			w := httptest.NewRecorder()
			handler(app).ServeHTTP(w, request(tt.Auth))
			if w.Code != tt.Code {
				t.Fatalf("code %d, want %d (body %s)", w.Code, tt.Code, w.Body)
			}
			if tt.Code != http.StatusOK && len(*got) != 0 {
				t.Errorf("appended %d events on a rejected request", len(*got))
			}
		})
	}
}

// CheckPostedTwice posts request() twice to one handler, as a provider retries, and
// asserts that each post appends the same n events (the same ids, in the same order,
// none twice in one post): the stream keeps them once.
func CheckPostedTwice(t *testing.T, handler func(webhooks.Appender) http.Handler, request func() *http.Request, n int) {
	t.Helper()
	app, got := Capture()
	h := handler(app)
	for range 2 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, request())
		if w.Code != http.StatusOK {
			t.Fatalf("code %d, body %s", w.Code, w.Body)
		}
	}
	ev := *got
	if len(ev) != 2*n {
		t.Fatalf("got %d events, want %d then the same %d", len(ev), n, n)
	}
	seen := map[string]bool{}
	for i := range n {
		if ev[i].ID != ev[n+i].ID || seen[ev[i].ID] {
			t.Errorf("event %d: id %s, retried as %s (repeated in one post: %v)", i, ev[i].ID, ev[n+i].ID, seen[ev[i].ID])
		}
		seen[ev[i].ID] = true
	}
}

// Translated is one recorded payload (File, in testdata) and the events it must give
// (an unnamed struct, as Want).
type Translated = struct {
	Name, File string
	Want       []Want
}

// CheckTranslate asserts that p translates each recorded payload into its events, each
// from source.
func CheckTranslate(t *testing.T, p webhooks.Provider, now time.Time, source string, cases []Translated) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/webhooks/"+p.Name(), nil)
			got, err := p.Translate(r, Load(t, tt.File), now)
			if err != nil {
				t.Fatalf("Translate: %v", err)
			}
			CheckEvents(t, got, tt.Want, source)
		})
	}
}

// CheckMapsCustomer asserts that p (configured with a MapCustomer that maps the payload's
// contact to customer, and err its New's error) gives every event of the recorded
// payload file that customer.
func CheckMapsCustomer(t *testing.T, p webhooks.Provider, err error, now time.Time, file, customer string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	evs, err := p.Translate(nil, Load(t, file), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 {
		t.Fatalf("%s gave no events", file)
	}
	for _, ev := range evs {
		if ev.CustomerID != customer {
			t.Errorf("%s: got customer %q, want %s", ev.Type, ev.CustomerID, customer)
		}
	}
}

// Must returns a function that returns a constructor's value, failing t on its error:
// Must[*asterisk.Provider](t)(asterisk.New(cfg)).
func Must[P any](t testing.TB) func(P, error) P {
	return func(p P, err error) P {
		t.Helper()
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return p
	}
}
