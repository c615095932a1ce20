package eventstore_test

import (
	"slices"
	"strings"
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

// TestFewerReplicasReported: a stream that the servers cannot scale up to the replicas
// asked for is used as it is, and said so in Warnings and Streams, never silently.
func TestFewerReplicasReported(t *testing.T) {
	srv := storetest.RunServer(t)
	storetest.OpenURL(t, srv, eventstore.Config{}) // creates the streams with one replica
	s, err := eventstore.Open(testCtx(t), eventstore.Config{URL: srv.URL(), Replicas: 3}, nil)
	if err != nil {
		t.Fatalf("Open with 3 replicas on a single server holding R1 streams: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	hs, err := s.Streams(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if h.Replicas != 1 || h.Wanted != 3 {
			t.Errorf("%s: replicas %d, wanted %d: want 1 and 3", h.Name, h.Replicas, h.Wanted)
		}
	}
	warned := strings.Join(s.Warnings(), "\n")
	for _, name := range []string{eventstore.StreamEvents, eventstore.StreamDirectory, eventstore.StreamDead} {
		if !strings.Contains(warned, "stream "+name+" has 1 replica(s), fewer than the 3 configured") {
			t.Errorf("no warning about %s's replicas in:\n%s", name, warned)
		}
	}
	if !strings.Contains(warned, "sync policy unknown") {
		t.Errorf("no warning that the sync policy is unknown (no system account) in:\n%s", warned)
	}
}
