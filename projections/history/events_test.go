package history

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/history/historytest"
)

// TestEraseEveryCustomerCarried (issue 11, item 9): an interaction started for A and
// routed for B carried both. Erasing either leaves nothing of them in the view, keeps
// the other's part, and gives the file a rebuild from the erased stream (every event of
// the erased customer gone) gives.
func TestEraseEveryCustomerCarried(t *testing.T) {
	at := testNow.Add(-time.Hour)
	admin := domain.Reader{AgentID: "adm", Role: domain.RoleAdministrator, HistoryAccess: true}
	all := Query{From: testNow.Add(-24 * time.Hour), To: testNow}
	const phone, digits, email = "+33 6 11 22 33 44", "44332211", "ann.a@example.com"
	evs := []domain.Event{
		started(t, "x", at, "cust-a", "voice", "direct", "", "ag1",
			map[string]any{"contact": map[string]any{"phone": phone, "email": email}}),
		routed(t, "x", at.Add(time.Minute), "cust-b", "direct", "", "ag2"),
		ended(t, "x", at.Add(3*time.Minute), "cust-b", "processed"),
		started(t, "only-b", at.Add(-time.Hour), "cust-b", "voice", "direct", "", "ag2", nil),
	}
	for _, tc := range []struct {
		name, erase string
		gone        []string // personal data of the erased customer
		reader      string   // an agent of the part that stays
		wantCust    string   // x's customer afterwards
	}{
		{"erase the customer it started for", "cust-a", []string{"cust-a", digits, "+33611223344", email}, "ag2", "cust-b"},
		{"erase the customer it was routed for", "cust-b", []string{"cust-b"}, "ag1", "cust-a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, db := openView(t)
			apply(t, v, db, evs...)
			if d, err := v.Get(admin, "x"); err != nil || d.CustomerID != "cust-b" {
				t.Fatalf("before the erase: customer %q, %v; want cust-b", d.CustomerID, err)
			}
			apply(t, v, db, mk(t, domain.TypeCustomerErased, testNow, tc.erase, map[string]any{}))
			for _, s := range tc.gone {
				if keys := indexKeysContaining(t, db, s); len(keys) > 0 {
					t.Errorf("after erasing %s, entries still hold %q: %v", tc.erase, s, keys)
				}
			}
			d, err := v.Get(domain.Reader{AgentID: tc.reader, Role: domain.RoleCollaborator, HistoryAccess: true}, "x")
			if err != nil {
				t.Fatalf("Get x: %v; want the other customer's part of it", err)
			}
			if d.CustomerID != tc.wantCust {
				t.Errorf("x's customer %q, want %q", d.CustomerID, tc.wantCust)
			}
			for _, e := range d.Events {
				if i := slices.IndexFunc(evs, func(ev domain.Event) bool { return ev.ID == e.ID }); i < 0 || evs[i].CustomerID == tc.erase {
					t.Errorf("x still shows an event of the erased customer: %s %s", e.Type, e.Data)
				}
			}
			q := all
			q.CustomerID = []string{tc.erase}
			if got := listAll(t, v, admin, q); len(got) != 0 {
				t.Errorf("customer_id=%s after erase: %v", tc.erase, ids(got))
			}

			// What a rebuild from the erased stream gives.
			var kept []domain.Event
			for _, ev := range evs {
				if ev.CustomerID != tc.erase {
					kept = append(kept, ev)
				}
			}
			rv, rdb := openView(t)
			apply(t, rv, rdb, kept...)
			if got, want := dump(t, db), dump(t, rdb); !slices.Equal(got, want) {
				t.Errorf("live view differs from a rebuild without %s's events:\nfirst difference: %s", tc.erase, firstDiff(got, want))
			}
		})
	}
}

// message is one interaction.message of the dialogue id.
func message(t testing.TB, id string, at time.Time, customer string) domain.Event {
	t.Helper()
	return mk(t, domain.TypeInteractionMessage, at, customer, map[string]any{"interaction_id": id, "direction": "incoming"})
}

