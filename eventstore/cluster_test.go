package eventstore_test

import (
	"slices"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/eventstore/storetest"
)

// TestFillGap: a sequence a consumer did not deliver is either proven gone (erased, or
// before the stream's first after expiry) or fetched, so a projector never moves past it.
func TestFillGap(t *testing.T) {
	s := storetest.Open(t, "")
	mustAppend(t, s, msgs("g", 10, subjStarted))
	ctx := testCtx(t)
	if err := s.Erase(ctx, eventstore.StreamEvents, []uint64{3, 4, 7}); err != nil {
		t.Fatalf("Erase: %v", err)
	}
	seqs := func(ds []eventstore.Delivery) []uint64 {
		var out []uint64
		for _, d := range ds {
			if len(d.Data) == 0 || d.Subject != subjStarted {
				t.Errorf("seq %d: subject %q, %d bytes: want the stored message", d.Seq, d.Subject, len(d.Data))
			}
			out = append(out, d.Seq)
		}
		return out
	}
	got, err := s.FillGap(ctx, eventstore.StreamEvents, 2, 9)
	if err != nil {
		t.Fatalf("FillGap: %v", err)
	}
	if want := []uint64{2, 5, 6, 8, 9}; !slices.Equal(seqs(got), want) {
		t.Errorf("gap 2..9 after erasing 3, 4, 7: got %v, want %v", seqs(got), want)
	}

	// Expired (here purged) below the first sequence: nothing to fetch, nothing asked.
	st, err := s.JetStream().Stream(ctx, eventstore.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSequence(6)); err != nil {
		t.Fatalf("purge: %v", err)
	}
	got, err = s.FillGap(ctx, eventstore.StreamEvents, 1, 8)
	if err != nil {
		t.Fatalf("FillGap after purge: %v", err)
	}
	if want := []uint64{6, 8}; !slices.Equal(seqs(got), want) {
		t.Errorf("gap 1..8 after purging below 6: got %v, want %v", seqs(got), want)
	}
}
