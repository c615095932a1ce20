package projections

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// stallingLog is a Log whose ordered read never ends before its context does: an online
// rebuild over it is always in progress when it is cancelled.
type stallingLog struct{ reading chan struct{} }

func (stallingLog) Consume(ctx context.Context, _, _ string, _ uint64, _ func(context.Context, []Message) error) error {
	<-ctx.Done()
	return nil
}
func (stallingLog) DeadLetter(context.Context, Message, string, string) error { return nil }
func (l stallingLog) Read(ctx context.Context, _ string, _ uint64, _ int, _ func(context.Context, []Message) error) error {
	close(l.reading)
	<-ctx.Done()
	return ctx.Err()
}
func (stallingLog) LastSeq(context.Context, string) (uint64, error) { return 10, nil }
func (stallingLog) Get(context.Context, string, uint64) (Message, error) {
	return Message{}, ErrNoMessage
}

// countView counts applied events in its own bucket.
type countView struct{}

func (countView) Name() string   { return "count" }
func (countView) Stream() string { return "LEDGER" }
func (countView) Init(tx *bolt.Tx) error {
	_, err := tx.CreateBucketIfNotExists([]byte("count"))
	return err
}
func (countView) Apply(*bolt.Tx, []Applied) error { return nil }

// TestRebuildOnlineIsAbandonedOnCancel: shutdown cancels an online rebuild in progress;
// the rebuild file is removed and the live file keeps serving as it was.
func TestRebuildOnlineIsAbandonedOnCancel(t *testing.T) {
	dir := t.TempDir()
	log := stallingLog{reading: make(chan struct{})}
	r, err := OpenRunner(RunnerConfig{Path: filepath.Join(dir, "count.db"), New: func(*DB) View { return countView{} }, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.DB().Update(func(tx *bolt.Tx) error { return writeCheckpoint(tx, Message{Seq: 7, Published: time.Now()}) }); err != nil {
		t.Fatal(err)
	}
	if _, err := r.BeginRebuild(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.BeginRebuild(); !errors.Is(err, ErrRebuildRunning) {
		t.Errorf("second BeginRebuild = %v, want ErrRebuildRunning", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.RebuildOnline(ctx) }()
	<-log.reading
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("RebuildOnline = %v, want context.Canceled", err)
	}
	if p := r.Progress(); p == nil || p.Finished.IsZero() || p.Error == "" {
		t.Errorf("progress after the abandoned rebuild = %+v, want finished with an error", p)
	}
	if r.Rebuilding() {
		t.Error("still rebuilding")
	}
	if _, err := os.Stat(r.DB().Path() + ".rebuild"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rebuild file left behind: %v", err)
	}
	if cp, err := r.DB().Checkpoint(); err != nil || cp != 7 {
		t.Errorf("live file after the abandoned rebuild: checkpoint %d, %v; want 7", cp, err)
	}
}

// TestWaitChange: a wait returns once what it watches differs, read again when a batch
// commits, and ends with its context.
func TestWaitChange(t *testing.T) {
	db, err := OpenDB(filepath.Join(t.TempDir(), "w.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var pos atomic.Uint64
	read := func() (uint64, error) { return pos.Load(), nil }
	done := make(chan uint64, 1)
	go func() {
		n, err := db.WaitChange(t.Context(), 0, read)
		if err != nil {
			t.Errorf("WaitChange: %v", err)
		}
		done <- n
	}()
	select {
	case n := <-done:
		t.Fatalf("returned %d before anything changed", n)
	case <-time.After(50 * time.Millisecond):
	}
	pos.Store(7)
	commit := func(seq uint64) {
		if err := db.Update(func(tx *bolt.Tx) error { return writeCheckpoint(tx, Message{Seq: seq, Published: time.Now()}) }); err != nil {
			t.Fatal(err)
		}
		db.advanced(seq)
	}
	commit(1)
	if n := <-done; n != 7 {
		t.Errorf("WaitChange = %d, want 7", n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if n, err := db.WaitChange(ctx, 7, read); !errors.Is(err, context.Canceled) || n != 7 {
		t.Errorf("WaitChange after cancel = %d, %v; want 7 and context.Canceled", n, err)
	}
}