// TestLongDialogue (issue 11, item 13): a dialogue of many messages, delivered in batches
// with duplicates, keeps a detail whose stored size does not grow with it (what each
// batch rewrites), counts every message once, and pages its events oldest first.
func TestLongDialogue(t *testing.T) {
	v, db := openView(t)
	r := domain.Reader{AgentID: "ag", Role: domain.RoleCollaborator, HistoryAccess: true}
	at := testNow.Add(-5 * time.Hour)
	const n = 250
	evs := []domain.Event{started(t, "chat", at, "c", "chat", "direct", "", "ag", nil)}
	for i := range n {
		evs = append(evs, message(t, "chat", at.Add(time.Duration(i+1)*time.Second), "c"))
	}
	detailSize := func() int {
		t.Helper()
		var size int
		db.View(func(tx *bolt.Tx) error {
			val, _, err := detailOf(tx, "chat")
			size = len(val)
			return err
		})
		return size
	}
	apply(t, v, db, evs[:11]...)
	small := detailSize()
	// Newest first, in batches of 20, each batch with a duplicate of an earlier event.
	for k := len(evs); k > 11; k -= 20 {
		batch := slices.Clone(evs[max(11, k-20):k])
		batch = append(batch, evs[k-1], evs[3])
		apply(t, v, db, batch...)
	}
	if big := detailSize(); big > small+4 { // the counters' varints may take a byte more
		t.Errorf("stored detail is %d bytes at %d messages, %d at 10: it grows with the dialogue", big, n, small)
	}
	var got []domain.EventRecord
	ep := EventsPage{Limit: 100}
	var sizes []int
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("events cursor does not end")
		}
		d, err := v.GetPage(r, "chat", ep)
		if err != nil {
			t.Fatal(err)
		}
		if d.MessageCount != n {
			t.Fatalf("message_count %d, want %d", d.MessageCount, n)
		}
		got = append(got, d.Events...)
		sizes = append(sizes, len(d.Events))
		if d.EventsNextCursor == "" {
			break
		}
		ep.Cursor = d.EventsNextCursor
	}
	if want := []int{100, 100, 51}; !slices.Equal(sizes, want) {
		t.Errorf("pages of %v events, want %v", sizes, want)
	}
	if len(got) != len(evs) {
		t.Fatalf("%d events, want %d", len(got), len(evs))
	}
	for i, e := range got {
		if e.ID != evs[i].ID || e.Type != evs[i].Type.String() || !e.OccurredAt.Equal(evs[i].OccurredAt) || string(e.Data) != string(evs[i].Data) {
			t.Fatalf("event %d: got %s %s %s, want %s %s %s", i, e.ID, e.Type, e.OccurredAt, evs[i].ID, evs[i].Type, evs[i].OccurredAt)
		}
	}
	if d, err := v.Get(r, "chat"); err != nil || len(d.Events) != DefaultEventsLimit || d.EventsNextCursor == "" {
		t.Errorf("Get: %d events, next %q, %v; want the first %d and a cursor", len(d.Events), d.EventsNextCursor, err, DefaultEventsLimit)
	}
}

func TestParseEventsPage(t *testing.T) {
	for _, tc := range []struct {
		name, query, badParam string
		want                  EventsPage
	}{
		{"none", "", "", EventsPage{}},
		{"limit", "events_limit=5", "", EventsPage{Limit: 5}},
		{"limit zero", "events_limit=0", "events_limit", EventsPage{}},
		{"limit too big", fmt.Sprintf("events_limit=%d", MaxEventsLimit+1), "events_limit", EventsPage{}},
		{"limit not a number", "events_limit=ten", "events_limit", EventsPage{}},
		{"cursor not base64", "events_cursor=%%%", "events_cursor", EventsPage{}},
		{"cursor too short", "events_cursor=AAAA", "events_cursor", EventsPage{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := url.ParseQuery(tc.query)
			if err != nil {
				v = url.Values{"events_cursor": {"%%%"}}
			}
			got, err := ParseEventsPage(v)
			var qe *QueryError
			switch {
			case tc.badParam == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.badParam == "" && got != tc.want:
				t.Errorf("got %+v, want %+v", got, tc.want)
			case tc.badParam != "" && (!errors.As(err, &qe) || qe.Param != tc.badParam):
				t.Errorf("error %v, want a QueryError on %s", err, tc.badParam)
			}
		})
	}
}

