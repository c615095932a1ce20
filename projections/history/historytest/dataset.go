// Package historytest builds the history view's benchmark data set: many interactions
// made directly as validated events (no JSON checks, so that millions build in a minute)
// and applied in batches of 1000 to a real view file. The history view's own benchmarks
// and those of its readers (the export, the list page) measure the same data.
package historytest

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
)

// The data set's shape: agents ag000…ag499 and queues q00…q39, picked at random.
const (
	Agents = 500
	Queues = 40
)

// Events builds the events of interactions in-%08d [from, to), spread evenly over the
// span before end: each started (a third routed direct, the others by queue; one in five
// routed again to another agent) and ended, 2-3 events each.
func Events(rng *rand.Rand, from, to int, span time.Duration, end time.Time) []domain.Event {
	var evs []domain.Event
	n := 0
	// Event ids are UUIDs, as the envelope requires (the detail reads its events back
	// through the envelope's checks): unique per call's from and count.
	next := func() string { n++; return fmt.Sprintf("b0000000-0000-4000-8000-%06x%06x", from, n) }
	for i := from; i < to; i++ {
		id := fmt.Sprintf("in-%08d", i)
		at := end.Add(-span + span/time.Duration(max(1, to-from))*time.Duration(i-from))
		cust := fmt.Sprintf("cust-%06d", rng.IntN(100_000))
		phone := fmt.Sprintf("+336%08d", rng.IntN(100_000_000))
		agent := fmt.Sprintf("ag%03d", rng.IntN(Agents))
		queue := fmt.Sprintf("q%02d", rng.IntN(Queues))
		routing := domain.RoutingSmart
		if rng.IntN(3) == 0 {
			routing, queue = domain.RoutingDirect, ""
		}
		flow := domain.Flows()[rng.IntN(8)]
		started := map[string]any{"interaction_id": id, "flow": flow.String(), "direction": domain.Directions()[rng.IntN(2)].String(),
			"routing": routing.String(), "agent_id": agent, "contact": map[string]string{"phone": phone}}
		if queue != "" {
			started["queue_id"] = queue
		}
		evs = append(evs, event(next(), domain.TypeInteractionStarted, at, cust, started))
		if rng.IntN(5) == 0 {
			routed := map[string]any{"interaction_id": id, "routing": routing.String(), "agent_id": fmt.Sprintf("ag%03d", rng.IntN(Agents))}
			if queue != "" {
				routed["queue_id"] = queue
			}
			evs = append(evs, event(next(), domain.TypeInteractionRouted, at.Add(time.Minute), cust, routed))
		}
		evs = append(evs, event(next(), domain.TypeInteractionEnded, at.Add(3*time.Minute), cust,
			map[string]any{"interaction_id": id, "status": domain.Statuses()[rng.IntN(5)].String(), "reason": "r"}))
	}
	return evs
}

// event builds an event as ingest accepts it: its data valid, its payload decoded from it
// (a detail reads the stored events back through the same checks).
func event(id string, t domain.EventType, at time.Time, cust string, data map[string]any) domain.Event {
	ev, err := domain.NewEventFromData(id, t, at, cust, "historytest", data, at)
	if err != nil {
		panic(fmt.Sprintf("historytest: event %s: %v", id, err)) // the generator's own mistake
	}
	return ev
}

// Apply applies evs to v in db in batches of size events, each in one transaction, at
// the stream positions after those of its last call on db.
func Apply(tb testing.TB, db *projections.DB, v projections.View, evs []domain.Event, size int) {
	tb.Helper()
	for len(evs) > 0 {
		k := min(size, len(evs))
		err := db.Update(func(tx *bolt.Tx) error {
			// The stream positions go on from the last batch's: a view names a new
			// interaction by the position of its first event (projections.HandleOf).
			var seq uint64
			if b := projections.Meta(tx, seqKey); len(b) == 8 {
				seq = binary.BigEndian.Uint64(b)
			}
			batch := make([]projections.Applied, k)
			for i := range k {
				seq++
				batch[i] = projections.Applied{Seq: seq, Event: evs[i]}
			}
			if err := v.Apply(tx, batch); err != nil {
				return err
			}
			return projections.PutMeta(tx, seqKey, binary.BigEndian.AppendUint64(nil, seq))
		})
		if err != nil {
			tb.Fatal(err)
		}
		evs = evs[k:]
	}
}

// seqKey is the meta key under which Apply keeps the last stream position it gave.
const seqKey = "historytest.seq"

// chunk is how many interactions Build makes and applies at a time: the events of
// millions would not fit in memory at once.
const chunk = 100_000

