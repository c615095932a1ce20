package webhookstest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/history"
	"github.com/interaction-ledger/ledger/projections/timeline"
)

// Convergence is one interaction's recorded callbacks, as a provider sends them when
// every callback is enabled, and the subset that a "final events only" configuration
// sends. Run feeds them, in several orders and subsets, to a real history and a real
// customer timeline (bbolt files in a temp dir) and checks that the list row, the
// timeline item and the detail end the same.
type Convergence struct {
	// Deliver sends the i-th callback through the provider's handler (verified and
	// translated) and returns the events it appended. Nil: Send(t, Bodies[i]).
	Deliver func(t *testing.T, i int) []domain.Event
	// Bodies, with Send (see Sender), are the callbacks when Deliver is nil: recorded
	// bodies, each sent through the provider's handler.
	Bodies [][]byte
	Send   func(t *testing.T, body []byte) []domain.Event
	// N is the number of callbacks, in the order the provider sends them. Default:
	// len(Bodies).
	N int
	// Final are the callbacks of a final-events-only configuration (indexes, in order).
	// Nil: the provider has no such configuration (every callback is final).
	Final []int
	// FinalDiffers names the fields ("row.start_at", "item.occurred_at",
	// "detail.message_count", ...) that the final events cannot know; the caller's test
	// says why. Every other field must be equal.
	FinalDiffers []string
	// InteractionID and CustomerID identify the interaction and its card.
	InteractionID, CustomerID string
	// Queues are the queues the interaction passed (the reader's profile sees them).
	Queues []string
	// Check, when set, asserts what the reference snapshot (every callback in order) must
	// show: that the scenarios agree proves nothing if they agree on the wrong thing.
	Check func(t *testing.T, s Snapshot)
}

// Snapshot is what a person sees of one interaction: its row of the History of
// interactions, its item on the customer card and its detail, as JSON objects; the
// detail's events (ids, oldest first) apart.
type Snapshot struct {
	Row, Item, Detail map[string]any
	Events            []string
}

// Run runs the scenarios: every callback in order (the reference), reversed, shuffled,
// each twice, and final events only (alone, reversed and twice). Each must list the
// interaction with a flow and put it on the card.
func (c Convergence) Run(t *testing.T) {
	t.Helper()
	if c.Deliver == nil {
		c.Deliver = func(t *testing.T, i int) []domain.Event { return c.Send(t, c.Bodies[i]) }
		c.N = cmp.Or(c.N, len(c.Bodies))
	}
	order := make([]int, c.N)
	for i := range order {
		order[i] = i
	}
	want := c.snapshot(t, order)
	if want.Row["flow"] == "" || want.Item == nil {
		t.Fatalf("every callback: not listed: row %v, item %v", want.Row, want.Item)
	}
	if c.Check != nil {
		c.Check(t, want)
	}
	rng := rand.New(rand.NewPCG(14, uint64(c.N)))
	scenarios := []struct {
		name    string
		order   []int
		differs []string
	}{
		{"reversed", reversed(order), nil},
		{"each twice", append(slices.Clone(order), order...), nil},
		{"each twice, reversed, interleaved", interleave(reversed(order)), nil},
	}
	for k := range 3 {
		s := slices.Clone(order)
		rng.Shuffle(len(s), func(a, b int) { s[a], s[b] = s[b], s[a] })
		scenarios = append(scenarios, struct {
			name    string
			order   []int
			differs []string
		}{fmt.Sprintf("shuffled %d", k), s, nil})
	}
	if c.Final != nil {
		for _, s := range []struct {
			name  string
			order []int
		}{
			{"final only", c.Final},
			{"final only, reversed", reversed(c.Final)},
			{"final only, each twice", interleave(c.Final)},
		} {
			scenarios = append(scenarios, struct {
				name    string
				order   []int
				differs []string
			}{s.name, s.order, append([]string{"events"}, c.FinalDiffers...)})
		}
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			got := c.snapshot(t, sc.order)
			if got.Item == nil {
				t.Fatalf("order %v: not on the card", sc.order)
			}
			compare(t, sc.order, got, want, sc.differs)
		})
	}
}

