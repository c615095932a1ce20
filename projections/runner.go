package projections

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Log is what a Runner needs of the event store: the live feed of a durable consumer
// (Source), a place for dead letters, an ordered read from any sequence (rebuilds and
// catch-up) and the stream's last sequence. The event store's adapter implements it; the
// projections never import the event store.
type Log interface {
	Source
	DeadLetters
	// Read calls fn with the stream's messages from sequence from on, in order and in
	// batches of at most batch, up to the last sequence when Read started.
	Read(ctx context.Context, stream string, from uint64, batch int, fn func(context.Context, []Message) error) error
	// LastSeq is the stream's last sequence (0 when empty).
	LastSeq(ctx context.Context, stream string) (uint64, error)
	// Get returns the message at seq; an error wrapping ErrNoMessage when the stream does
	// not hold one there (deleted by an erasure, expired, or never stored).
	Get(ctx context.Context, stream string, seq uint64) (Message, error)
}

// ErrNoMessage: the stream holds no message at a sequence.
var ErrNoMessage = errors.New("no message at that sequence")

// DivergedError says that a view's file does not match the stream: its checkpoint is
// beyond the stream's last sequence, or the message the stream holds at the checkpoint
// is not the one the view applied. After a power cut the stream (fsynced once a second)
// can lose a tail that the view (fsynced per commit) had applied; new events then take
// the lost sequences, and a view that trusted its checkpoint would skip them.
type DivergedError struct {
	View       string
	Checkpoint uint64
	StreamLast uint64
	Reason     string
}

func (e *DivergedError) Error() string {
	return fmt.Sprintf("view %s diverged from its stream: checkpoint %d, stream at %d: %s", e.View, e.Checkpoint, e.StreamLast, e.Reason)
}

// RebuildBatch is how many messages a rebuild or a catch-up applies per bbolt
// transaction: large transactions on a NoSync file are where a rebuild's speed comes from.
const RebuildBatch = 5000

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	// Path is the view's file. Required.
	Path string
	// New returns the view on a file: the live one, a rebuild or a compacted copy. Required.
	New func(*DB) View
	// Log is the event store. Required.
	Log Log
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock that retention is judged against; default time.Now.
	Now func() time.Time
	// Observer receives the projector's figures.
	Observer Observer
	// Decoded, when set, is shared with the other projectors of the same stream.
	Decoded *DecodeCache
	// Maintenance, if set, is held by every rebuild once the view is serving (an online
	// rebuild reads the stream outside the gate; an erasure holds the same lock so that
	// no rebuild can swap erased data back in).
	Maintenance sync.Locker
	// Trouble, if set, hears of a view found corrupt or diverged (metrics).
	Trouble func(view, kind string)
	// Node is the ledger node's id in the durable consumer's name (ProjectorConfig.Node).
	Node string
}

// Kinds of trouble a runner recovers from by itself.
const (
	TroubleCorrupt  = "corrupt"
	TroubleDiverged = "diverged"
)

// Runner owns one view: its file, its live projector, and the gate that lets a rebuild
// or a compaction swap the file in between two batches of the live projector.
type Runner struct {
	cfg  RunnerConfig
	name string
	db   *DB
	view View
	proj *Projector
	gate sync.RWMutex // batches hold it shared; a swap holds it exclusively

	rebuilding atomic.Bool
	progress   atomic.Pointer[RebuildProgress]
	// movedAside is the path a corrupt file was moved to at open ("" if none): Run
	// rebuilds the view before it serves.
	movedAside string
	ready      chan struct{} // closed once Run has checked (and if need be rebuilt) the file
	trouble    atomic.Pointer[string]
}

// RebuildProgress is the state of the last online rebuild of a view.
type RebuildProgress struct {
	Started  time.Time `json:"started"`
	Done     uint64    `json:"done"`
	Total    uint64    `json:"total"`
	Finished time.Time `json:"finished,omitzero"`
	Error    string    `json:"error,omitempty"`
}

