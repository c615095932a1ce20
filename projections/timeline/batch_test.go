package timeline

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unsafe"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
)

// dumpView returns every key and value of every bucket of the view, in key order: what
// "the same view" means byte for byte, whatever the file's page layout.
func dumpView(t testing.TB, db *projections.DB) []string {
	t.Helper()
	var out []string
	err := db.View(func(tx *bolt.Tx) error {
		for _, name := range allBuckets() {
			b := tx.Bucket(name)
			if b == nil {
				return fmt.Errorf("bucket %s missing", name)
			}
			if err := b.ForEach(func(k, v []byte) error {
				out = append(out, fmt.Sprintf("%s %x %x", name, k, v))
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	must(t, err)
	return out
}

// replayInBatches applies evs into a fresh file in batches of size n and dumps it.
func replayInBatches(t testing.TB, evs []projections.Applied, n int) []string {
	return replayInto(t, evs, n, false)
}

// replayInto is replayInBatches, as a rebuild does it (bulk mode, then EndBulk and one
// more batch written live, as a rebuild's catch-up) when bulk is set.
func replayInto(t testing.TB, evs []projections.Applied, n int, bulk bool) []string {
	t.Helper()
	db, err := projections.OpenDB(filepath.Join(t.TempDir(), "timeline.db"), projections.Options{NoSync: true})
	must(t, err)
	defer db.Close()
	v := New(db)
	must(t, db.Update(v.Init))
	last := len(evs)
	if bulk {
		v.BeginBulk()
		last = len(evs) - min(len(evs)/10, 50)
	}
	for i := 0; i < last; i += n {
		batch := evs[i:min(i+n, last)]
		must(t, db.Update(func(tx *bolt.Tx) error { return v.Apply(tx, batch) }))
	}
	if bulk {
		must(t, v.EndBulk(db.Update))
		if last < len(evs) {
			must(t, db.Update(func(tx *bolt.Tx) error { return v.Apply(tx, evs[last:]) }))
		}
	}
	return dumpView(t, db)
}

// TestBulkLoadGivesTheLiveFile: a rebuild in bulk mode (interactions' items written from
// their records and counts derived from the items at the end, positions written from
// memory, in several passes and transactions each) leaves the file
// that applying the same events live leaves, for a scenario with merges and for merges
// and an erasure within batches.
func TestBulkLoadGivesTheLiveFile(t *testing.T) {
	defer func(c, p, i int) { bulkChunk, bulkTouched, bulkItemBytes = c, p, i }(bulkChunk, bulkTouched, bulkItemBytes)
	bulkChunk, bulkTouched, bulkItemBytes = 7, 5, 1500 // a few items per pass
	evs, err := scenarioApplied(2, 1500)
	must(t, err)
	h := newHarness(t)
	around := batchAroundMergeAndErase(h)
	// A customer erased by its last event: its position goes too.
	erased := slices.Clone(around)
	for _, e := range []domain.Event{
		h.ev("d-note", domain.TypeNoteAdded, h.at(7), "cust-d", map[string]any{"note_id": "n2", "text": "bye"}),
		h.ev("d-erase", domain.TypeCustomerErased, h.at(6), "cust-d", map[string]any{}),
		h.ev("e-note", domain.TypeNoteAdded, h.at(5), "cust-e", map[string]any{"note_id": "n3", "text": "hi"}), // the live tail
	} {
		erased = append(erased, projections.Applied{Seq: uint64(len(erased) + 1), Subject: subject(e), Event: e})
	}
	shared, _ := sharedStream(h)
	for _, tc := range []struct {
		name string
		evs  []projections.Applied
	}{{"scenario", evs}, {"merge and erase", around}, {"erased last", erased}, {"shared interactions erased", shared}} {
		want := replayInBatches(t, tc.evs, 1)
		for _, n := range []int{1, 3, 100} {
			got := replayInto(t, tc.evs, n, true)
			if !slices.Equal(got, want) {
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Fatalf("%s, batches of %d: %d entries, want %d; first difference at %d:\n got %s\nwant %s", tc.name, n, len(got), len(want), i, got[i], want[i])
					}
				}
				t.Fatalf("%s, batches of %d: %d entries, want %d", tc.name, n, len(got), len(want))
			}
		}
	}
}

func digest(lines []string) string {
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestBatchSizeDoesNotChangeTheView replays a scenario (interleaved interactions, late and
// duplicate events, merges, every card event) one event per transaction, which is how
// each event used to be written, and in bigger batches, where Apply folds the events of
// one interaction and writes once: every bucket must hold the same keys and values.
func TestBatchSizeDoesNotChangeTheView(t *testing.T) {
	evs, err := scenarioApplied(2, 1500)
	must(t, err)
	types := map[domain.EventType]int{}
	for _, a := range evs {
		types[a.Event.Type]++
	}
	if types[domain.TypeCustomerMerged] == 0 {
		t.Fatalf("scenario has no customer.merged: %v", types)
	}
	want := replayInBatches(t, evs, 1)
	if path := os.Getenv("TIMELINE_DUMP"); path != "" {
		must(t, os.WriteFile(path, []byte(digest(want)+"\n"), 0o644))
	}
	for _, n := range []int{7, 100, 1000, len(evs)} {
		got := replayInBatches(t, evs, n)
		if !slices.Equal(got, want) {
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Fatalf("batches of %d: %d entries, want %d; first difference at %d:\n got %s\nwant %s", n, len(got), len(want), i, got[i], want[i])
				}
			}
			t.Fatalf("batches of %d: %d entries, want %d", n, len(got), len(want))
		}
	}
	t.Logf("%d events, %d entries, digest %s", len(evs), len(want), digest(want))
}

// TestBatchAroundMergeAndErase puts an interaction's events before and after a merge and
// an erase of its customer in the same batch, and moves interactions between customers
// and kinds within the batch: the view must equal the one written event by event.
func TestBatchAroundMergeAndErase(t *testing.T) {
	batch := batchAroundMergeAndErase(newHarness(t))
	want := replayInBatches(t, batch, 1)
	if len(want) == 0 {
		t.Fatal("empty view")
	}
	for _, n := range []int{2, 3, 5, len(batch)} {
		if got := replayInBatches(t, batch, n); !slices.Equal(got, want) {
			t.Errorf("batches of %d:\n got %q\nwant %q", n, got, want)
		}
	}
}

// batchAroundMergeAndErase is TestBatchAroundMergeAndErase's stream.
func batchAroundMergeAndErase(h *harness) []projections.Applied {
	a, b, c := "cust-a", "cust-b", "cust-c"
	evs := []domain.Event{
		h.ev("x-msg", domain.TypeInteractionMessage, h.at(58), a, message("x", "incoming")),
		h.ev("x-start", domain.TypeInteractionStarted, h.at(60), a, started("x", "whatsapp", "incoming")),
		h.ev("y-start", domain.TypeInteractionStarted, h.at(50), c, started("y", "voice", "outgoing")),
		h.ev("a-note", domain.TypeNoteAdded, h.at(49), a, map[string]any{"note_id": "n1", "text": "hi"}),
		h.ev("z-end", domain.TypeInteractionEnded, h.at(40), b, ended("z", "processed")),
		h.ev("merge", domain.TypeCustomerMerged, h.at(30), b, map[string]any{"from_customer_id": a}),
		h.ev("x-msg2", domain.TypeInteractionMessage, h.at(29), a, message("x", "outgoing")),
		h.ev("x-end", domain.TypeInteractionEnded, h.at(28), a, ended("x", "processed")),
		h.ev("y-moves", domain.TypeInteractionEnded, h.at(27), a, ended("y", "processed")), // y now belongs to b, via a
		h.ev("z-start", domain.TypeInteractionStarted, h.at(45), c, started("z", "email", "outgoing")),
		h.ev("z-open", domain.TypeEmailOpened, h.at(20), c, map[string]any{"interaction_id": "z"}),
		h.ev("erase", domain.TypeCustomerErased, h.at(10), c, map[string]any{}),
		h.ev("z-open2", domain.TypeEmailOpened, h.at(9), c, map[string]any{"interaction_id": "z"}),
		h.ev("w-start", domain.TypeInteractionStarted, h.at(8), c, started("w", "sms", "outgoing")),
		h.ev("x-msg2", domain.TypeInteractionMessage, h.at(29), a, message("x", "outgoing")), // a duplicate
	}
	return numbered(evs)
}

// TestInitRefusesEarlierLayout: a file from before the layout version was kept (records
// keyed by id) is not read as if it were of this layout: Init says so and the runner
// rebuilds it (adapters/node's TestViewFileOfAnEarlierLayoutIsRebuilt; the version rules
// themselves: projections' TestInitLayout). Records are keyed by the handle the first event
// that changed them gave, whatever the batching (TestBatchSizeDoesNotChangeTheView).
func TestInitRefusesEarlierLayout(t *testing.T) {
	evs, err := scenarioApplied(3, 40)
	must(t, err)
	db, err := projections.OpenDB(filepath.Join(t.TempDir(), "timeline.db"), projections.Options{NoSync: true})
	must(t, err)
	defer db.Close()
	v := New(db)
	must(t, db.Update(v.Init))
	must(t, db.Update(func(tx *bolt.Tx) error { return v.Apply(tx, evs) }))
	must(t, db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(projections.LayoutBucket) }))
	if err := db.Update(v.Init); !errors.Is(err, projections.ErrLayoutChanged) {
		t.Fatalf("Init over records: %v, want ErrLayoutChanged", err)
	}
}

// TestBulkKeepsNoEnvelope: a rebuild keeps each customer's position in memory until its
// end; an event's strings point into its whole decoded envelope (domain.DecodeStored), so
// a kept customer id must be a copy, or every customer keeps one envelope alive (tens of
// MB at 2M envelopes).
func TestBulkKeepsNoEnvelope(t *testing.T) {
	h := newHarness(t)
	var batch []projections.Applied
	envelopes := map[*byte]bool{} // where the decoded events' customer ids point
	for i := range 20 {
		cust := fmt.Sprintf("cust-%d", i%7)
		e := h.ev(fmt.Sprintf("note-%d", i), domain.TypeNoteAdded, h.at(i), cust, map[string]any{"note_id": fmt.Sprintf("n-%d", i), "text": "x"})
		raw, err := e.Encode()
		must(t, err)
		ev, err := domain.DecodeStored(raw, h.now)
		must(t, err)
		envelopes[unsafe.StringData(ev.CustomerID)] = true
		h.seq++
		batch = append(batch, projections.Applied{Seq: h.seq, Subject: subject(ev), Event: ev})
	}
	h.v.BeginBulk()
	h.applyBatch(batch[:10])
	h.applyBatch(batch[10:])
	if len(h.v.touched) != 7 {
		t.Fatalf("positions kept: %d, want 7", len(h.v.touched))
	}
	for c := range h.v.touched {
		if envelopes[unsafe.StringData(c)] {
			t.Errorf("the position of %s is keyed by a string inside its event's envelope", c)
		}
	}
	must(t, h.v.EndBulk(h.db.Update))
}
