package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// opsService answers the ops endpoints from the running ledger.
type opsService struct {
	l  *ledger
	wg sync.WaitGroup // online rebuilds in flight
}

func (o *opsService) Status(r *http.Request) (any, error) { return o.l.status(r.Context()) }

func (o *opsService) DeadLetters(r *http.Request, limit int) (any, error) {
	return o.l.store.DeadLetters(r.Context(), limit)
}

// Rebuild starts an online rebuild of a view: a fresh file is filled from the stream
// while reads are served from the old one; then, between two batches of the live
// projector, the new file catches up and is swapped in atomically.
func (o *opsService) Rebuild(r *http.Request, name string) (any, error) {
	v := o.l.view(name)
	if v == nil {
		return nil, fmt.Errorf("unknown view %q (known: directory, history, timeline)", name)
	}
	if !v.rebuilding.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("view %s is already being rebuilt", name)
	}
	p := &rebuildProgress{Started: time.Now().UTC()}
	v.rebuild.Store(p)
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		defer v.rebuilding.Store(false)
		err := o.l.rebuildOnline(context.Background(), v, func(done, total uint64) {
			cp := *v.rebuild.Load()
			cp.Done, cp.Total = done, total
			v.rebuild.Store(&cp)
		})
		fin := *v.rebuild.Load()
		fin.Finished = time.Now().UTC()
		if err != nil {
			fin.Error = err.Error()
			o.l.log.Error("online rebuild failed", "view", name, "err", err)
		} else {
			o.l.log.Info("online rebuild swapped in", "view", name)
		}
		v.rebuild.Store(&fin)
	}()
	return map[string]any{"view": name, "status": "started", "started": p.Started}, nil
}

func (o *opsService) wait() { o.wg.Wait() }

func (l *ledger) rebuildOnline(ctx context.Context, v *viewRunner, progress func(done, total uint64)) error {
	l.maint.Lock()
	defer l.maint.Unlock()
	db, err := l.rebuildInto(ctx, v, progress)
	if err != nil {
		return err
	}
	v.gate.Lock()
	defer v.gate.Unlock()
	if err := l.catchUp(ctx, v, db); err != nil {
		db.Close()
		return fmt.Errorf("catch up rebuilt %s: %w", v.name, err)
	}
	if err := db.Sync(); err != nil {
		db.Close()
		return err
	}
	path := db.Path()
	if err := db.Close(); err != nil {
		return err
	}
	return v.db.Swap(path)
}
