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

// TestRecords: a read makes one record per customer it returned, each with that
// customer's interactions; a read that returned nothing makes one record.
func TestRecords(t *testing.T) {
	base := Record{AgentID: "ann", Action: "list", Rows: 3}
	got := Records(base, []Hit{{"c1", "i1"}, {"c2", "i2"}, {"c1", "i3"}})
	if len(got) != 2 || got[0].CustomerID != "c1" || !reflect.DeepEqual(got[0].InteractionIDs, []string{"i1", "i3"}) ||
		got[1].CustomerID != "c2" || !reflect.DeepEqual(got[1].InteractionIDs, []string{"i2"}) || got[1].Rows != 3 {
		t.Errorf("Records = %+v", got)
	}
	if got := Records(base, nil); len(got) != 1 || got[0].CustomerID != "" {
		t.Errorf("Records of an empty read = %+v", got)
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