// ErrRebuildRunning is returned when a view is asked to rebuild while it already is.
var ErrRebuildRunning = errors.New("a rebuild of this view is already running")

// OpenRunner opens the view's file and prepares its projector.
func OpenRunner(cfg RunnerConfig) (*Runner, error) {
	var errs []error
	if cfg.Path == "" {
		errs = append(errs, errors.New("runner: Path is required"))
	}
	if cfg.New == nil {
		errs = append(errs, errors.New("runner: New is required"))
	}
	if cfg.Log == nil {
		errs = append(errs, errors.New("runner: Log is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg.Logger, cfg.Now = defaults(cfg.Logger, cfg.Now)
	db, err := OpenDB(cfg.Path, Options{})
	var aside string
	if errors.Is(err, ErrCorrupt) {
		aside = fmt.Sprintf("%s.corrupt-%d", cfg.Path, cfg.Now().Unix())
		cfg.Logger.Error("view file is corrupt: moving it aside and rebuilding the view from the stream",
			"file", cfg.Path, "moved_to", aside, "err", err)
		if rerr := os.Rename(cfg.Path, aside); rerr != nil {
			return nil, errors.Join(err, fmt.Errorf("move corrupt view file aside: %w", rerr))
		}
		db, err = OpenDB(cfg.Path, Options{})
	}
	if err != nil {
		return nil, err
	}
	r := &Runner{cfg: cfg, db: db, view: cfg.New(db), movedAside: aside, ready: make(chan struct{})}
	if aside != "" {
		r.noteTrouble(TroubleCorrupt, "file moved aside to "+aside+"; rebuilt from the stream")
	}
	r.name = r.view.Name()
	r.proj, err = r.newProjector()
	if errors.Is(err, ErrLayoutChanged) {
		// Nothing in the file is lost: the view is derived from the stream. An empty file
		// is rebuilt before the view serves (startup), as a missing one would be.
		cfg.Logger.Info("view file has another key layout: rebuilding the view from the stream",
			"view", r.name, "file", cfg.Path, "reason", err)
		if rerr := db.discard(); rerr != nil {
			return nil, errors.Join(err, fmt.Errorf("remove view file of another layout: %w", rerr))
		}
		if db, err = OpenDB(cfg.Path, Options{}); err != nil {
			return nil, err
		}
		r.db, r.view = db, cfg.New(db)
		r.proj, err = r.newProjector()
	}
	if err != nil {
		r.db.Close()
		return nil, err
	}
	return r, nil
}

func (r *Runner) newProjector() (*Projector, error) {
	cfg := r.cfg
	return NewProjector(ProjectorConfig{View: r.view, DB: r.db, Source: gatedSource{src: cfg.Log, gate: &r.gate},
		DeadLetters: cfg.Log, Logger: cfg.Logger, Now: cfg.Now, Observer: cfg.Observer, Decoded: cfg.Decoded, Node: cfg.Node})
}

// gatedSource holds the runner's gate shared around every live batch, so that a swap
// (which holds it exclusively) happens between two batches.
type gatedSource struct {
	src  Source
	gate *sync.RWMutex
}

func (g gatedSource) Consume(ctx context.Context, stream, durable string, after uint64, handle func(context.Context, []Message) error) error {
	return g.src.Consume(ctx, stream, durable, after, func(ctx context.Context, ms []Message) error {
		g.gate.RLock()
		defer g.gate.RUnlock()
		return handle(ctx, ms)
	})
}

// Name is the view's name.
func (r *Runner) Name() string { return r.name }

// Stream is the stream the view reads.
func (r *Runner) Stream() string { return r.view.Stream() }

// DB is the view's live file.
func (r *Runner) DB() *DB { return r.db }

// View is the live view (the one the queries read).
func (r *Runner) View() View { return r.view }

// WaitCheckpoint blocks until the view has applied the stream up to seq, or ctx ends.
func (r *Runner) WaitCheckpoint(ctx context.Context, seq uint64) error {
	return r.db.WaitCheckpoint(ctx, seq)
}

// Progress is the state of the last online rebuild, nil if none ran.
func (r *Runner) Progress() *RebuildProgress { return r.progress.Load() }

// Trouble is the last corruption or divergence the runner found and recovered from
// ("" if none), for status.
func (r *Runner) Trouble() string {
	if t := r.trouble.Load(); t != nil {
		return *t
	}
	return ""
}

func (r *Runner) noteTrouble(kind, what string) {
	msg := fmt.Sprintf("%s at %s: %s", kind, r.cfg.Now().UTC().Format(time.RFC3339), what)
	r.trouble.Store(&msg)
	if r.cfg.Trouble != nil {
		r.cfg.Trouble(r.name, kind)
	}
}

// Ready is closed once Run has checked the view against its stream (and rebuilt it if
// need be) and the live projector runs. The eraser waits for it.
func (r *Runner) Ready() <-chan struct{} { return r.ready }

// Run keeps the view up to date until ctx ends. First it makes sure the file can be
// trusted: a file moved aside as corrupt, an empty file over a non-empty stream, or a
// checkpoint that diverged from the stream is rebuilt (a bulk rebuild is many times
// faster than the live path). Then it runs the projector, restarting it after a pause
// when a batch cannot be applied (the batch stays unacknowledged and is tried again), and
// rebuilding the file when it turns out corrupt.
func (r *Runner) Run(ctx context.Context) error {
	if err := r.startup(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		r.cfg.Logger.Error("view start-up check failed; serving the file as it is", "view", r.name, "err", err)
	}
	select {
	case <-r.ready:
	default:
		close(r.ready)
	}
	for {
		err := r.proj.Run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrCorrupt) {
			r.recover(ctx, TroubleCorrupt, err)
			continue
		}
		r.cfg.Logger.Error("projector stopped; restarting", "view", r.name, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// startup rebuilds the view before it serves when its file cannot be trusted.
func (r *Runner) startup(ctx context.Context) error {
	cp, err := r.db.Checkpoint()
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			return r.rebuildNow(ctx, TroubleCorrupt, err, false)
		}
		return err
	}
	if r.movedAside != "" {
		return r.rebuildNow(ctx, TroubleCorrupt, fmt.Errorf("corrupt file moved aside to %s", r.movedAside), false)
	}
	last, err := r.cfg.Log.LastSeq(ctx, r.Stream())
	if err != nil {
		return err
	}
	if cp == 0 && last > 0 {
		r.cfg.Logger.Info("empty view over a non-empty stream: bulk rebuild before serving", "view", r.name, "stream_last", last)
		return r.rebuildNow(ctx, "", nil, false)
	}
	if err := r.Verify(ctx); err != nil {
		var d *DivergedError
		if errors.As(err, &d) {
			return r.rebuildNow(ctx, TroubleDiverged, err, false)
		}
		return err
	}
	return nil
}

// Verify checks the view against its stream (a *DivergedError when they disagree). A
// checkpointed message that the stream no longer holds (erased or expired) cannot be
// compared and passes: JetStream never reuses a sequence below its last one.
func (r *Runner) Verify(ctx context.Context) error {
	// The checkpoint and its fingerprint come from one transaction: the live projector
	// moves both while this runs.
	cp, fp, err := r.db.CheckpointFingerprint()
	if err != nil || cp == 0 {
		return err
	}
	last, err := r.cfg.Log.LastSeq(ctx, r.Stream())
	if err != nil {
		return err
	}
	if cp > last {
		return &DivergedError{View: r.name, Checkpoint: cp, StreamLast: last, Reason: "the checkpoint is beyond the stream's last sequence"}
	}
	if fp == nil {
		return nil
	}
	m, err := r.cfg.Log.Get(ctx, r.Stream(), cp)
	if errors.Is(err, ErrNoMessage) {
		return nil
	}
	if err != nil {
		return err
	}
	if !bytes.Equal(Fingerprint(m), fp) {
		return &DivergedError{View: r.name, Checkpoint: cp, StreamLast: last, Reason: "the stream holds another message at the checkpoint"}
	}
	return nil
}

// CheckAndRecover verifies the view while it serves and rebuilds it online when it
// diverged from its stream; the node calls it periodically.
func (r *Runner) CheckAndRecover(ctx context.Context) error {
	if r.rebuilding.Load() {
		return nil
	}
	err := r.Verify(ctx)
	var d *DivergedError
	switch {
	case errors.As(err, &d):
		r.recover(ctx, TroubleDiverged, err)
		return nil
	case errors.Is(err, ErrCorrupt):
		r.recover(ctx, TroubleCorrupt, err)
		return nil
	}
	return err
}

// recover rebuilds a serving view found corrupt or diverged.
func (r *Runner) recover(ctx context.Context, kind string, cause error) {
	if err := r.rebuildNow(ctx, kind, cause, true); err != nil && ctx.Err() == nil {
		r.cfg.Logger.Error("view rebuild after "+kind+" failed; will try again", "view", r.name, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// rebuildNow rebuilds the view from the stream because of cause (nil: a plain bulk
// load), while the current file keeps answering; a corrupt file is kept beside as
// <file>.corrupt-<unix time> for inspection. serving: the view is live (take the
// maintenance lock).
func (r *Runner) rebuildNow(ctx context.Context, kind string, cause error, serving bool) error {
	if !r.rebuilding.CompareAndSwap(false, true) {
		return ErrRebuildRunning
	}
	defer r.rebuilding.Store(false)
	if cause != nil {
		r.cfg.Logger.Error("view "+kind+": rebuilding it from the stream", "view", r.name, "err", cause)
		if kind == TroubleCorrupt && r.movedAside == "" {
			aside := fmt.Sprintf("%s.corrupt-%d", r.db.Path(), r.cfg.Now().Unix())
			if err := os.Link(r.db.Path(), aside); err == nil {
				cause = fmt.Errorf("%w (file kept as %s)", cause, aside)
			}
		}
		r.noteTrouble(kind, cause.Error())
	}
	r.movedAside = ""
	if serving && r.cfg.Maintenance != nil {
		r.cfg.Maintenance.Lock()
		defer r.cfg.Maintenance.Unlock()
	}
	start := time.Now()
	if err := r.rebuildOnline(ctx, nil, cause == nil); err != nil {
		return err
	}
	r.cfg.Logger.Info("view rebuilt from the stream", "view", r.name, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// Close closes the view's file.
func (r *Runner) Close() error { return r.db.Close() }

// discardDead counts envelopes a rebuild finds invalid without setting them aside again:
// the live projector already did, and a replay must not fill the dead-letter stream twice.
type discardDead struct{ n *atomic.Int64 }

func (d discardDead) DeadLetter(context.Context, Message, string, string) error {
	d.n.Add(1)
	return nil
}

// rebuildInto fills a fresh file from the stream, from sequence 1 up to the stream's last
// sequence when it starts, and returns it open. The file is written without fsync per
// commit and synced once at the end. Nothing of the live file is touched.
//
// first: the view has never applied the stream (an empty file): the rebuild is its first
// pass, so it sets invalid envelopes aside and feeds the observer as the live projector
// would. Any other rebuild counts them without setting them aside again.
func (r *Runner) rebuildInto(ctx context.Context, dec *DecodeCache, progress func(done, total uint64), first bool) (*DB, error) {
	rb, err := r.openRebuild(dec, first)
	if err != nil {
		return nil, err
	}
	total, err := r.cfg.Log.LastSeq(ctx, r.Stream())
	if err != nil {
		return rb.fail(err)
	}
	err = r.cfg.Log.Read(ctx, r.Stream(), 1, RebuildBatch, func(ctx context.Context, batch []Message) error {
		if err := rb.proj.Handle(ctx, batch); err != nil {
			return err
		}
		if progress != nil {
			progress(batch[len(batch)-1].Seq, total)
		}
		return nil
	})
	if err != nil {
		return rb.fail(fmt.Errorf("rebuild %s: %w", r.name, err))
	}
	return rb.finish()
}

// rebuild is a fresh file being filled from the stream (rebuildInto, ReplayAll).
type rebuild struct {
	r    *Runner
	db   *DB
	view View
	proj *Projector
	dead atomic.Int64
}

// BulkLoader is a View that fills a fresh file faster when told it is one: it may leave
// out, while the stream is read, entries it can derive at the end from what it did write
// (posting lists, sort indexes, counts: random inserts, the dearest writes there are), and
// write them at the end, each bucket's keys in order. Rebuilds tell it (Replay, ReplayAll,
// the first build); a live view never is one. Nothing but the rebuild reads the file
// between BeginBulk and EndBulk, and a rebuild that fails is thrown away.
type BulkLoader interface {
	View
	// BeginBulk is called once, before the first Apply.
	BeginBulk()
	// EndBulk writes what was left out, through update (one call per transaction, so
	// that no transaction holds the whole of it), and returns the view to writing
	// everything as it applies (the catch-up that follows a rebuild).
	EndBulk(update func(fn func(*bolt.Tx) error) error) error
}

// openRebuild creates the fresh file and its projector; first as for rebuildInto.
func (r *Runner) openRebuild(dec *DecodeCache, first bool) (*rebuild, error) {
	path := r.db.Path() + ".rebuild"
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale rebuild file: %w", err)
	}
	db, err := OpenDB(path, Options{NoSync: true})
	if err != nil {
		return nil, err
	}
	rb := &rebuild{r: r, db: db, view: r.cfg.New(db)}
	if bl, ok := rb.view.(BulkLoader); ok {
		bl.BeginBulk()
	}
	pcfg := ProjectorConfig{View: rb.view, DB: db, DeadLetters: discardDead{&rb.dead},
		Logger: r.cfg.Logger, Now: r.cfg.Now, Decoded: dec}
	if first {
		pcfg.DeadLetters, pcfg.Observer = r.cfg.Log, r.cfg.Observer
	}
	if rb.proj, err = NewProjector(pcfg); err != nil {
		_, err = rb.fail(err)
		return nil, err
	}
	return rb, nil
}

// fail closes and removes the fresh file.
func (rb *rebuild) fail(err error) (*DB, error) {
	rb.db.discard()
	return nil, err
}

// finish writes what a bulk load left out, syncs the fresh file once and returns it open.
func (rb *rebuild) finish() (*DB, error) {
	if bl, ok := rb.view.(BulkLoader); ok {
		if err := bl.EndBulk(rb.db.Update); err != nil {
			return rb.fail(fmt.Errorf("rebuild %s: end bulk load: %w", rb.r.name, err))
		}
	}
	if err := rb.db.Sync(); err != nil {
		return rb.fail(err)
	}
	if n := rb.dead.Load(); n > 0 {
		rb.r.cfg.Logger.Warn("rebuild skipped invalid envelopes", "view", rb.r.name, "count", n)
	}
	return rb.db, nil
}

// catchUp applies what the stream holds after db's checkpoint to db, through a view of
// its own on that file. Used under the gate just before a swap, so that the new file
// holds everything the live one does. first: as for rebuildInto.
func (r *Runner) catchUp(ctx context.Context, db *DB, first bool) error {
	cp, err := db.Checkpoint()
	if err != nil {
		return err
	}
	var dead atomic.Int64
	pcfg := ProjectorConfig{View: r.cfg.New(db), DB: db, DeadLetters: discardDead{&dead}, Logger: r.cfg.Logger, Now: r.cfg.Now}
	if first {
		pcfg.DeadLetters, pcfg.Observer = r.cfg.Log, r.cfg.Observer
	}
	proj, err := NewProjector(pcfg)
	if err != nil {
		return err
	}
	return r.cfg.Log.Read(ctx, r.Stream(), cp+1, RebuildBatch, proj.Handle)
}

// Replay rebuilds the view offline: a fresh file filled from the stream replaces the
// live one only when complete, so an interrupted replay leaves the old view untouched.
// Views replayed side by side may share dec. It returns the checkpoint reached.
func (r *Runner) Replay(ctx context.Context, dec *DecodeCache, progress func(done, total uint64)) (uint64, error) {
	db, err := r.rebuildInto(ctx, dec, progress, false)
	if err != nil {
		return 0, err
	}
	cp, err := db.Checkpoint()
	if err != nil {
		db.Close()
		return 0, err
	}
	return cp, r.swapIn(db)
}

// BeginRebuild marks an online rebuild of the view as started, for status, and returns
// its progress; ErrRebuildRunning if one already is. RebuildOnline must follow.
func (r *Runner) BeginRebuild() (RebuildProgress, error) {
	if !r.rebuilding.CompareAndSwap(false, true) {
		return RebuildProgress{}, ErrRebuildRunning
	}
	p := &RebuildProgress{Started: r.cfg.Now().UTC()}
	r.progress.Store(p)
	return *p, nil
}

// RebuildOnline rebuilds the view while it keeps serving (after BeginRebuild): a fresh
// file is filled from the stream while reads hit the old one; then, between two batches
// of the live projector, the new file catches up and is swapped in atomically. When ctx
// ends first, the rebuild is abandoned and the old file keeps serving.
func (r *Runner) RebuildOnline(ctx context.Context) error {
	defer r.rebuilding.Store(false)
	if r.cfg.Maintenance != nil {
		r.cfg.Maintenance.Lock()
		defer r.cfg.Maintenance.Unlock()
	}
	if r.progress.Load() == nil {
		r.progress.Store(&RebuildProgress{Started: r.cfg.Now().UTC()})
	}
	err := r.rebuildOnline(ctx, func(done, total uint64) {
		cp := *r.progress.Load()
		cp.Done, cp.Total = done, total
		r.progress.Store(&cp)
	}, false)
	fin := *r.progress.Load()
	fin.Finished = r.cfg.Now().UTC()
	if err != nil {
		fin.Error = err.Error()
	}
	r.progress.Store(&fin)
	return err
}

// Rebuilding reports whether an online rebuild is running.
func (r *Runner) Rebuilding() bool { return r.rebuilding.Load() }

func (r *Runner) rebuildOnline(ctx context.Context, progress func(done, total uint64), first bool) error {
	db, err := r.rebuildInto(ctx, nil, progress, first)
	if err != nil {
		return err
	}
	return r.catchUpAndSwap(ctx, db, "rebuilt", first)
}

// catchUpAndSwap brings db up to the stream under the gate, syncs it and swaps it in.
func (r *Runner) catchUpAndSwap(ctx context.Context, db *DB, what string, first bool) error {
	r.gate.Lock()
	defer r.gate.Unlock()
	if err := r.catchUp(ctx, db, first); err != nil {
		db.discard()
		return fmt.Errorf("catch up %s %s: %w", what, r.name, err)
	}
	return r.swapIn(db) // its close syncs the file (closeBolt)
}

// swapIn closes db (with its freelist: the reopen reads it) and renames it over the live
// file, durably.
func (r *Runner) swapIn(db *DB) error {
	path := db.Path()
	if err := db.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := r.db.Swap(path); err != nil {
		os.Remove(path)
		return err
	}
	// Make the rename durable: after a power loss the old file must not come back (after
	// an erasure it holds the erased bytes in its free pages).
	if d, err := os.Open(filepath.Dir(r.db.Path())); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Compact rewrites the view file without its free pages (bbolt never overwrites a freed
// page by itself, so deleted bytes stay on disk until then) and swaps the copy in between
// two batches. The copy is made while the projector goes on; only the catch-up of what
// was applied meanwhile and the swap hold the gate. Erasure calls it after deleting a
// customer's entries.
func (r *Runner) Compact(ctx context.Context) error {
	path, err := r.db.compactInto(ctx)
	if err != nil {
		return err
	}
	db, err := OpenDB(path, Options{NoSync: true})
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("open compacted %s: %w", r.name, err)
	}
	return r.catchUpAndSwap(ctx, db, "compacted", false)
}
