package webhookstest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/domain"
)

// Want is an event a provider test expects, compared by its typed payload. It is an
// alias of an unnamed struct so that tests may write rows as positional literals (vet
// asks for keyed fields only of other packages' named types), which read as a table.
type Want = struct {
	Type       domain.EventType
	ID         string
	OccurredAt time.Time
	CustomerID string
	Payload    domain.Payload
	Ext        map[string]any // extension fields expected in Event.Data (others may be there)
}

// CheckEvents asserts that got are the events of want, in order, each from source.
func CheckEvents(t testing.TB, got []domain.Event, want []Want, source string) {
	t.Helper()
	if len(got) != len(want) {
		for _, ev := range got {
			t.Logf("got %s %s %s", ev.Type, ev.ID, ev.Data)
		}
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i, w := range want {
		ev := got[i]
		if ev.Type != w.Type || ev.ID != w.ID || !ev.OccurredAt.Equal(w.OccurredAt) || ev.CustomerID != w.CustomerID {
			t.Errorf("event %d: got %s id=%s at=%s customer=%s, want %s id=%s at=%s customer=%s", i,
				ev.Type, ev.ID, ev.OccurredAt, ev.CustomerID, w.Type, w.ID, w.OccurredAt, w.CustomerID)
		}
		if ev.Source != source {
			t.Errorf("event %d: got source %q, want %s", i, ev.Source, source)
		}
		if !reflect.DeepEqual(ev.Payload, w.Payload) {
			t.Errorf("event %d: got payload %+v, want %+v", i, ev.Payload, w.Payload)
		}
		if len(w.Ext) > 0 {
			var data map[string]any
			if err := json.Unmarshal(ev.Data, &data); err != nil {
				t.Fatal(err)
			}
			for k, v := range w.Ext {
				if data[k] != v {
					t.Errorf("event %d: got data.%s = %v, want %v", i, k, data[k], v)
				}
			}
		}
	}
}

// WantJSON is an event a provider test expects, compared by its whole data as JSON (an
// unnamed struct, as Want).
type WantJSON = struct {
	Type       string
	ID         string
	OccurredAt time.Time
	CustomerID string
	Data       string
}

// CheckEventsJSON asserts that got are the events of want, in order, each from source,
// their data equal as JSON values (key order and spacing aside).
func CheckEventsJSON(t testing.TB, got []domain.Event, want []WantJSON, source string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Type.String() != w.Type || g.ID != w.ID || !g.OccurredAt.Equal(w.OccurredAt) || g.CustomerID != w.CustomerID || g.Source != source {
			t.Errorf("event %d: got %s %s %s %s %s, want %s %s %s %s %s", i, g.Type, g.ID, g.OccurredAt, g.CustomerID, g.Source,
				w.Type, w.ID, w.OccurredAt, w.CustomerID, source)
		}
		var gd, wd map[string]any
		if err := json.Unmarshal(g.Data, &gd); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(w.Data), &wd); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gd, wd) {
			t.Errorf("event %d data: got %s, want %s", i, g.Data, w.Data)
		}
	}
}

// Load reads a recorded payload from the calling package's testdata.
func Load(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// LoadAll reads recorded payloads from the calling package's testdata (Load), in order.
func LoadAll(t testing.TB, names ...string) [][]byte {
	t.Helper()
	out := make([][]byte, len(names))
	for i, name := range names {
		out[i] = Load(t, name)
	}
	return out
}

// Fuzz fuzzes p.Translate, seeded with the recorded payloads in testdata: an error must
// wrap webhooks.ErrBadPayload and come with no events, and what is translated must be
// valid (CheckValid). newRequest, when not nil, gives the request passed along, and
// Verify is called on it too: it must not panic on any body.
func Fuzz(f *testing.F, p webhooks.Provider, now time.Time, newRequest func() *http.Request) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			f.Add(Load(f, e.Name()))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var r *http.Request
		if newRequest != nil {
			r = newRequest()
			_ = p.Verify(r, body, now)
		}
		evs, err := p.Translate(r, body, now)
		CheckTranslated(t, evs, err, now)
	})
}

// CheckTranslated asserts the outcome of one Translate (see Fuzz).
func CheckTranslated(t testing.TB, evs []domain.Event, err error, now time.Time) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, webhooks.ErrBadPayload) {
			t.Fatalf("error %v does not wrap ErrBadPayload", err)
		}
		if len(evs) != 0 {
			t.Fatalf("got %d events with an error", len(evs))
		}
		return
	}
	CheckValid(t, evs, now)
}

// MetaSignature is the X-Hub-Signature-256 header Meta sends (WhatsApp, Messenger):
// "sha256=" and the hex HMAC-SHA256 of the body under the app secret.
func MetaSignature(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
