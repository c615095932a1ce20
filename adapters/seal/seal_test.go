package seal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/seal"
	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/eventstore/storetest"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// sealed returns a store holding n events, sealed in runs of 3.
func sealed(t *testing.T, n int) (*eventstore.Store, *seal.Sealer) {
	t.Helper()
	store := storetest.Open(t, t.TempDir())
	appendEvents(t, store, 1, n)
	s, err := seal.New(seal.Config{Store: store, MaxEvents: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SealNow(testCtx(t)); err != nil {
		t.Fatalf("seal: %v", err)
	}
	return store, s
}

func appendEvents(t *testing.T, store *eventstore.Store, from, to int) {
	t.Helper()
	var msgs []eventstore.Message
	for i := from; i <= to; i++ {
		msgs = append(msgs, eventstore.Message{ID: fmt.Sprintf("ev-%d", i), Subject: "ledger.events.interaction.started",
			Data: []byte(fmt.Sprintf(`{"n":%d,"customer_id":"c-%d"}`, i, i%2))})
	}
	res, err := store.Append(testCtx(t), msgs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
}

// rewrite tampers with the stream through the ledger's own JetStream connection: it
// reads every message, deletes the stream, recreates it with the same configuration and
// republishes the messages as edit returns them (sequences follow the new order).
func rewrite(t *testing.T, store *eventstore.Store, edit func(msgs []eventstore.Delivery) []eventstore.Delivery) {
	t.Helper()
	ctx := testCtx(t)
	var msgs []eventstore.Delivery
	if err := store.Read(ctx, eventstore.StreamEvents, 0, 0, func(_ context.Context, b []eventstore.Delivery) error {
		for _, d := range b {
			d.Data = bytes.Clone(d.Data)
			msgs = append(msgs, d)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	js := store.JetStream()
	st, err := js.Stream(ctx, eventstore.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	if err := js.DeleteStream(ctx, eventstore.StreamEvents); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	for _, m := range edit(msgs) {
		if _, err := js.Publish(ctx, m.Subject, m.Data); err != nil {
			t.Fatal(err)
		}
	}
}

// TestVerifyCatchesTampering: a changed, a removed and an inserted event are each
// reported at their sequence, whichever way they were made.
func TestVerifyCatchesTampering(t *testing.T) {
	forged := eventstore.Delivery{Subject: "ledger.events.interaction.started", Data: []byte(`{"n":99}`)}
	tests := []struct {
		name   string
		tamper func(t *testing.T, store *eventstore.Store)
		want   seal.TamperError
	}{
		{"changed", func(t *testing.T, store *eventstore.Store) {
			rewrite(t, store, func(m []eventstore.Delivery) []eventstore.Delivery {
				m[3].Data = []byte(`{"n":4,"customer_id":"someone else"}`)
				return m
			})
		}, seal.TamperError{Seq: 4, Kind: seal.Changed}},
		{"moved to another subject", func(t *testing.T, store *eventstore.Store) {
			rewrite(t, store, func(m []eventstore.Delivery) []eventstore.Delivery {
				m[5].Subject = "ledger.events.interaction.ended"
				return m
			})
		}, seal.TamperError{Seq: 6, Kind: seal.Changed}},
		{"removed, the rest moved up", func(t *testing.T, store *eventstore.Store) {
			rewrite(t, store, func(m []eventstore.Delivery) []eventstore.Delivery { return slices.Delete(m, 2, 3) })
		}, seal.TamperError{Seq: 3, Kind: seal.Removed}},
		{"removed, a gap", func(t *testing.T, store *eventstore.Store) {
			st, err := store.JetStream().Stream(testCtx(t), eventstore.StreamEvents)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.DeleteMsg(testCtx(t), 5); err != nil {
				t.Fatal(err)
			}
		}, seal.TamperError{Seq: 5, Kind: seal.Removed}},
		{"removed, the last", func(t *testing.T, store *eventstore.Store) {
			rewrite(t, store, func(m []eventstore.Delivery) []eventstore.Delivery { return m[:len(m)-1] })
		}, seal.TamperError{Seq: 7, Kind: seal.Removed}},
		{"inserted", func(t *testing.T, store *eventstore.Store) {
			rewrite(t, store, func(m []eventstore.Delivery) []eventstore.Delivery { return slices.Insert(m, 1, forged) })
		}, seal.TamperError{Seq: 2, Kind: seal.Inserted}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store, _ := sealed(t, 7)
			if _, err := seal.Verify(testCtx(t), store, nil); err != nil {
				t.Fatalf("before tampering: %v", err)
			}
			tc.tamper(t, store)
			var out strings.Builder
			_, err := seal.Verify(testCtx(t), store, &out)
			var te *seal.TamperError
			if !errors.As(err, &te) || *te != tc.want {
				t.Fatalf("Verify = %v, want %v", err, &tc.want)
			}
			if !strings.Contains(out.String(), fmt.Sprintf("TAMPERED: event %s at sequence %d", tc.want.Kind, tc.want.Seq)) {
				t.Errorf("report:\n%s", out.String())
			}
		})
	}
}

// TestVerifyAcceptsErasure: erasure's secure deletes leave redaction records, so the
// gaps they leave are lawful; events after the last seal are counted, not judged; and a
// later seal continues the chain.
func TestVerifyAcceptsErasure(t *testing.T) {
	store, s := sealed(t, 7)
	if err := store.Erase(testCtx(t), eventstore.StreamEvents, []uint64{2, 6}); err != nil {
		t.Fatal(err)
	}
	appendEvents(t, store, 8, 9)
	rep, err := seal.Verify(testCtx(t), store, nil)
	if err != nil {
		t.Fatalf("Verify after erasure: %v", err)
	}
	if rep.Redacted != 2 || rep.Verified != 5 || rep.Unsealed != 2 || rep.Seals != 3 {
		t.Errorf("report = %+v, want 2 redacted, 5 verified, 2 unsealed, 3 seals", rep)
	}
	if err := s.SealNow(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	rep, err = seal.Verify(testCtx(t), store, nil)
	if err != nil || rep.Verified != 7 || rep.Unsealed != 0 || rep.LastSeq != 9 {
		t.Errorf("after a later seal: %+v, %v; want 7 verified up to 9", rep, err)
	}
	// No seal or redaction record holds an erased event's data.
	if err := store.Read(testCtx(t), eventstore.StreamSeals, 0, 0, func(_ context.Context, b []eventstore.Delivery) error {
		for _, d := range b {
			if bytes.Contains(d.Data, []byte("customer_id")) || bytes.Contains(d.Data, []byte(`"n"`)) {
				t.Errorf("seal %d holds event data: %s", d.Seq, d.Data)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestSealerResumes: a new sealer continues the chain where the stored seals end, and
// two sealers never fork it.
func TestSealerResumes(t *testing.T) {
	store, first := sealed(t, 4)
	second, err := seal.New(seal.Config{Store: store, MaxEvents: 100})
	if err != nil {
		t.Fatal(err)
	}
	appendEvents(t, store, 5, 6)
	if err := second.SealNow(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	appendEvents(t, store, 7, 7)
	// first still believes the chain ends at 4: its append is refused, then it reloads.
	if err := first.SealNow(testCtx(t)); !errors.Is(err, eventstore.ErrConflict) {
		t.Fatalf("stale sealer = %v, want ErrConflict", err)
	}
	if err := first.SealNow(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	rep, err := seal.Verify(testCtx(t), store, nil)
	if err != nil || rep.Verified != 7 || rep.Seals != 4 {
		t.Errorf("Verify = %+v, %v; want 7 verified in 4 seals", rep, err)
	}
}

// TestVerifySeals: a seal removed from the middle of the chain breaks it (forged); the
// oldest seals gone, as retention removes them, leave the oldest one left as the anchor.
func TestVerifySeals(t *testing.T) {
	deleteSeal := func(t *testing.T, store *eventstore.Store, seq uint64) {
		t.Helper()
		st, err := store.JetStream().Stream(testCtx(t), eventstore.StreamSeals)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteMsg(testCtx(t), seq); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("middle seal removed", func(t *testing.T) {
		store, _ := sealed(t, 7) // seals 1..3, 4..6, 7
		deleteSeal(t, store, 2)
		_, err := seal.Verify(testCtx(t), store, nil)
		var te *seal.TamperError
		if !errors.As(err, &te) || te.Kind != seal.Forged || te.Seq != 7 {
			t.Fatalf("Verify = %v, want the seal from 7 forged", err)
		}
	})
	t.Run("oldest seal expired", func(t *testing.T) {
		store, _ := sealed(t, 7)
		deleteSeal(t, store, 1)
		rep, err := seal.Verify(testCtx(t), store, nil)
		if err != nil || rep.Anchor == "" || rep.Verified != 4 || rep.Unsealed != 3 {
			t.Fatalf("Verify = %+v, %v; want 4 verified from an anchor, 3 before it", rep, err)
		}
	})
}
