package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/interaction-ledger/ledger/adapters/ingest"
	"github.com/interaction-ledger/ledger/adapters/metrics"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/directory"
	"github.com/interaction-ledger/ledger/projections/history"
	"github.com/interaction-ledger/ledger/projections/timeline"
)

// ledger is the assembled system: the event store, the three views with their
// projectors, ingest and metrics. serve, replay and status each open one.
type ledger struct {
	cfg     config
	log     *slog.Logger
	store   *eventstore.Store
	metrics *metrics.Metrics
	ingest  *ingest.Service
	now     func() time.Time

	dir   *directory.View
	hist  *history.View
	tl    *timeline.View
	views []*viewRunner

	lastSweep atomic.Pointer[time.Time]
	// maint lets one erasure or one online rebuild run at a time: a rebuild reads the
	// stream outside the view's gate and could otherwise swap erased data back in.
	maint sync.Mutex
}

// viewRunner owns one view: its file, its projector and the gate that lets an online
// rebuild swap the file between two batches.
type viewRunner struct {
	name   string
	stream string
	db     *projections.DB
	proj   *projections.Projector
	fresh  func(*projections.DB) projections.View // a new instance on another file (rebuild)
	gate   sync.RWMutex                           // batches hold it shared; a swap holds it exclusively

	rebuilding atomic.Bool
	rebuild    atomic.Pointer[rebuildProgress]
}

type rebuildProgress struct {
	Started  time.Time `json:"started"`
	Done     uint64    `json:"done"`
	Total    uint64    `json:"total"`
	Finished time.Time `json:"finished,omitzero"`
	Error    string    `json:"error,omitempty"`
}

// storeSource adapts the event store to what projectors consume, holding the view's gate
// around every batch.
type storeSource struct {
	store *eventstore.Store
	gate  *sync.RWMutex
}

func (s storeSource) Consume(ctx context.Context, stream, durable string, after uint64, handle func(context.Context, []projections.Message) error) error {
	return s.store.Consume(ctx, eventstore.ConsumeConfig{Stream: stream, Durable: durable, StartAfter: after, Batch: projectorBatch},
		func(ctx context.Context, ds []eventstore.Delivery) error {
			if s.gate != nil {
				s.gate.RLock()
				defer s.gate.RUnlock()
			}
			return handle(ctx, toMessages(ds))
		})
}

func (s storeSource) DeadLetter(ctx context.Context, m projections.Message, view, reason string) error {
	return s.store.DeadLetter(ctx, eventstore.Delivery{Stream: m.Stream, Seq: m.Seq, Subject: m.Subject, Data: m.Data, Published: m.Published}, view, reason)
}

func toMessages(ds []eventstore.Delivery) []projections.Message {
	ms := make([]projections.Message, len(ds))
	for i, d := range ds {
		ms[i] = projections.Message{Stream: d.Stream, Seq: d.Seq, Subject: d.Subject, Data: d.Data, Published: d.Published}
	}
	return ms
}

// projectorBatch is the most messages a projector applies in one bbolt transaction:
// commits (page spills and their writes) were a sixth of the CPU under load, and a
// bigger batch shares them among more events.
const projectorBatch = 2000

// decodeCacheSlots is a few projector batches: the views of one stream rarely drift
// further apart than that.
const decodeCacheSlots = 16384

// openOptions say how much of the ledger a command needs.
type openOptions struct {
	listen bool             // the embedded server listens on cfg.NATSAddr (serve); otherwise in-process only
	now    func() time.Time // the clock of ingest, retention and replay (tests); default time.Now
}

