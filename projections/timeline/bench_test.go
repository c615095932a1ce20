package timeline

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
)

// Flags of the benchmarks, registered in TestMain and read where they are used.
const (
	benchCustomersFlag         = "timeline.customers"
	benchApplyInteractionsFlag = "timeline.apply-interactions"
)

const (
	benchTarget  = "cust-target"
	benchEntries = 5000
)

var (
	benchOnce sync.Once
	benchDir  string
	benchView *View
	benchErr  error
)

// TestMain registers the benchmarks' flags and removes their file after the run.
func TestMain(m *testing.M) {
	flag.Int(benchCustomersFlag, 200_000,
		"customers in the benchmark file besides the one measured (3 entries each); 1000000 for the full target")
	flag.Int(benchApplyInteractionsFlag, 20_000,
		"interactions of the scenario BenchmarkApply replays (about 4.5 events each)")
	flag.Parse()
	code := m.Run()
	if benchDir != "" {
		if benchView != nil {
			benchView.db.Close()
		}
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// benchEvent builds an event without the JSON round trip of domain.NewEvent: the build
// applies millions of them. Only the fields the view reads are set.
func benchEvent(t domain.EventType, at time.Time, cust string, n int, p domain.Payload) domain.Event {
	return domain.Event{ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", n), Type: t, OccurredAt: at,
		CustomerID: cust, Data: json.RawMessage(`{}`), Payload: p}
}

// targetEvent is the i-th of the measured customer's 5,000 entries, across every kind.
func targetEvent(i int, at time.Time, n int) domain.Event {
	c, id := benchTarget, fmt.Sprintf("t%05d", i)
	switch i % 20 {
	case 0, 1, 2, 3, 4, 5:
		return benchEvent(domain.TypeInteractionStarted, at, c, n, &domain.StartedData{InteractionID: "call-" + id, Flow: domain.FlowVoice, Direction: domain.DirectionIncoming, Routing: domain.RoutingSmart, AgentID: "ag-1"})
	case 6, 7, 8:
		return benchEvent(domain.TypeInteractionStarted, at, c, n, &domain.StartedData{InteractionID: "mail-" + id, Flow: domain.FlowEmail, Direction: domain.DirectionOutgoing, Routing: domain.RoutingDirect})
	case 9, 10:
		return benchEvent(domain.TypeInteractionStarted, at, c, n, &domain.StartedData{InteractionID: "sms-" + id, Flow: domain.FlowSMS, Direction: domain.DirectionOutgoing, Routing: domain.RoutingDirect})
	case 11, 12:
		return benchEvent(domain.TypeInteractionStarted, at, c, n, &domain.StartedData{InteractionID: "wa-" + id, Flow: domain.FlowWhatsApp, Direction: domain.DirectionIncoming, Routing: domain.RoutingSmart})
	case 13:
		return benchEvent(domain.TypeOrderCreated, at, c, n, &domain.OrderData{OrderID: "o-" + id, Status: "new", Total: "12.50", Currency: "EUR"})
	case 14:
		return benchEvent(domain.TypeSegmentJoined, at, c, n, &domain.SegmentData{SegmentID: "seg-" + id, Name: "Segment " + id})
	case 15:
		return benchEvent(domain.TypeTaskCreated, at, c, n, &domain.TaskData{TaskID: "task-" + id, Title: "Task " + id, AssigneeID: "ag-1"})
	case 16:
		return benchEvent(domain.TypeNoteAdded, at, c, n, &domain.NoteData{NoteID: "n-" + id, Text: "a note of some length about the customer " + id, AuthorID: "ag-1"})
	case 17:
		return benchEvent(domain.TypeFileAttached, at, c, n, &domain.FileData{FileID: "f-" + id, Name: id + ".pdf", Size: 1234, ContentType: "application/pdf"})
	case 18:
		return benchEvent(domain.TypeVisitRecorded, at, c, n, &domain.VisitData{VisitID: "v-" + id, Source: "google", Channel: "search", DurationS: 60, PageCount: 3})
	default:
		return benchEvent(domain.TypeCustomerUpdated, at, c, n, &domain.CustomerUpdatedData{Changes: map[string]domain.Change{"city": {From: json.RawMessage(`"A"`), To: json.RawMessage(`"B"`)}}})
	}
}

// benchFile builds, once per run, a timeline file with -timeline.customers customers of three
// entries each (a call, a note, an order) and one customer of 5,000 entries.
func benchFile(b *testing.B) *View {
	b.Helper()
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp("", "timeline-bench-")
		if benchErr != nil {
			return
		}
		db, err := projections.OpenDB(filepath.Join(benchDir, "timeline.db"), projections.Options{NoSync: true})
		if err != nil {
			benchErr = err
			return
		}
		benchView = New(db)
		customers, err := intFlag(benchCustomersFlag)
		if err != nil {
			benchErr = err
			return
		}
		fmt.Fprintf(os.Stderr, "timeline bench: building the file (-timeline.customers=%d)...\n", customers)
		if benchErr = db.Update(benchView.Init); benchErr != nil {
			return
		}
		started := time.Now()
		base := time.Now().UTC().Add(-60 * 24 * time.Hour)
		var batch []projections.Applied
		n := 0
		flush := func() {
			if benchErr == nil && len(batch) > 0 {
				benchErr = db.Update(func(tx *bolt.Tx) error { return benchView.Apply(tx, batch) })
			}
			batch = batch[:0]
		}
		add := func(ev domain.Event) {
			n++
			batch = append(batch, projections.Applied{Seq: uint64(n), Subject: "ledger.events." + ev.Type.String(), Event: ev})
			if len(batch) == 20_000 {
				flush()
			}
		}
		// The target's entries are spread among the others', as they would arrive.
		every := max(1, customers/benchEntries)
		ti := 0
		for i := range customers {
			c := fmt.Sprintf("cust-%07d", i)
			at := base.Add(time.Duration(i) * time.Second)
			add(benchEvent(domain.TypeInteractionStarted, at, c, n, &domain.StartedData{InteractionID: "call-" + c, Flow: domain.FlowVoice, Direction: domain.DirectionIncoming, Routing: domain.RoutingSmart}))
			add(benchEvent(domain.TypeNoteAdded, at.Add(time.Minute), c, n, &domain.NoteData{NoteID: "n-" + c, Text: "note"}))
			add(benchEvent(domain.TypeOrderCreated, at.Add(2*time.Minute), c, n, &domain.OrderData{OrderID: "o-" + c, Total: "1"}))
			if i%every == 0 && ti < benchEntries {
				add(targetEvent(ti, at, n))
				ti++
			}
		}
		for ; ti < benchEntries; ti++ {
			add(targetEvent(ti, base.Add(time.Duration(customers+ti)*time.Second), n))
		}
		flush()
		if benchErr == nil {
			benchErr = db.Sync()
		}
		fmt.Fprintf(os.Stderr, "timeline bench file: %d customers + 1 of %d entries, %d events, built in %s, %d MiB\n",
			customers, benchEntries, n, time.Since(started).Round(time.Millisecond), db.Size()>>20)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchView
}

// measure runs op b.N times and reports p50 and p99 latencies.
func measure(b *testing.B, op func() error) {
	b.Helper()
	for range 100 { // warm the page cache and the mmap: p99 is of a warm file
		if err := op(); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

func BenchmarkTimelineNewest50(b *testing.B) {
	v := benchFile(b)
	first, err := v.Timeline(benchTarget, nil, 50, "")
	if err != nil || len(first.Items) != 50 {
		b.Fatalf("first page: %d items, %v", len(first.Items), err)
	}
	b.Run("all kinds", func(b *testing.B) {
		measure(b, func() error { _, err := v.Timeline(benchTarget, nil, 50, ""); return err })
	})
	b.Run("page 10", func(b *testing.B) {
		cur := first.NextCursor
		for range 8 {
			p, err := v.Timeline(benchTarget, nil, 50, cur)
			if err != nil {
				b.Fatal(err)
			}
			cur = p.NextCursor
		}
		measure(b, func() error { _, err := v.Timeline(benchTarget, nil, 50, cur); return err })
	})
	b.Run("kind email", func(b *testing.B) {
		measure(b, func() error { _, err := v.Timeline(benchTarget, []Kind{KindEmail}, 50, ""); return err })
	})
	b.Run("kinds note+file", func(b *testing.B) {
		measure(b, func() error { _, err := v.Timeline(benchTarget, []Kind{KindNote, KindFile}, 50, ""); return err })
	})
	b.Run("small customer", func(b *testing.B) {
		measure(b, func() error { _, err := v.Timeline("cust-0000042", nil, 50, ""); return err })
	})
}

func BenchmarkTabs(b *testing.B) {
	v := benchFile(b)
	tabs := []struct {
		name string
		op   func() (int, error)
	}{
		{"chats", func() (int, error) { r, err := v.Chats(benchTarget, MaxLimit, "", nil); return len(r.Items), err }},
		{"tasks", func() (int, error) { r, err := v.Tasks(benchTarget, MaxLimit, ""); return len(r.Items), err }},
		// The page the card and the API ask for by default.
		{"tasks-first-page", func() (int, error) { r, err := v.Tasks(benchTarget, DefaultLimit, ""); return len(r.Items), err }},
		{"visits", func() (int, error) { r, err := v.Visits(benchTarget, MaxLimit, ""); return len(r.Items), err }},
		{"segments", func() (int, error) { r, err := v.Segments(benchTarget, MaxLimit, ""); return len(r.Items), err }},
		{"card", func() (int, error) { c, err := v.Card(benchTarget, nil); return c.Counts["call"], err }},
		{"task", func() (int, error) { st, _, err := v.Task(benchTarget, "task-t00015"); return len(st.String()), err }},
	}
	for _, tab := range tabs {
		b.Run(tab.name, func(b *testing.B) {
			if n, err := tab.op(); err != nil || n == 0 {
				b.Fatalf("%s: %d rows, %v", tab.name, n, err)
			}
			measure(b, func() error { _, err := tab.op(); return err })
			n, _ := tab.op()
			b.ReportMetric(float64(n), "rows")
		})
	}
}

// intFlag reads the int flag name, registered in TestMain.
func intFlag(name string) (int, error) {
	n, err := strconv.Atoi(flag.Lookup(name).Value.String())
	if err != nil {
		return 0, fmt.Errorf("-%s: %w", name, err)
	}
	return n, nil
}
