// Package historytest builds the history view's benchmark data set: many interactions
// made directly as validated events (no JSON checks, so that millions build in a minute)
// and applied in batches of 1000 to a real view file. The history view's own benchmarks
// and those of its readers (the export, the list page) measure the same data.
package historytest

import (
	"encoding/json"
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
	next := func() string { n++; return fmt.Sprintf("b%07d-%07d", from, n) }
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
		sd := &domain.StartedData{InteractionID: id, Flow: flow, Direction: domain.Directions()[rng.IntN(2)], Routing: routing,
			QueueID: queue, AgentID: agent, Contact: domain.Contact{Phone: phone}}
		data, _ := json.Marshal(map[string]any{"interaction_id": id, "flow": flow.String(), "routing": routing.String(),
			"queue_id": queue, "agent_id": agent, "contact": map[string]string{"phone": phone}})
		evs = append(evs, domain.Event{ID: next(), Type: domain.TypeInteractionStarted, OccurredAt: at, CustomerID: cust, Data: data, Payload: sd})
		if rng.IntN(5) == 0 {
			a2 := fmt.Sprintf("ag%03d", rng.IntN(Agents))
			rd := &domain.RoutedData{InteractionID: id, Routing: routing, QueueID: queue, AgentID: a2}
			evs = append(evs, domain.Event{ID: next(), Type: domain.TypeInteractionRouted, OccurredAt: at.Add(time.Minute), CustomerID: cust,
				Data: json.RawMessage(`{"interaction_id":"` + id + `","agent_id":"` + a2 + `"}`), Payload: rd})
		}
		ed := &domain.EndedData{InteractionID: id, Status: domain.Statuses()[rng.IntN(5)], Reason: "r"}
		evs = append(evs, domain.Event{ID: next(), Type: domain.TypeInteractionEnded, OccurredAt: at.Add(3 * time.Minute), CustomerID: cust,
			Data: json.RawMessage(`{"interaction_id":"` + id + `","status":"` + ed.Status.String() + `"}`), Payload: ed})
	}
	return evs
}

// Apply applies evs to v in db in batches of size events, each in one transaction.
func Apply(tb testing.TB, db *projections.DB, v projections.View, evs []domain.Event, size int) {
	tb.Helper()
	for len(evs) > 0 {
		k := min(size, len(evs))
		batch := make([]projections.Applied, k)
		for i := range k {
			batch[i] = projections.Applied{Seq: uint64(i + 1), Event: evs[i]}
		}
		if err := db.Update(func(tx *bolt.Tx) error { return v.Apply(tx, batch) }); err != nil {
			tb.Fatal(err)
		}
		evs = evs[k:]
	}
}

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
