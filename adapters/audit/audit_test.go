package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/eventstore/storetest"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/auditindex"
)

// TestAppendJSON: the hand-written encoding reads back with encoding/json as the record
// it was, whatever its strings hold.
func TestAppendJSON(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC)
	tests := []struct {
		name string
		rec  Record
	}{
		{"plain", Record{At: at, AgentID: "ann", Role: "collaborator", Profile: "p", Action: "list",
			Query: "/v1/interactions?limit=50", CustomerID: "cus-1", InteractionIDs: []string{"a", "b"}, Rows: 2,
			RequestID: "r-1", ClientAddr: "127.0.0.1"}},
		{"empty optionals", Record{At: at, AgentID: "ann", Role: "manager", Action: "card", RequestID: "r", ClientAddr: "::1"}},
		{"hostile strings", Record{At: at, AgentID: "a\"b\\c\x01\n\t", Role: "r", Action: "detail",
			CustomerID: "tel:+33 é ☃ \u2028", InteractionIDs: []string{"x\x00y"}, RequestID: "\x7f", ClientAddr: "c"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.rec.appendJSON(nil)
			var got Record
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatalf("decode %s: %v", raw, err)
			}
			if !reflect.DeepEqual(got, tc.rec) {
				t.Errorf("round trip = %+v, want %+v", got, tc.rec)
			}
		})
	}
	var got Record
	bad := Record{AgentID: "bad\xffutf8"}
	if err := json.Unmarshal(bad.appendJSON(nil), &got); err != nil || got.AgentID != "bad\ufffdutf8" {
		t.Errorf("invalid UTF-8: %q, %v; want the replacement character", got.AgentID, err)
	}
}

// encode runs the encoder over batch as Run does, the reads messages stored at
// sequences 100, 101... except those listed in failed.
func encode(t *testing.T, batch []read, failed ...int) (reads, subjects []eventstore.Message, counts []int) {
	t.Helper()
	e := newEncoder()
	e.group(batch)
	reads = e.readsMessages(batch)
	seqs, stored := make([]uint64, len(reads)), make([]bool, len(reads))
	for i := range reads {
		seqs[i], stored[i] = uint64(100+i), !slices.Contains(failed, i)
	}
	subjects, counts = e.subjectMessages(seqs, stored)
	return reads, subjects, counts
}

