package timeline

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain/scenario"
	"github.com/interaction-ledger/ledger/projections"
)

// scenarioNow is the fixed end of the benchmark's and the tests' scenarios.
var scenarioNow = time.Date(2026, 3, 2, 17, 0, 0, 0, time.UTC)

var (
	scenarioOnce   sync.Once
	scenarioEvents []projections.Applied
	scenarioErr    error
)

// scenarioApplied is the customer-scoped stream of a scenario of n interactions, as the
// projector hands it over: in delivery order (interaction events interleaved, late,
// duplicated), each at its stream sequence and subject.
func scenarioApplied(seed uint64, n int) ([]projections.Applied, error) {
	s, err := scenario.New(scenario.Config{Seed: seed, Now: scenarioNow, Interactions: n})
	if err != nil {
		return nil, err
	}
	var out []projections.Applied
	for ev := range s.Events {
		if ev.Type.IsDirectory() {
			continue
		}
		out = append(out, projections.Applied{Seq: uint64(len(out) + 1), Subject: subject(ev), Event: ev})
	}
	return out, nil
}

// BenchmarkApply replays a scenario into a fresh file in batches of 1000 events, as the
// projector does: each interaction's 2-20 events are interleaved with others' and spread
// over batches. One op is one batch (Apply and the commit: events/s); apply-events/s
// counts the time in Apply alone.
func BenchmarkApply(b *testing.B) {
	scenarioOnce.Do(func() {
		n, err := intFlag(benchApplyInteractionsFlag)
		if err != nil {
			scenarioErr = err
			return
		}
		scenarioEvents, scenarioErr = scenarioApplied(1, n)
	})
	if scenarioErr != nil {
		b.Fatal(scenarioErr)
	}
	const batchSize = 1000
	evs := scenarioEvents
	var db *projections.DB
	var v *View
	open := func() {
		if db != nil {
			db.Close()
		}
		dir := b.TempDir()
		var err error
		db, err = projections.OpenDB(filepath.Join(dir, "timeline.db"), projections.Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		v = New(db)
		if err := db.Update(v.Init); err != nil {
			b.Fatal(err)
		}
	}
	open()
	defer func() { db.Close() }()
	next := 0
	applied := 0
	var inApply time.Duration // Apply alone, without the commit
	b.ReportAllocs()
	for b.Loop() {
		if next >= len(evs) {
			b.StopTimer()
			open() // replay again into a fresh file
			next = 0
			b.StartTimer()
		}
		batch := evs[next:min(next+batchSize, len(evs))]
		next += len(batch)
		applied += len(batch)
		if err := db.Update(func(tx *bolt.Tx) error {
			t0 := time.Now()
			err := v.Apply(tx, batch)
			inApply += time.Since(t0)
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(applied)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(applied)/inApply.Seconds(), "apply-events/s")
}