func openLedger(ctx context.Context, cfg config, log *slog.Logger, opts openOptions) (*ledger, error) {
	scfg := eventstore.Config{DataDir: cfg.DataDir, URL: cfg.NATSURL, Replicas: cfg.Replicas, SyncAlways: cfg.SyncAlways}
	if opts.listen {
		scfg.ListenAddr = cfg.NATSAddr
	}
	store, err := eventstore.Open(ctx, scfg, log)
	if err != nil {
		return nil, fmt.Errorf("open event store: %w", err)
	}
	l := &ledger{cfg: cfg, log: log, store: store, metrics: metrics.New(), now: time.Now}
	if opts.now != nil {
		l.now = opts.now
	}
	l.ingest = ingest.New(store, l.now, l.metrics.IngestObserver())
	if err := os.MkdirAll(cfg.viewsDir(), 0o755); err != nil {
		store.Close()
		return nil, fmt.Errorf("create views directory: %w", err)
	}
	hopts := history.Options{Region: cfg.Region}
	// history and timeline read the same stream at nearly the same pace: decode once.
	decoded := projections.NewDecodeCache(decodeCacheSlots)
	specs := []struct {
		name  string
		fresh func(*projections.DB) projections.View
	}{
		{directory.Name, func(db *projections.DB) projections.View { return directory.New(db) }},
		{history.Name, func(db *projections.DB) projections.View { return history.New(db, hopts) }},
		{timeline.Name, func(db *projections.DB) projections.View { return timeline.New(db) }},
	}
	for _, sp := range specs {
		db, err := projections.OpenDB(filepath.Join(cfg.viewsDir(), sp.name+".db"), projections.Options{})
		if err != nil {
			l.close()
			return nil, err
		}
		v := sp.fresh(db)
		r := &viewRunner{name: sp.name, stream: v.Stream(), db: db, fresh: sp.fresh}
		r.proj, err = projections.NewProjector(projections.ProjectorConfig{
			View: v, DB: db, Source: storeSource{store: store, gate: &r.gate}, DeadLetters: storeSource{store: store},
			Logger: log, Now: l.now, Observer: l.metrics.ProjectorObserver(), Decoded: decoded,
		})
		if err != nil {
			db.Close()
			l.close()
			return nil, err
		}
		switch vv := v.(type) {
		case *directory.View:
			l.dir = vv
		case *history.View:
			l.hist = vv
		case *timeline.View:
			l.tl = vv
		}
		l.views = append(l.views, r)
	}
	return l, nil
}

func (l *ledger) view(name string) *viewRunner {
	for _, v := range l.views {
		if v.name == name {
			return v
		}
	}
	return nil
}

// runProjectors runs every projector until ctx ends, restarting one that fails after a
// pause (a batch that cannot be applied stays unacked and is tried again).
func (l *ledger) runProjectors(ctx context.Context) {
	var wg sync.WaitGroup
	for _, v := range l.views {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				err := v.proj.Run(ctx)
				if ctx.Err() != nil {
					return
				}
				l.log.Error("projector stopped; restarting", "view", v.name, "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
			}
		}()
	}
	wg.Wait()
}

// sweepInterval is how often retention runs; sweepBatch bounds each write transaction
// so readers and projectors are never held up for long.
const (
	sweepInterval = time.Minute
	sweepBatch    = 1000
)

type sweeper interface {
	Sweep(cutoff time.Time, max int) (int, error)
}

// runSweeper drops what left the retention window, in bounded batches, until ctx ends.
func (l *ledger) runSweeper(ctx context.Context) {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		if err := l.sweepOnce(ctx); err != nil {
			l.log.Error("retention sweep failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (l *ledger) sweepOnce(ctx context.Context) error {
	cutoff := domain.RetentionStart(l.now())
	for name, s := range map[string]sweeper{history.Name: l.hist, timeline.Name: l.tl} {
		total := 0
		for ctx.Err() == nil {
			n, err := s.Sweep(cutoff, sweepBatch)
			if err != nil {
				return fmt.Errorf("sweep %s: %w", name, err)
			}
			total += n
			if n == 0 {
				break
			}
		}
		if total > 0 {
			l.metrics.Expired.WithLabelValues(name).Add(float64(total))
			l.log.Info("retention sweep", "view", name, "removed", total, "cutoff", cutoff)
		}
	}
	now := l.now()
	l.lastSweep.Store(&now)
	return nil
}

// runLag keeps the lag gauges current.
func (l *ledger) runLag(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := l.status(ctx)
		if err != nil {
			continue
		}
		for _, v := range st.Views {
			l.metrics.LagEvents.WithLabelValues(v.Name).Set(float64(v.LagEvents))
			l.metrics.LagSeconds.WithLabelValues(v.Name).Set(v.LagSeconds)
		}
	}
}

func (l *ledger) close() error {
	var errs []error
	for _, v := range l.views {
		errs = append(errs, v.db.Close())
	}
	if l.store != nil {
		errs = append(errs, l.store.Close())
	}
	return errors.Join(errs...)
}
