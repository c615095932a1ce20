package main

import (
	"context"
	"sync"

	"golang.org/x/sync/errgroup"

	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/projections"
)

// replayBatch is how many messages a rebuild applies per bbolt transaction.
const replayBatch = 5000

// discardDead counts envelopes a rebuild finds invalid without setting them aside again:
// the live projector already did, and a replay must not fill the dead-letter stream twice.
type discardDead struct{ n *int }

func (d discardDead) DeadLetter(context.Context, projections.Message, string, string) error {
	*d.n++
	return nil
}

// rebuildInto fills a fresh file for view v from the stream, from sequence 1 up to the
// stream's last sequence when it starts, and returns it open. The file is written without
// fsync per commit and synced once at the end. Nothing of the live file is touched.
func (l *ledger) rebuildInto(ctx context.Context, v *viewRunner, progress func(done, total uint64)) (*projections.DB, error) {
	return l.rebuildShared(ctx, v, nil, progress)
}

// rebuildShared is rebuildInto with a decode cache shared by views rebuilt side by side.
func (l *ledger) rebuildShared(ctx context.Context, v *viewRunner, dec *projections.DecodeCache, progress func(done, total uint64)) (*projections.DB, error) {
	path := v.db.Path() + ".rebuild"
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale rebuild file: %w", err)
	}
	db, err := projections.OpenDB(path, projections.Options{NoSync: true})
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*projections.DB, error) {
		db.Close()
		os.Remove(path)
		return nil, err
	}
	dead := 0
	proj, err := projections.NewProjector(projections.ProjectorConfig{View: v.fresh(db), DB: db,
		DeadLetters: discardDead{&dead}, Logger: l.log, Now: l.now, Decoded: dec})
	if err != nil {
		return fail(err)
	}
	total, err := l.store.LastSeq(ctx, v.stream)
	if err != nil {
		return fail(err)
	}
	err = l.store.Read(ctx, v.stream, 1, replayBatch, func(ctx context.Context, batch []eventstore.Delivery) error {
		if err := proj.Handle(ctx, toMessages(batch)); err != nil {
			return err
		}
		if progress != nil {
			progress(batch[len(batch)-1].Seq, total)
		}
		return nil
	})
	if err != nil {
		return fail(fmt.Errorf("rebuild %s: %w", v.name, err))
	}
	if err := db.Sync(); err != nil {
		return fail(err)
	}
	if dead > 0 {
		l.log.Warn("rebuild skipped invalid envelopes", "view", v.name, "count", dead)
	}
	return db, nil
}

// catchUp applies what the stream holds after db's checkpoint (used under the view's
// gate, just before an online swap).
func (l *ledger) catchUp(ctx context.Context, v *viewRunner, db *projections.DB) error {
	cp, err := db.Checkpoint()
	if err != nil {
		return err
	}
	dead := 0
	proj, err := projections.NewProjector(projections.ProjectorConfig{View: v.fresh(db), DB: db,
		DeadLetters: discardDead{&dead}, Logger: l.log, Now: l.now})
	if err != nil {
		return err
	}
	return l.store.Read(ctx, v.stream, cp+1, replayBatch, func(ctx context.Context, batch []eventstore.Delivery) error {
		return proj.Handle(ctx, toMessages(batch))
	})
}

// cmdReplay rebuilds views offline: ledger replay [--view NAME]. Each view is rebuilt
// into a fresh file that replaces the old one only when complete; an interrupted replay
// leaves the old views untouched.
func cmdReplay(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg config
	var only string
	if _, err := cfg.parse("replay", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&only, "view", "", "rebuild only this view (directory, history, timeline)")
	}); err != nil {
		return err
	}
	if err := cfg.validate(false); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	l, err := openLedger(ctx, cfg, log, openOptions{})
	if err != nil {
		return err
	}
	defer l.close()
	targets := l.views
	if only != "" {
		v := l.view(only)
		if v == nil {
			return fmt.Errorf("--view: unknown view %q (known: directory, history, timeline)", only)
		}
		targets = []*viewRunner{v}
	}
	// The views are rebuilt side by side (each from its own ordered read of the stream),
	// sharing the decoding of the envelopes; each file is swapped in as it completes.
	dec := projections.NewDecodeCache(decodeCacheSlots * 4)
	var mu sync.Mutex // serialises the progress output
	g, gctx := errgroup.WithContext(ctx)
	for _, v := range targets {
		g.Go(func() error {
			bar := newProgress(stdout, "replay "+v.name)
			start := time.Now()
			db, err := l.rebuildShared(gctx, v, dec, func(done, total uint64) {
				mu.Lock()
				defer mu.Unlock()
				bar.update(done, total)
			})
			if err != nil {
				return err
			}
			cp, _ := db.Checkpoint()
			if err := db.Close(); err != nil {
				return err
			}
			if err := v.db.Swap(db.Path()); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			bar.finish(cp, time.Since(start))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return nil
}

// progress prints a bar with rate and ETA on a terminal, plain lines otherwise.
type progress struct {
	w     io.Writer
	label string
	tty   bool
	start time.Time
	last  time.Time
}

func newProgress(w io.Writer, label string) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, label: label, tty: tty, start: time.Now()}
}

func (p *progress) update(done, total uint64) {
	now := time.Now()
	every := 2 * time.Second
	if p.tty {
		every = 100 * time.Millisecond
	}
	if now.Sub(p.last) < every {
		return
	}
	p.last = now
	el := now.Sub(p.start).Seconds()
	rate := float64(done) / max(el, 1e-9)
	eta := "-"
	if rate > 0 && total > done {
		eta = time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	if p.tty {
		const width = 30
		n := int(pct / 100 * width)
		fmt.Fprintf(p.w, "\r%s [%s%s] %5.1f%% %d/%d %.0f ev/s ETA %s ", p.label, strings.Repeat("#", n), strings.Repeat(".", width-n), pct, done, total, rate, eta)
		return
	}
	fmt.Fprintf(p.w, "%s: %d/%d (%.1f%%) %.0f events/s ETA %s\n", p.label, done, total, pct, rate, eta)
}

func (p *progress) finish(done uint64, el time.Duration) {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, "%s: done, %d messages in %s (%.0f events/s)\n", p.label, done, el.Round(time.Millisecond), float64(done)/max(el.Seconds(), 1e-9))
}
