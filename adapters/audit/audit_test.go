package audit

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/eventstore"
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

// TestMessages: a read makes one record per customer it returned, each with that
// customer's interactions, stored with the other records of its agent and customer; a
// read that returned nothing makes one record without a customer.
func TestMessages(t *testing.T) {
	list := Record{AgentID: "ann", Action: "list", Rows: 3, RequestID: "r1"}
	empty := Record{AgentID: "ann", Action: "list", RequestID: "r2"}
	detail := Record{AgentID: "bob", Action: "detail", Rows: 1, RequestID: "r3"}
	msgs, counts := messages(subjects{}, []read{
		{list, []Hit{{"c1", "i1"}, {"c2", "i2"}, {"c1", "i3"}}},
		{empty, nil},
		{detail, []Hit{{"c1", "i1"}}},
		{list, []Hit{{"c2", "i4"}}},
	})
	type rec struct {
		customer, request string
		ids               []string
	}
	want := map[string][]rec{
		eventstore.AuditSubject("ann", "c1"): {{"c1", "r1", []string{"i1", "i3"}}},
		eventstore.AuditSubject("ann", "c2"): {{"c2", "r1", []string{"i2"}}, {"c2", "r1", []string{"i4"}}},
		eventstore.AuditSubject("ann", ""):   {{"", "r2", nil}},
		eventstore.AuditSubject("bob", "c1"): {{"c1", "r3", []string{"i1"}}},
	}
	if len(msgs) != len(want) {
		t.Fatalf("%d messages, want %d", len(msgs), len(want))
	}
	for i, m := range msgs {
		var recs []Record
		if err := json.Unmarshal(m.Data, &recs); err != nil {
			t.Fatalf("message %s: %v", m.Data, err)
		}
		var got []rec
		for _, r := range recs {
			got = append(got, rec{r.CustomerID, r.RequestID, r.InteractionIDs})
		}
		if !reflect.DeepEqual(got, want[m.Subject]) || counts[i] != len(got) {
			t.Errorf("%s: %+v (count %d), want %+v", m.Subject, got, counts[i], want[m.Subject])
		}
	}
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