func reversed(s []int) []int {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

// interleave sends each callback twice in a row (a provider's immediate retry).
func interleave(s []int) []int {
	var r []int
	for _, i := range s {
		r = append(r, i, i)
	}
	return r
}

func compare(t *testing.T, order []int, got, want Snapshot, differs []string) {
	t.Helper()
	skip := map[string]bool{}
	for _, d := range differs {
		skip[d] = true
	}
	for _, part := range []struct {
		name      string
		got, want map[string]any
	}{{"row", got.Row, want.Row}, {"item", got.Item, want.Item}, {"detail", got.Detail, want.Detail}} {
		keys := map[string]bool{}
		for k := range part.got {
			keys[k] = true
		}
		for k := range part.want {
			keys[k] = true
		}
		for k := range keys {
			if skip[part.name+"."+k] {
				continue
			}
			if !reflect.DeepEqual(part.got[k], part.want[k]) {
				t.Errorf("order %v: %s.%s = %v, want %v (every callback in order)", order, part.name, k, part.got[k], part.want[k])
			}
		}
	}
	if !skip["events"] && !slices.Equal(got.Events, want.Events) {
		t.Errorf("order %v: detail events %v, want %v", order, got.Events, want.Events)
	}
}

// snapshot delivers the callbacks of order, each one's events as one projector batch,
// to fresh views, and reads the interaction back.
func (c Convergence) snapshot(t *testing.T, order []int) Snapshot {
	t.Helper()
	dir := t.TempDir()
	open := func(name string) *projections.DB {
		db, err := projections.OpenDB(filepath.Join(dir, name), projections.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	hdb, tdb := open("history.db"), open("timeline.db")
	hist, tl := history.New(hdb, history.Options{}), timeline.New(tdb)
	if err := hdb.Update(hist.Init); err != nil {
		t.Fatal(err)
	}
	if err := tdb.Update(tl.Init); err != nil {
		t.Fatal(err)
	}
	var seq uint64
	for _, i := range order {
		evs := c.Deliver(t, i)
		batch := make([]projections.Applied, len(evs))
		for k, ev := range evs {
			seq++
			batch[k] = projections.Applied{Seq: seq, Subject: "ledger.events." + ev.Type.String(), Event: ev}
		}
		if err := projections.Apply(hdb, hist, batch); err != nil {
			t.Fatalf("history: %v", err)
		}
		if err := projections.Apply(tdb, tl, batch); err != nil {
			t.Fatalf("timeline: %v", err)
		}
	}
	reader := domain.Reader{Role: domain.RoleAdministrator, HistoryAccess: true, ProfileQueues: c.Queues, ProfileFlows: domain.Flows()}
	var s Snapshot
	page, err := hist.List(reader, history.Query{ID: []string{c.InteractionID}})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(page.Items) != 1 {
		t.Fatalf("order %v: the list has %d rows for %s, want 1", order, len(page.Items), c.InteractionID)
	}
	s.Row = asMap(t, page.Items[0])
	d, err := hist.Get(reader, c.InteractionID)
	if err != nil {
		t.Fatalf("detail: %v", err)
	}
	for _, e := range d.Events {
		s.Events = append(s.Events, e.ID)
	}
	sort.Strings(s.Events) // the order of events of one instant is the stream's
	s.Detail = asMap(t, d)
	delete(s.Detail, "events")
	delete(s.Detail, "events_next_cursor")
	tp, err := tl.Read(c.CustomerID, timeline.Query{Limit: timeline.MaxLimit})
	if err != nil {
		t.Fatalf("timeline: %v", err)
	}
	for _, it := range tp.Items {
		if it.InteractionID == c.InteractionID {
			if s.Item != nil {
				t.Fatalf("order %v: %s is twice on the card", order, c.InteractionID)
			}
			s.Item = asMap(t, it)
		}
	}
	return s
}

func asMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// SplitJSONArray returns each element of a JSON array as its own one-element array: one
// callback per event of a recorded batch (SendGrid posts arrays).
func SplitJSONArray(t testing.TB, body []byte) [][]byte {
	t.Helper()
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, len(raws))
	for i, r := range raws {
		out[i] = []byte("[" + strings.TrimSpace(string(r)) + "]")
	}
	return out
}

// Serve sends r to p through the real webhook handler at now and returns the events it
// appended; the answer must be a success, 200.
func Serve(t *testing.T, p webhooks.Provider, now time.Time, r *http.Request) []domain.Event {
	t.Helper()
	app, got := Capture()
	w := httptest.NewRecorder()
	Handler(app, now, p).ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("%s %s: code %d, body %s", r.Method, r.URL, w.Code, w.Body)
	}
	return *got
}

// Sender returns what sends one recorded body to p through the real webhook handler at
// now (Serve): post builds the provider's signed request of the body.
func Sender(p webhooks.Provider, now time.Time, post func(body []byte) *http.Request) func(t *testing.T, body []byte) []domain.Event {
	return func(t *testing.T, body []byte) []domain.Event { return Serve(t, p, now, post(body)) }
}

// CheckClicked asserts that an e-mail's snapshot shows its first click at the RFC 3339
// time at, with count clicks, on the card item and on the detail, beside the open.
func CheckClicked(t *testing.T, s Snapshot, at string, count int) {
	t.Helper()
	want, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		t.Fatalf("CheckClicked: %v", err)
	}
	for _, part := range []struct {
		name string
		m    map[string]any
	}{{"item", s.Item}, {"detail", s.Detail}} {
		raw, _ := part.m["clicked_at"].(string)
		got, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil || !got.Equal(want) || part.m["click_count"] != float64(count) {
			t.Errorf("%s: clicked_at %v, click_count %v; want %s, %d", part.name, part.m["clicked_at"], part.m["click_count"], at, count)
		}
	}
}
