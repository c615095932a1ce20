package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/projections/history"
	"github.com/interaction-ledger/ledger/projections/timeline"
)

// notes builds n note.added envelopes for customer.
func notes(customer, prefix string, n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = ev("note.added", customer, 5, map[string]any{"note_id": fmt.Sprintf("%s-%d", prefix, i), "text": prefix + " text"})
	}
	return out
}

// streamBlocks are the LEDGER stream's message block files under dir.
func streamBlocks(t *testing.T, dir string) []string {
	t.Helper()
	var blks []string
	filepath.WalkDir(filepath.Join(dir, "nats"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".blk") && strings.Contains(path, string(filepath.Separator)+eventstore.StreamEvents+string(filepath.Separator)) {
			blks = append(blks, path)
		}
		return nil
	})
	if len(blks) == 0 {
		t.Fatal("no block file of the stream found")
	}
	return blks
}

// TestPowerCutLeavesNoViewAhead: a power cut loses the stream's tail (fsynced once a
// second) but not the views' (fsynced per commit). New events then take the lost
// sequences; a view that trusted its checkpoint would skip them for good.
func TestPowerCutLeavesNoViewAhead(t *testing.T) {
	dir := t.TempDir()
	l := openTestLedger(t, dir, nil)
	appendFixture(t, l, notes("cus-cut", "before", 40))
	runUntilCaughtUp(t, l)
	cpBefore, _ := l.View(timeline.Name).DB().Checkpoint()
	l.Close()

	// The power cut: the tail of the block file is gone, and with it the stream's own
	// index of it (written with the same lag).
	for _, blk := range streamBlocks(t, dir) {
		st, err := os.Stat(blk)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(blk, st.Size()*2/3); err != nil {
			t.Fatal(err)
		}
	}
	filepath.WalkDir(filepath.Join(dir, "nats"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "index.db" && strings.Contains(path, eventstore.StreamEvents) {
			os.Remove(path)
		}
		return nil
	})

	l = openTestLedger(t, dir, nil)
	defer l.Close()
	last, err := l.store.LastSeq(context.Background(), eventstore.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	if last >= cpBefore {
		t.Fatalf("the cut left the stream at %d, views at %d: the test proves nothing", last, cpBefore)
	}
	appendFixture(t, l, notes("cus-cut", "after", 3))
	runUntilCaughtUp(t, l)
	page, err := l.tl.Timeline("cus-cut", nil, 200, "")
	if err != nil {
		t.Fatal(err)
	}
	after := 0
	for _, it := range page.Items {
		if strings.Contains(string(mustJSON(t, it)), "after text") || strings.Contains(string(mustJSON(t, it)), "after-") {
			after++
		}
	}
	if after != 3 {
		t.Logf("timeline: %s", mustJSON(t, page.Items))
		t.Errorf("the timeline shows %d of the 3 notes acknowledged after the power cut", after)
	}
	st, err := l.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range st.Views {
		if v.Stream == eventstore.StreamEvents && !strings.Contains(v.Trouble, "diverged") {
			t.Errorf("status of %s does not report the divergence: %+v", v.Name, v)
		}
	}
	if got := testutilCount(t, l, "ledger_view_recoveries_total"); got < 2 {
		t.Errorf("ledger_view_recoveries_total = %v, want one per view of the stream", got)
	}
}

// testutilCount sums a counter family of the node's registry.
func testutilCount(t *testing.T, l *Node, name string) float64 {
	t.Helper()
	mfs, err := l.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// TestCorruptViewFileIsRebuilt: a truncated history.db, or random bytes over its pages,
// is found at open, moved aside and rebuilt from the stream; replay and status work
// whatever state the file is in, and nothing panics.
func TestCorruptViewFileIsRebuilt(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(t *testing.T, path string)
	}{
		{"truncated", func(t *testing.T, path string) {
			// After the two meta pages and one more: what the file holds lies beyond
			// (half the file may be free pages only, which bbolt grows ahead of need).
			if err := os.Truncate(path, 3*4096); err != nil {
				t.Fatal(err)
			}
		}},
		{"random pages", func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rand.Read(b[2*4096 : len(b)-4096]) // every page but the two meta pages and the last
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"random meta", func(t *testing.T, path string) {
			b, _ := os.ReadFile(path)
			rand.Read(b[:2*4096])
			os.WriteFile(path, b, 0o600)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openTestLedger(t, dir, nil)
			appendFixture(t, l, theFixture())
			runUntilCaughtUp(t, l)
			want := everything(t, l)
			l.Close()
			path := filepath.Join(dir, "views", history.Name+".db")
			tc.corrupt(t, path)

			// status and replay work whatever the file holds.
			var out, errb bytes.Buffer
			quiet := slog.New(slog.NewTextHandler(&errb, &slog.HandlerOptions{Level: slog.LevelError}))
			cfg := Config{DataDir: dir, HTTPAddr: "127.0.0.1:1"}
			if err := PrintStatus(context.Background(), cfg, false, &out, quiet); err != nil {
				t.Fatalf("status over a corrupt file: %v", err)
			}
			tc.corrupt(t, path)
			if err := Replay(context.Background(), cfg, history.Name, &out, quiet); err != nil {
				t.Fatalf("replay --view history over a corrupt file: %v", err)
			}
			tc.corrupt(t, path)

			// serve: found at open, moved aside, rebuilt before serving.
			l, _ = reopenRebuilt(t, dir, len(want))
			aside, _ := filepath.Glob(path + ".corrupt-*")
			if len(aside) == 0 {
				t.Error("the corrupt file was not kept aside")
			}
			if tr := l.View(history.Name).Trouble(); !strings.Contains(tr, "corrupt") {
				t.Errorf("the runner does not say what happened: %q", tr)
			}
		})
	}
}

// reopenRebuilt opens the ledger on dir again, lets every view check its file and catch up
// (rebuilding what it must before serving) and returns it with what its history lists,
// which must be want interactions.
func reopenRebuilt(t *testing.T, dir string, want int) (*Node, []history.Item) {
	t.Helper()
	l := openTestLedger(t, dir, nil)
	t.Cleanup(func() { l.Close() })
	runUntilCaughtUp(t, l)
	got := everything(t, l)
	if len(got) != want {
		t.Fatalf("after the rebuild the history lists %d interactions, want %d", len(got), want)
	}
	return l, got
}

// TestVerifyWhileProjecting: the periodic check against the stream runs beside the live
// projector; it must never take a moving checkpoint for a divergence (and rebuild a
// healthy view for nothing).
func TestVerifyWhileProjecting(t *testing.T) {
	l := openTestLedger(t, t.TempDir(), nil)
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = l.RunProjectors(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for round := range 20 {
		appendFixture(t, l, notes("cus-v", fmt.Sprint("r", round), 50))
		for _, v := range l.Views() {
			if err := v.Verify(context.Background()); err != nil {
				t.Fatalf("round %d: %s: %v", round, v.Name(), err)
			}
		}
	}
}

// TestViewFileOfAnEarlierLayoutIsRebuilt: view files written before interactions had
// handles (issue 16) are neither read as if they had them nor left failing: the ledger
// rebuilds them from the stream before the views serve, with every interaction, event and
// timeline item.
func TestViewFileOfAnEarlierLayoutIsRebuilt(t *testing.T) {
	dir := t.TempDir()
	l := openTestLedger(t, dir, nil)
	appendFixture(t, l, theFixture())
	runUntilCaughtUp(t, l)
	want := everything(t, l)
	if len(want) == 0 {
		t.Fatal("the fixture lists nothing")
	}
	details := map[string]int{}
	cards := map[string]int{}
	for _, it := range want {
		d, err := l.hist.GetPage(admin, it.InteractionID, history.EventsPage{})
		if err != nil {
			t.Fatal(err)
		}
		details[it.InteractionID] = len(d.Events)
		cards[it.CustomerID] = cardItems(t, l, it.CustomerID)
	}
	if total := func() (n int) {
		for _, c := range cards {
			n += c
		}
		return n
	}(); total == 0 {
		t.Fatal("the fixture's customers have no timeline items")
	}
	l.Close()
	// Files from before the layout had a version: the ledger must not read them as this one.
	for _, name := range []string{history.Name, timeline.Name} {
		db, err := bolt.Open(filepath.Join(dir, "views", name+".db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("layout")) }); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}

	l, got := reopenRebuilt(t, dir, len(want))
	for _, it := range got {
		d, err := l.hist.GetPage(admin, it.InteractionID, history.EventsPage{})
		if err != nil {
			t.Fatalf("detail of %s after the rebuild: %v", it.InteractionID, err)
		}
		if n, ok := details[it.InteractionID]; !ok || n != len(d.Events) {
			t.Errorf("%s: %d events after the rebuild, %d before (listed before: %v)", it.InteractionID, len(d.Events), n, ok)
		}
	}
	for c, n := range cards {
		if got := cardItems(t, l, c); got != n {
			t.Errorf("customer %s: %d timeline items after the rebuild, %d before", c, got, n)
		}
	}
}

// cardItems is the number of items of customer's timeline.
func cardItems(t *testing.T, l *Node, customer string) int {
	t.Helper()
	p, err := l.tl.Timeline(customer, nil, 500, "")
	if err != nil {
		t.Fatal(err)
	}
	return len(p.Items)
}