// Build initialises v in db and applies n interactions over the 90 days before end, in
// arrival order (mostly in time, locally shuffled), in batches of 1000 events, and
// returns how many events it applied.
func Build(tb testing.TB, db *projections.DB, v projections.View, n int, end time.Time) (events int) {
	tb.Helper()
	if err := db.Update(v.Init); err != nil {
		tb.Fatal(err)
	}
	const span = 90 * 24 * time.Hour
	rng := rand.New(rand.NewPCG(3, 4))
	for from := 0; from < n; from += chunk {
		to := min(n, from+chunk)
		part := span / time.Duration(n) * time.Duration(to-from)
		evs := Events(rng, from, to, part, end.Add(-span+span/time.Duration(n)*time.Duration(to)))
		rng.Shuffle(len(evs), func(i, j int) {
			if d := i - j; d < 50 && d > -50 {
				evs[i], evs[j] = evs[j], evs[i]
			}
		})
		Apply(tb, db, v, evs, 1000)
		events += len(evs)
	}
	return events
}

// datasetKey is the meta key under which Open records which data set a file holds, once
// it is complete.
const datasetKey = "historytest.dataset"

// Open opens the view file at path holding the data set of n interactions ending at end
// (made by newView over the file), building it first unless an earlier run left that
// data set there complete: a build of millions takes minutes, so benchmarks (and runs)
// given the same path share one. With path "" it builds in tb's temporary directory. The
// file is closed when tb ends.
func Open[V projections.View](tb testing.TB, path string, n int, end time.Time, newView func(*projections.DB) V) (V, *projections.DB) {
	tb.Helper()
	if path == "" {
		path = filepath.Join(tb.TempDir(), "history.db")
	}
	want := fmt.Sprintf("%d interactions to %s", n, end.UTC().Format(time.RFC3339))
	db, err := projections.OpenDB(path, projections.Options{NoSync: true})
	if err != nil {
		tb.Fatalf("open data set %s: %v", path, err)
	}
	var have string
	if err := db.View(func(tx *bolt.Tx) error { have = string(projections.Meta(tx, datasetKey)); return nil }); err != nil {
		tb.Fatalf("read data set %s: %v", path, err)
	}
	if have != want {
		db.Close()
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			tb.Fatalf("remove stale data set %s: %v", path, err)
		}
		if db, err = projections.OpenDB(path, projections.Options{NoSync: true}); err != nil {
			tb.Fatalf("open data set %s: %v", path, err)
		}
		start := time.Now()
		events := Build(tb, db, newView(db), n, end)
		if err := db.Update(func(tx *bolt.Tx) error { return projections.PutMeta(tx, datasetKey, []byte(want)) }); err != nil {
			tb.Fatalf("mark data set %s: %v", path, err)
		}
		if err := db.Sync(); err != nil {
			tb.Fatalf("sync data set %s: %v", path, err)
		}
		tb.Logf("data set %s: %s, %d events, built in %s", path, want, events, time.Since(start).Round(time.Second))
	}
	tb.Cleanup(func() { db.Close() })
	return newView(db), db
}

// The flags that size and place the data set in a benchmark binary (RegisterFlags).
const (
	FlagInteractions = "history.interactions"
	FlagFile         = "history.file"
)

// RegisterFlags defines -history.interactions (default n) and -history.file on fs, for a
// benchmark binary's TestMain (OpenFlagged reads them from flag.CommandLine).
func RegisterFlags(fs *flag.FlagSet, n int) {
	fs.Int(FlagInteractions, n, "interactions in the benchmark data set")
	fs.String(FlagFile, "", "the benchmark data set's view file, built there unless complete (default: a temporary one)")
}

// Main is the TestMain of a benchmark binary that needs nothing else: it registers the
// flags (default n interactions), parses them and runs the tests.
func Main(m *testing.M, n int) {
	RegisterFlags(flag.CommandLine, n)
	flag.Parse()
	os.Exit(m.Run())
}

// Size returns -history.interactions.
func Size(tb testing.TB) int {
	tb.Helper()
	f := flag.Lookup(FlagInteractions)
	if f == nil {
		tb.Fatalf("-%s is not defined: call RegisterFlags in TestMain", FlagInteractions)
	}
	n, err := strconv.Atoi(f.Value.String())
	if err != nil || n < 0 {
		tb.Fatalf("-%s: %q is not a number of interactions", FlagInteractions, f.Value.String())
	}
	return n
}

// End is the end of the data set's 90 days that the benchmarks of the view's readers
// share (a file built for one is reused by the others).
func End() time.Time { return time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC) }

// OpenFlagged is Open with -history.interactions interactions at -history.file, ending
// at End.
func OpenFlagged[V projections.View](tb testing.TB, newView func(*projections.DB) V) (V, *projections.DB) {
	tb.Helper()
	path := ""
	if f := flag.Lookup(FlagFile); f != nil {
		path = f.Value.String()
	}
	return Open(tb, path, Size(tb), End(), newView)
}