// TestMessages: a read's record is stored once; it makes one reference per customer
// whose data it returned, each with that customer's interactions, stored with the other
// references of its agent and customer; a read that returned nothing makes one without
// a customer. Joined again, they are the records a read made.
func TestMessages(t *testing.T) {
	list := Record{AgentID: "ann", Action: "list", Rows: 3, RequestID: "r1", Query: "/v1/interactions?limit=50"}
	empty := Record{AgentID: "ann", Action: "list", RequestID: "r2"}
	detail := Record{AgentID: "bob", Action: "detail", Rows: 1, RequestID: "r3"}
	card := Record{AgentID: "bob", Action: "card", Rows: 1, RequestID: "r4", CustomerID: "c2"}
	reads, msgs, counts := encode(t, []read{
		{list, []Hit{{"c1", "i1"}, {"c2", "i2"}, {"c1", "i3"}}},
		{empty, nil},
		{detail, []Hit{{"c1", "i1"}}},
		{list, []Hit{{"c2", "i4"}}},
		{card, nil},
	})
	if len(reads) != 1 {
		t.Fatalf("%d reads messages, want 1", len(reads))
	}
	var stored []Record
	if err := json.Unmarshal(reads[0].Data, &stored); err != nil || len(stored) != 5 {
		t.Fatalf("reads message %s: %v, want the 5 reads", reads[0].Data, err)
	}
	for _, r := range stored {
		if r.CustomerID != "" || r.InteractionIDs != nil {
			t.Errorf("read record %+v holds a customer: those are in the subject messages", r)
		}
	}
	type rec struct {
		customer, request string
		ids               []string
	}
	want := map[string][]rec{
		eventstore.AuditSubject("ann", "c1"): {{"c1", "r1", []string{"i1", "i3"}}},
		eventstore.AuditSubject("ann", "c2"): {{"c2", "r1", []string{"i2"}}, {"c2", "r1", []string{"i4"}}},
		eventstore.AuditSubject("ann", ""):   {{"", "r2", nil}},
		eventstore.AuditSubject("bob", "c1"): {{"c1", "r3", []string{"i1"}}},
		eventstore.AuditSubject("bob", "c2"): {{"c2", "r4", nil}},
	}
	if len(msgs) != len(want) {
		t.Fatalf("%d subject messages, want %d", len(msgs), len(want))
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(reads[0].Data, &raw); err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs { // the reads are known: no store asked
		pm, err := parse(eventstore.Delivery{Seq: uint64(200 + i), Data: m.Data})
		if err != nil {
			t.Fatalf("message %s: %v", m.Data, err)
		}
		recs, err := records(pm, map[uint64][]json.RawMessage{100: raw})
		if err != nil {
			t.Fatalf("message %s: %v", m.Data, err)
		}
		var got []rec
		for _, r := range recs {
			got = append(got, rec{r.CustomerID, r.RequestID, r.InteractionIDs})
			if !r.ok || r.Action == "" || r.AgentID == "" {
				t.Errorf("%s: record %+v not joined to its read", m.Subject, r)
			}
		}
		if !reflect.DeepEqual(got, want[m.Subject]) || counts[i] != len(got) {
			t.Errorf("%s: %+v (count %d), want %+v", m.Subject, got, counts[i], want[m.Subject])
		}
	}
}

// TestMessagesSplitAndFailed: reads too large for one message are spread over several,
// and the references to reads whose message was not stored are left out (those records
// are lost, and counted so), never pointed elsewhere.
func TestMessagesSplitAndFailed(t *testing.T) {
	long := Record{AgentID: "ann", Action: "list", Query: "/v1/interactions?q=" + strings.Repeat("x", maxReadsMessage/3)}
	batch := []read{{long, []Hit{{"c1", "i1"}}}, {long, []Hit{{"c1", "i2"}}}, {long, []Hit{{"c1", "i3"}}},
		{long, []Hit{{"c1", "i4"}}}, {long, []Hit{{"c1", "i5"}}}}
	reads, msgs, counts := encode(t, batch, 0)
	if len(reads) < 2 {
		t.Fatalf("%d reads messages for %d bytes of reads, want several", len(reads), 5*maxReadsMessage/3)
	}
	var first []Record
	if err := json.Unmarshal(reads[0].Data, &first); err != nil {
		t.Fatal(err)
	}
	var m subjectMessage
	if len(msgs) != 1 || json.Unmarshal(msgs[0].Data, &m) != nil {
		t.Fatalf("subject messages %d, want 1 decodable", len(msgs))
	}
	if len(m.Refs) != len(batch)-len(first) || counts[0] != len(m.Refs) {
		t.Errorf("%d references (count %d), want the %d reads not in the failed message", len(m.Refs), counts[0], len(batch)-len(first))
	}
	for _, rf := range m.Refs {
		if rf.Seq == 100 {
			t.Errorf("reference %+v to the reads message that was not stored", rf)
		}
	}
}

// TestLogOnStore: on a real stream, the recorder's records read back by customer and by
// agent, page by page, joined to their reads; a message of the earlier layout (whole
// records in a JSON array) still reads.
func TestLogOnStore(t *testing.T) {
	store := storetest.Open(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	r, err := NewRecorder(Config{Store: store, Linger: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	old := Record{AgentID: "ann", Role: "collaborator", Action: "detail", CustomerID: "c1", InteractionIDs: []string{"i0"}, Rows: 1, RequestID: "r0"}
	res, err := store.Append(ctx, []eventstore.Message{{ID: "old", Subject: eventstore.AuditSubject("ann", "c1"),
		Data: append(append([]byte{'['}, old.appendJSON(nil)...), ']')}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("append old layout: %v %+v", err, res)
	}
	for i := range 3 {
		var hits []Hit
		for c := range 4 {
			hits = append(hits, Hit{fmt.Sprintf("c%d", c+1), fmt.Sprintf("i%d-%d", i, c)})
		}
		rec := Record{AgentID: "ann", Role: "collaborator", Action: "list", Rows: 4, RequestID: fmt.Sprintf("r%d", i+1)}
		if err := r.RecordRead(ctx, rec, hits); err != nil {
			t.Fatal(err)
		}
	}
	storetest.WaitFor(t, 10*time.Second, func() error {
		if n := r.Recorded(); n != 12 {
			return fmt.Errorf("%d records stored, want 12", n)
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var msgs []projections.Message
	err = store.Read(context.Background(), eventstore.StreamAudit, 1, 100, func(_ context.Context, ds []eventstore.Delivery) error {
		for _, d := range ds {
			msgs = append(msgs, projections.Message{Stream: d.Stream, Seq: d.Seq, Subject: d.Subject, Data: d.Data, Published: d.Published})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The index at every point of the stream: the pages must not depend on how far it
	// has read, nor on its holding entries whose messages are gone.
	logs := []struct {
		name string
		log  *Log
	}{{"no index", NewLog(store, nil)}}
	for _, upto := range []int{0, 1, len(msgs) / 2, len(msgs)} {
		logs = append(logs, struct {
			name string
			log  *Log
		}{fmt.Sprintf("index through %d of %d messages", upto, len(msgs)), NewLog(store, indexOf(t, msgs[:upto], nil))})
	}
	// Ghosts: an entry at a sequence that holds another subject's message (as after a
	// power cut took the stream's tail), and one at a sequence the stream lacks.
	ghosts := []projections.Message{{Stream: eventstore.StreamAudit, Seq: msgs[len(msgs)-1].Seq + 50, Subject: eventstore.AuditSubject("ann", "c1")}}
	for _, m := range msgs {
		if m.Subject == eventstore.AuditReadsSubject() {
			ghosts = append(ghosts, projections.Message{Stream: eventstore.StreamAudit, Seq: m.Seq, Subject: eventstore.AuditSubject("ann", "c1")})
			break
		}
	}
	logs = append(logs, struct {
		name string
		log  *Log
	}{"index with entries of messages the stream lacks", NewLog(store, indexOf(t, msgs, ghosts))})
	for _, tc := range logs {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.log
			for _, size := range []int{1, 2, 5} {
				all := func(get func(context.Context, string, Cursor, int) (Page, error), id string) []string {
					t.Helper()
					var got []string
					var after Cursor
					for range 40 {
						p, err := get(context.Background(), id, after, size)
						if err != nil || len(p.Items) > size {
							t.Fatalf("%s after %v: %+v %v", id, after, p, err)
						}
						for _, e := range p.Items {
							got = append(got, e.RequestID+":"+e.CustomerID+":"+strings.Join(e.InteractionIDs, ",")+":"+e.Action)
						}
						if p.Next == "" {
							return got
						}
						if after, err = ParseCursor(p.Next); err != nil {
							t.Fatal(err)
						}
					}
					t.Fatalf("%s: no last page", id)
					return nil
				}
				if got, want := all(l.Customer, "c1"), []string{"r0:c1:i0:detail", "r1:c1:i0-0:list", "r2:c1:i1-0:list", "r3:c1:i2-0:list"}; !slices.Equal(got, want) {
					t.Errorf("pages of %d: c1's access log = %v, want %v", size, got, want)
				}
				if got := all(l.Agent, "ann"); len(got) != 13 || got[0] != "r0:c1:i0:detail" {
					t.Errorf("pages of %d: ann's access log = %v, want the old record and 12 new ones", size, got)
				}
				if got := all(l.Agent, "bob"); len(got) != 0 {
					t.Errorf("pages of %d: bob's access log = %v, want none", size, got)
				}
			}
		})
	}
}

// indexOf is the audit's index over a file of its own, built by a projector from msgs,
// then, beyond its checkpoint's reach, given extra entries (ghosts: messages the stream
// does not hold).
func indexOf(t *testing.T, msgs, ghosts []projections.Message) *auditindex.View {
	t.Helper()
	v, db, p := openIndex(t, t.TempDir())
	if err := p.Handle(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return v.ApplyRaw(tx, ghosts) }); err != nil {
		t.Fatal(err)
	}
	return v
}

// openIndex opens the audit's index in dir (a rebuild's file: no fsync per commit) with
// the projector that feeds it, as the node's runner would.
func openIndex(tb testing.TB, dir string) (*auditindex.View, *projections.DB, *projections.Projector) {
	tb.Helper()
	db, err := projections.OpenDB(filepath.Join(dir, "audit.db"), projections.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	v := auditindex.New(db)
	p, err := projections.NewProjector(projections.ProjectorConfig{View: v, DB: db, DeadLetters: refuseDead{tb}})
	if err != nil {
		tb.Fatal(err)
	}
	return v, db, p
}

// refuseDead fails the test: the audit's index sets nothing aside.
type refuseDead struct{ t testing.TB }

func (r refuseDead) DeadLetter(_ context.Context, m projections.Message, _, reason string) error {
	r.t.Errorf("message %d set aside: %s", m.Seq, reason)
	return nil
}

// stalled is a store that takes nothing until released.
type stalled struct{ release chan struct{} }

func (s stalled) Append(ctx context.Context, msgs []eventstore.Message) ([]eventstore.AppendResult, error) {
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return make([]eventstore.AppendResult, len(msgs)), nil
}

// TestRecorderFailsClosed: with the store stalled and the buffer full, a read is refused
// (ErrUnavailable) after MaxWait rather than answered unrecorded; once the store takes
// messages again, every accepted read is recorded.
func TestRecorderFailsClosed(t *testing.T) {
	st := stalled{release: make(chan struct{})}
	r, err := NewRecorder(Config{Store: st, Buffer: 2, Batch: 1, Linger: time.Millisecond, MaxWait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	rec := Record{AgentID: "ann", Action: "detail"}
	accepted := 0
	var refused error
	for i := 0; i < 10 && refused == nil; i++ {
		if refused = r.RecordRead(ctx, rec, nil); refused == nil {
			accepted++
		}
	}
	if !errors.Is(refused, ErrUnavailable) {
		t.Fatalf("a read into a full buffer = %v, want ErrUnavailable", refused)
	}
	if accepted < 2 || accepted > 4 { // the buffer, and the batch in the stalled append
		t.Errorf("accepted %d reads before refusing, want the buffer's 2 plus the batch in flight", accepted)
	}
	close(st.release)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := r.Recorded(); got != uint64(accepted) || r.Lost() != 0 {
		t.Errorf("recorded %d, lost %d; want %d recorded, none lost", got, r.Lost(), accepted)
	}
}
