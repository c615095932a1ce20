package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/interaction-ledger/ledger/projections"
)

// Replay rebuilds views offline (`ledger replay [--view NAME]`; only empty: every view).
// Each view is rebuilt into a fresh file that replaces the old one only when complete; an
// interrupted replay leaves the old views untouched. The views are rebuilt side by side
// from one ordered read of each stream, each envelope decoded once (projections.ReplayAll).
// Progress goes to out: bars with rate and ETA on a terminal, plain lines otherwise.
func Replay(ctx context.Context, cfg Config, only string, out io.Writer, log *slog.Logger) error {
	n, err := Open(ctx, cfg, log, Options{})
	if err != nil {
		return err
	}
	defer n.Close()
	targets := n.views
	if only != "" {
		v := n.View(only)
		if v == nil {
			return fmt.Errorf("--view: unknown view %q (known: %s)", only, strings.Join(n.viewNames(), ", "))
		}
		targets = []*projections.Runner{v}
	}
	bars := newProgress(ctx, out)
	byView := map[string]*progressBar{}
	for _, v := range targets {
		byView[v.Name()] = bars.add("replay " + v.Name())
	}
	done, err := projections.ReplayAll(ctx, targets, func(view string, done, total uint64) {
		byView[view].update(done, total)
	})
	for _, d := range done {
		byView[d.View].finish(d.Checkpoint, d.Took)
	}
	if err != nil {
		for _, b := range byView {
			b.abort()
		}
	}
	bars.wait()
	return err
}

// progress shows the replay of several views: mpb's bars on a terminal, and plain lines
// every few seconds otherwise (a log file or a pipe gets no control characters).
type progress struct {
	out io.Writer
	mpb *mpb.Progress // nil when out is not a terminal
	mu  sync.Mutex    // serialises plain lines
}

func newProgress(ctx context.Context, out io.Writer) *progress {
	p := &progress{out: out}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.mpb = mpb.NewWithContext(ctx, mpb.WithOutput(out), mpb.WithWidth(40), mpb.WithRefreshRate(150*time.Millisecond))
	}
	return p
}

type progressBar struct {
	p     *progress
	label string
	bar   *mpb.Bar
	start time.Time
	last  time.Time
}

func (p *progress) add(label string) *progressBar {
	b := &progressBar{p: p, label: label, start: time.Now()}
	if p.mpb != nil {
		b.bar = p.mpb.AddBar(0,
			mpb.PrependDecorators(decor.Name(label, decor.WCSyncSpaceR), decor.CountersNoUnit("%d / %d", decor.WCSyncWidth)),
			mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace), decor.AverageSpeed(nil, " %.0f ev/s", decor.WCSyncSpace),
				decor.OnComplete(decor.AverageETA(decor.ET_STYLE_GO, decor.WCSyncSpace), " done")),
		)
	}
	return b
}

// plainEvery is how often a plain line is printed per view.
const plainEvery = 2 * time.Second

func (b *progressBar) update(done, total uint64) {
	if b.bar != nil {
		b.bar.SetTotal(int64(total), false)
		b.bar.SetCurrent(int64(done))
		return
	}
	now := time.Now()
	if now.Sub(b.last) < plainEvery {
		return
	}
	b.last = now
	rate := float64(done) / max(now.Sub(b.start).Seconds(), 1e-9)
	eta := "-"
	if rate > 0 && total > done {
		eta = time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	b.p.mu.Lock()
	defer b.p.mu.Unlock()
	fmt.Fprintf(b.p.out, "%s: %d/%d (%.1f%%) %.0f events/s ETA %s\n", b.label, done, total, pct, rate, eta)
}

func (b *progressBar) finish(done uint64, el time.Duration) {
	if b.bar != nil {
		b.bar.SetTotal(int64(done), true)
	}
	b.p.mu.Lock()
	defer b.p.mu.Unlock()
	if b.bar == nil {
		fmt.Fprintf(b.p.out, "%s: done, %d messages in %s (%.0f events/s)\n", b.label, done, el.Round(time.Millisecond), float64(done)/max(el.Seconds(), 1e-9))
	}
}

func (b *progressBar) abort() {
	if b.bar != nil {
		b.bar.Abort(false)
	}
}

func (p *progress) wait() {
	if p.mpb != nil {
		p.mpb.Wait()
	}
}
