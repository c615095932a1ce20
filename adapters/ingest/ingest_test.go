package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/interaction-ledger/ledger/adapters/ingest"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/eventstore/storetest"
)

// stored reads every envelope id of StreamEvents, in stream order.
func stored(t *testing.T, s *eventstore.Store) []string {
	t.Helper()
	var ids []string
	err := s.Read(context.Background(), eventstore.StreamEvents, 1, 100, func(_ context.Context, ds []eventstore.Delivery) error {
		for _, d := range ds {
			var env struct{ ID string }
			if err := json.Unmarshal(d.Data, &env); err != nil {
				return fmt.Errorf("seq %d: %w", d.Seq, err)
			}
			ids = append(ids, env.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read stream: %v", err)
	}
	return ids
}

func envelope(t *testing.T, fields map[string]any) []byte {
	t.Helper()
	env := map[string]any{"type": "note.added", "occurred_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano),
		"customer_id": "cust-1", "data": map[string]any{"note_id": uuid.NewString(), "text": "hello"}}
	for k, v := range fields {
		if v == nil {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIngestOutcomes judges each envelope of a batch on its own against the real stream:
// the valid ones are stored (a resent id once), the invalid ones are rejected naming the
// field and nothing of them is stored.
func TestIngestOutcomes(t *testing.T) {
	store := storetest.Open(t, "")
	svc := ingest.New(store, nil, ingest.Observer{})
	known := uuid.NewString()
	if out, err := svc.Ingest(context.Background(), [][]byte{envelope(t, map[string]any{"id": known})}); err != nil || out[0].Status != ingest.StatusAccepted {
		t.Fatalf("first send: %+v, %v", out, err)
	}
	fresh := uuid.NewString()
	raws := [][]byte{
		envelope(t, map[string]any{"id": fresh}),
		envelope(t, map[string]any{"id": known}),
		envelope(t, map[string]any{"customer_id": nil}),
		envelope(t, map[string]any{"type": "no.such.type"}),
		envelope(t, map[string]any{"occurred_at": time.Now().AddDate(0, -5, 0).Format(time.RFC3339)}),
		envelope(t, map[string]any{"data": map[string]any{"note_id": "n1"}}),
		[]byte(`{"id": `),
		envelope(t, map[string]any{"id": nil}),
	}
	out, err := svc.Ingest(context.Background(), raws)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	want := []struct {
		status, field string
	}{
		{ingest.StatusAccepted, ""},
		{ingest.StatusDuplicate, ""},
		{ingest.StatusRejected, "customer_id"},
		{ingest.StatusRejected, "type"},
		{ingest.StatusRejected, "occurred_at"},
		{ingest.StatusRejected, "data.text"},
		{ingest.StatusRejected, "envelope"},
		{ingest.StatusAccepted, ""},
	}
	if len(out) != len(want) {
		t.Fatalf("got %d outcomes, want %d", len(out), len(want))
	}
	for i, w := range want {
		o := out[i]
		if o.Index != i || o.Status != w.status || o.Field != w.field {
			t.Errorf("outcome %d: got %+v, want status %s field %q", i, o, w.status, w.field)
		}
		if o.Status == ingest.StatusRejected && o.Error == "" {
			t.Errorf("outcome %d: rejected without a reason", i)
		}
		if o.Status != ingest.StatusRejected && o.Seq == 0 {
			t.Errorf("outcome %d: %s without a stream sequence", i, o.Status)
		}
	}
	if out[1].Seq != 1 {
		t.Errorf("duplicate: got seq %d, want the original's 1", out[1].Seq)
	}
	if _, err := uuid.Parse(out[7].ID); err != nil || out[7].ID == "" {
		t.Errorf("envelope without id: got id %q, want an assigned UUID", out[7].ID)
	}
	if got, want := stored(t, store), []string{known, fresh, out[7].ID}; !slices.Equal(got, want) {
		t.Errorf("stream holds %v, want %v", got, want)
	}
}

// TestAppendExpecting: a task command appends only on the sequence it read.
func TestAppendExpecting(t *testing.T) {
	store := storetest.Open(t, "")
	svc := ingest.New(store, nil, ingest.Observer{})
	task := func(ty domain.EventType) domain.Event {
		t.Helper()
		ev, err := domain.NewEvent(uuid.NewString(), ty, time.Now().Add(-time.Second), "cust-1", "test",
			&domain.TaskData{TaskID: "t1", Title: "Call back"}, time.Now())
		if err != nil {
			t.Fatalf("task event: %v", err)
		}
		return ev
	}
	filter := eventstore.TaskSubjectFilter("cust-1", "t1")
	seq, err := svc.AppendExpecting(context.Background(), task(domain.TypeTaskCreated), filter, 0)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := svc.AppendExpecting(context.Background(), task(domain.TypeTaskCompleted), filter, 0); !errors.Is(err, eventstore.ErrConflict) {
		t.Fatalf("append on a stale sequence: got %v, want ErrConflict", err)
	}
	if _, err := svc.AppendExpecting(context.Background(), task(domain.TypeTaskCompleted), filter, seq); err != nil {
		t.Fatalf("append on the current sequence: %v", err)
	}
	if n := len(stored(t, store)); n != 2 {
		t.Errorf("stream holds %d events, want 2 (the conflicting one not stored)", n)
	}
}