// TestInitRefusesEarlierLayout: a file from before the layout version was kept
// (interactions keyed by id) is not read as if it were of this layout: Init says so and
// the runner rebuilds it (adapters/node's TestViewFileOfAnEarlierLayoutIsRebuilt; the
// version rules themselves: projections' TestInitLayout).
func TestInitRefusesEarlierLayout(t *testing.T) {
	v, db := openView(t)
	apply(t, v, db, genEvents(t, rand.New(rand.NewPCG(11, 11)), 40)...)
	if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(projections.LayoutBucket) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(v.Init); !errors.Is(err, projections.ErrLayoutChanged) {
		t.Fatalf("Init: %v, want ErrLayoutChanged", err)
	}
}

// BenchmarkApplyDialogue (issue 11, item 13) applies batches of 10 messages to one chat
// dialogue that already holds about N of them (between N and 1.5 N: a new dialogue of N
// is prepared, off the clock, when it grew by half). The cost per message must not grow
// with N:
//
//	go test -run '^$' -bench ApplyDialogue ./projections/history/
func BenchmarkApplyDialogue(b *testing.B) {
	for _, n := range []int{100, 7000} {
		b.Run(fmt.Sprintf("messages=%d", n), func(b *testing.B) {
			v, db := openView(b)
			const batch = 10
			var id string
			var at time.Time
			dialogues, grown := 0, 0
			prepare := func() {
				id = fmt.Sprintf("chat-%d", dialogues)
				at = testNow.Add(-80*24*time.Hour + time.Duration(dialogues)*2*time.Minute)
				dialogues++
				evs := []domain.Event{started(b, id, at, "c", "chat", "direct", "", "ag", nil)}
				for i := range n {
					evs = append(evs, message(b, id, at.Add(time.Duration(i+1)*time.Second), "c"))
				}
				historytest.Apply(b, db, v, evs, 1000)
				at = at.Add(time.Duration(n+1) * time.Second)
				grown = 0
			}
			prepare()
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				if grown >= max(n/2, batch) {
					prepare()
				}
				evs := make([]domain.Event, batch)
				for i := range evs {
					at = at.Add(time.Second)
					evs[i] = message(b, id, at, "c")
				}
				grown += batch
				b.StartTimer()
				historytest.Apply(b, db, v, evs, batch)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/msg")
		})
	}
}

// TestHandleIsTheFirstPosition: an interaction's handle is the stream position of the
// first event applied to it, whatever the batching, and a position given twice to two
// interactions is refused as corruption rather than mixing their events.
func TestHandleIsTheFirstPosition(t *testing.T) {
	v, db := openView(t)
	at := testNow.Add(-time.Hour)
	batch := []projections.Applied{
		{Seq: 41, Event: started(t, "ix-a", at, "c", "chat", "direct", "", "ag", nil)},
		{Seq: 42, Event: message(t, "ix-a", at.Add(time.Second), "c")},
		{Seq: 43, Event: message(t, "ix-b", at.Add(2*time.Second), "c")},
	}
	if err := projections.Apply(db, v, batch); err != nil {
		t.Fatal(err)
	}
	if err := projections.Apply(db, v, []projections.Applied{{Seq: 44, Event: message(t, "ix-a", at.Add(3*time.Second), "c")}}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]uint64{"ix-a": 41, "ix-b": 43} {
		db.View(func(tx *bolt.Tx) error {
			h, _, err := lookup(tx.Bucket(bHandles), id)
			if err != nil || len(h) != 8 || binary.BigEndian.Uint64(h) != want {
				t.Errorf("%s: handle %x (%v), want position %d", id, h, err, want)
			}
			return nil
		})
	}
	err := projections.Apply(db, v, []projections.Applied{{Seq: 43, Event: message(t, "ix-c", at, "c")}})
	if !errors.Is(err, errCorrupt) {
		t.Errorf("a second interaction at position 43: %v, want errCorrupt", err)
	}
}
