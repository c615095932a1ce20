package projections_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/adapters/viewsource"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/eventstore/storetest"
	"github.com/interaction-ledger/ledger/projections"
)

// namedSeqView is seqView under another name; refuse: it fails on a note "fail".
type namedSeqView struct {
	name   string
	refuse bool
}

func (v namedSeqView) Name() string         { return v.name }
func (namedSeqView) Stream() string         { return eventstore.StreamEvents }
func (namedSeqView) Init(tx *bolt.Tx) error { return seqView{}.Init(tx) }
func (v namedSeqView) Apply(tx *bolt.Tx, batch []projections.Applied) error {
	if !v.refuse {
		batch = slices.DeleteFunc(slices.Clone(batch), func(a projections.Applied) bool {
			n, ok := a.Event.Payload.(*domain.NoteData)
			return ok && n.Text == "fail"
		})
	}
	return seqView{}.Apply(tx, batch)
}

// TestReplayAll rebuilds two views of one stream from a single read of a real JetStream
// stream (more than one rebuild batch): both files hold every event once, at the
// stream's last sequence. When one view fails, neither live file is replaced and no
// rebuild file is left behind.
func TestReplayAll(t *testing.T) {
	store := storetest.Open(t, "")
	src := viewsource.New(store, 0)
	dir := t.TempDir()
	appendTexts := func(texts ...string) uint64 {
		t.Helper()
		raws := make([][]byte, len(texts))
		for i, text := range texts {
			raws[i] = note(t, text)
		}
		return appendNotes(t, store, raws...)
	}
	var texts []string
	for i := range projections.RebuildBatch + 123 {
		texts = append(texts, fmt.Sprint("n", i))
	}
	last := appendTexts(texts...)
	runner := func(name string, refuse bool) *projections.Runner {
		t.Helper()
		r, err := projections.OpenRunner(projections.RunnerConfig{Path: filepath.Join(dir, name+".db"),
			New: func(*projections.DB) projections.View { return namedSeqView{name, refuse} }, Log: src,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	a, b := runner("a", false), runner("b", true)
	var mu sync.Mutex
	progress := map[string]uint64{}
	done, err := projections.ReplayAll(t.Context(), []*projections.Runner{a, b}, func(view string, at, total uint64) {
		mu.Lock()
		defer mu.Unlock()
		if total != last || at <= progress[view] {
			t.Errorf("progress of %s: %d of %d after %d", view, at, total, progress[view])
		}
		progress[view] = at
	})
	if err != nil {
		t.Fatalf("ReplayAll: %v", err)
	}
	want := make([]uint64, last)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	for i, r := range []*projections.Runner{a, b} {
		if done[i].View != r.Name() || done[i].Checkpoint != last {
			t.Errorf("replayed %+v, want view %s at %d", done[i], r.Name(), last)
		}
		if got := appliedSeqs(t, r.DB()); !slices.Equal(got, want) {
			t.Errorf("view %s holds %d events, want 1..%d once each", r.Name(), len(got), last)
		}
	}
	if progress["a"] != last || progress["b"] != last {
		t.Errorf("progress ended at %v, want %d for both", progress, last)
	}

	// A view that fails: both live files stay at the first replay's state.
	appendTexts("x", "fail", "y")
	if _, err := projections.ReplayAll(t.Context(), []*projections.Runner{a, b}, nil); err == nil {
		t.Fatal("ReplayAll with a failing view succeeded")
	}
	for _, r := range []*projections.Runner{a, b} {
		if cp, err := r.DB().Checkpoint(); err != nil || cp != last {
			t.Errorf("view %s after the failed replay: checkpoint %d (%v), want %d", r.Name(), cp, err, last)
		}
		if _, err := os.Stat(r.DB().Path() + ".rebuild"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("view %s: rebuild file left behind (%v)", r.Name(), err)
		}
	}
}
