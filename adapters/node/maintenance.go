package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/interaction-ledger/ledger/adapters/erasure"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/projections/history"
	"github.com/interaction-ledger/ledger/projections/timeline"
)

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
func (n *Node) runSweeper(ctx context.Context) error {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	var pruned time.Time
	for {
		if err := n.sweepOnce(ctx); err != nil {
			n.log.Error("retention sweep failed", "err", err)
		}
		if time.Since(pruned) >= auditPruneInterval {
			if err := n.pruneAuditIndex(ctx); err != nil && ctx.Err() == nil {
				n.log.Error("audit index prune failed", "err", err)
			} else {
				pruned = time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (n *Node) sweepOnce(ctx context.Context) error {
	cutoff := domain.RetentionStart(n.cfg.Now())
	for _, v := range []struct {
		name string
		s    sweeper
	}{{history.Name, n.hist}, {timeline.Name, n.tl}} {
		total := 0
		for ctx.Err() == nil {
			got, err := v.s.Sweep(cutoff, sweepBatch)
			if err != nil {
				return fmt.Errorf("sweep %s: %w", v.name, err)
			}
			total += got
			if got == 0 {
				break
			}
		}
		if total > 0 {
			n.metrics.Expired.WithLabelValues(v.name).Add(float64(total))
			n.log.Info("retention sweep", "view", v.name, "removed", total, "cutoff", cutoff)
		}
	}
	now := n.cfg.Now()
	n.lastSweep.Store(&now)
	return nil
}

// auditPruneInterval is how often the audit's index drops the entries of expired audit
// records: the prune walks the whole index, and a stale entry only costs a read a skip.
const auditPruneInterval = 24 * time.Hour

// pruneAuditIndex drops the index entries of the audit records before the audit stream's
// first sequence (expired with LEDGER_AUDIT_MAX_AGE).
func (n *Node) pruneAuditIndex(ctx context.Context) error {
	first, err := n.store.FirstSeq(ctx, eventstore.StreamAudit)
	if err != nil {
		return err
	}
	removed, err := n.audit.Prune(ctx, first)
	if removed > 0 {
		n.log.Info("audit index pruned", "removed", removed, "below_seq", first)
	}
	return err
}

// verifyEvery is how many lag ticks pass between two checks of the views against their
// streams (projections.Runner.CheckAndRecover).
const verifyEvery = 5

// runLag keeps the lag gauges current until ctx ends, and now and then checks that each
// view still matches its stream (a power cut can leave a view ahead of it).
func (n *Node) runLag(ctx context.Context) error {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for tick := 1; ; tick++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if tick%verifyEvery == 0 {
			for _, v := range n.views {
				if err := v.CheckAndRecover(ctx); err != nil && ctx.Err() == nil {
					n.log.Warn("view check against its stream failed", "view", v.Name(), "err", err)
				}
			}
		}
		st, err := n.status(ctx, false)
		if err != nil {
			continue
		}
		for _, v := range st.Views {
			n.metrics.LagEvents.WithLabelValues(v.Name).Set(float64(v.LagEvents))
			n.metrics.LagSeconds.WithLabelValues(v.Name).Set(v.LagSeconds)
		}
		for _, s := range st.Streams {
			n.metrics.StreamMessages.WithLabelValues(s.Name).Set(float64(s.Messages))
			n.metrics.StreamBytes.WithLabelValues(s.Name).Set(float64(s.Bytes))
			n.metrics.StreamConsumers.WithLabelValues(s.Name).Set(float64(s.Consumers))
		}
	}
}

// runAll runs every eraser until ctx ends (nil) or one stops, which stops the others.
func runAll(ctx context.Context, es []*erasure.Eraser) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, e := range es {
		g.Go(func() error {
			if err := e.Run(gctx); err != nil {
				return err
			}
			if ctx.Err() == nil {
				return errors.New("eraser stopped")
			}
			return nil
		})
	}
	return g.Wait()
}

// eraserRestart is the pause before a stopped eraser is started again.
const eraserRestart = 2 * time.Second

// runEraser keeps an eraser running until ctx ends: one that stops is logged, the node
// reports not ready meanwhile, and a new one starts after a pause. A node whose eraser is
// down would acknowledge erasures it does not carry out.
func (n *Node) runEraser(ctx context.Context, up func(bool)) error {
	// The views first make sure their files can be trusted (and rebuild them if need be):
	// an erasure must not run beside such a rebuild. The audit's index is not erased
	// (the audit keeps the fact of an access) and need not be waited for.
	for _, v := range n.views {
		if v.Stream() == eventstore.StreamAudit {
			continue
		}
		select {
		case <-v.Ready():
		case <-ctx.Done():
			return nil
		}
	}
	for {
		es, err := n.newErasers()
		if err == nil {
			up(true)
			err = runAll(ctx, es)
		}
		up(false)
		if ctx.Err() != nil {
			return nil
		}
		n.log.Error("eraser stopped; restarting", "err", err, "after", eraserRestart)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(eraserRestart):
		}
	}
}

// ops answers the ops endpoints from the running node.
type ops struct {
	n *Node
	// start runs an online rebuild on the node's errgroup, under the context of the
	// background workers (cancelled at shutdown).
	start func(func(context.Context) error)
}

func (o ops) Status(r *http.Request) (any, error) { return o.n.Status(r.Context()) }

func (o ops) DeadLetters(r *http.Request, after uint64, limit int) (any, uint64, error) {
	p, err := o.n.store.DeadLetters(r.Context(), after, limit)
	return p.Items, p.Next, err
}

// Rebuild starts an online rebuild of a view (projections.Runner.RebuildOnline); its
// progress shows in the status.
func (o ops) Rebuild(r *http.Request, name string) (any, error) {
	v := o.n.View(name)
	if v == nil {
		return nil, fmt.Errorf("unknown view %q (known: %s)", name, strings.Join(o.n.viewNames(), ", "))
	}
	p, err := v.BeginRebuild()
	if err != nil {
		return nil, fmt.Errorf("view %s: %w", name, err)
	}
	o.start(func(ctx context.Context) error {
		err := v.RebuildOnline(ctx)
		switch {
		case err == nil:
			o.n.log.Info("online rebuild swapped in", "view", name)
		case ctx.Err() != nil:
			o.n.log.Warn("online rebuild abandoned at shutdown; the old file keeps serving", "view", name)
		default:
			o.n.log.Error("online rebuild failed", "view", name, "err", err)
		}
		return nil // a failed rebuild leaves the old file serving; it does not stop the node
	})
	return map[string]any{"view": name, "status": "started", "started": p.Started}, nil
}
