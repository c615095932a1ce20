package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/interaction-ledger/ledger/adapters/ingest"
	"github.com/interaction-ledger/ledger/adapters/metrics"
	"github.com/interaction-ledger/ledger/adapters/viewsource"
	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/auditindex"
	"github.com/interaction-ledger/ledger/projections/directory"
	"github.com/interaction-ledger/ledger/projections/history"
	"github.com/interaction-ledger/ledger/projections/timeline"
)

// Node is the assembled ledger: the event store, the views with their runners (the three
// views of the events and the read audit's index), ingest and metrics. Open it, then Run
// it (serve), Replay its views or read its Status.
type Node struct {
	cfg     Config
	log     *slog.Logger
	store   *eventstore.Store
	metrics *metrics.Metrics
	ingest  *ingest.Service

	dir   *directory.View
	hist  *history.View
	tl    *timeline.View
	audit *auditindex.View // the access logs' index of the read audit
	views []*projections.Runner

	lastSweep atomic.Pointer[time.Time]
	// maint lets one erasure or one online rebuild run at a time: a rebuild reads the
	// stream outside the view's gate and could otherwise swap erased data back in.
	maint sync.Mutex
}

// decodeCacheSlots is a few projector batches: the views of one stream rarely drift
// further apart than that.
const decodeCacheSlots = 16384

// Options say how much of the node a command needs.
type Options struct {
	// Listen makes the embedded NATS server listen on Config.NATSAddr (serve); otherwise
	// it accepts in-process connections only (replay, status, tests).
	Listen bool
}

// Open opens the event store and the view files.
func Open(ctx context.Context, cfg Config, log *slog.Logger, opts Options) (*Node, error) {
	cfg.setDefaults()
	if err := cfg.Validate(false); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	store, err := openStore(ctx, cfg, opts.Listen, log)
	if err != nil {
		return nil, fmt.Errorf("open event store: %w", err)
	}
	n := &Node{cfg: cfg, log: log, store: store, metrics: metrics.New()}
	n.ingest = ingest.New(store, cfg.Now, n.metrics.IngestObserver())
	if err := os.MkdirAll(cfg.ViewsDir(), 0o755); err != nil {
		store.Close()
		return nil, fmt.Errorf("create views directory: %w", err)
	}
	hopts := history.Options{Region: cfg.Region}
	src := viewsource.New(store, 0)
	// history and timeline read the same stream at nearly the same pace: decode once (the
	// audit's index, a raw view, decodes nothing).
	decoded := projections.NewDecodeCache(decodeCacheSlots)
	specs := []struct {
		name string
		New  func(*projections.DB) projections.View
	}{
		{directory.Name, func(db *projections.DB) projections.View { return directory.New(db) }},
		{history.Name, func(db *projections.DB) projections.View { return history.New(db, hopts) }},
		{timeline.Name, func(db *projections.DB) projections.View { return timeline.New(db) }},
		{auditindex.Name, func(db *projections.DB) projections.View { return auditindex.New(db) }},
	}
	for _, sp := range specs {
		r, err := projections.OpenRunner(projections.RunnerConfig{
			Path: filepath.Join(cfg.ViewsDir(), sp.name+".db"), New: sp.New, Log: src,
			Logger: log, Now: cfg.Now, Observer: n.metrics.ProjectorObserver(), Decoded: decoded,
			Maintenance: &n.maint, Trouble: n.metrics.ViewTrouble, Node: n.durableNode(),
		})
		if err != nil {
			n.Close()
			return nil, err
		}
		switch v := r.View().(type) {
		case *directory.View:
			n.dir = v
		case *history.View:
			n.hist = v
		case *timeline.View:
			n.tl = v
		case *auditindex.View:
			n.audit = v
		}
		n.views = append(n.views, r)
	}
	return n, nil
}

// View returns the runner of the named view, nil if there is none.
func (n *Node) View(name string) *projections.Runner {
	for _, v := range n.views {
		if v.Name() == name {
			return v
		}
	}
	return nil
}

// viewNames lists the views for error messages.
func (n *Node) viewNames() []string {
	out := make([]string, len(n.views))
	for i, v := range n.views {
		out[i] = v.Name()
	}
	return out
}

// Store is the node's event store.
func (n *Node) Store() *eventstore.Store { return n.store }

// Ingest is the node's ingest service (demo data, benchmarks).
func (n *Node) Ingest() *ingest.Service { return n.ingest }

// Close closes the view files, then the event store.
func (n *Node) Close() error {
	var errs []error
	for _, v := range n.views {
		errs = append(errs, v.Close())
	}
	if n.store != nil {
		errs = append(errs, n.store.Close())
	}
	return errors.Join(errs...)
}

// Views are the node's view runners.
func (n *Node) Views() []*projections.Runner { return n.views }

// RunProjectors runs every view's runner until ctx ends (Run does it; the benchmark runs
// the projectors alone behind a producer publishing straight to NATS).
func (n *Node) RunProjectors(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, v := range n.views {
		g.Go(func() error { return v.Run(ctx) })
	}
	return g.Wait()
}

// TuneGC collects less often than Go's default unless the operator set GOGC or
// GOMEMLIMIT: projectors allocate per event, and with GOGC=100 the collector took about a
// third of the CPU under load (pprof, ledger-bench). The soft memory limit keeps the heap,
// and so RssAnon, within budget when collecting less often. Process-wide: mains call it.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(300)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(SoftMemoryLimit)
	}
}

// SoftMemoryLimit is the Go heap's soft limit set by TuneGC. At 2M envelopes the heap in
// use while the views catch up was about 320 MB (pprof after a collection: the projectors'
// open transactions, JetStream's buffers and dedupe window), so a limit of 400 MiB left
// the collector 80 MB between collections and it took a quarter of the CPU. With 448 MiB
// (and the feeds' buffers halved) it took a fifth, and RssAnon peaked at 449 MiB in that
// run (ledger-bench, bench client included), under the 512 MiB budget.
const SoftMemoryLimit = 448 << 20

// durableNode is the node id in the views' durable names: none for the embedded single
// node (its consumers keep their names), the node id on a cluster.
func (n *Node) durableNode() string {
	if n.cfg.clustered() {
		return n.cfg.NodeID
	}
	return ""
}
