package history

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/domain"
)

// TestBulkLoadGivesTheLiveFile: a view filled in bulk mode (a rebuild) and finished with
// EndBulk holds exactly what the same events applied live give: rows, details, events,
// every posting list with its values, the sort indexes and the counts. The events include
// transfers, late starts, a merge and interactions handed to another customer (they carry
// two, and an erasure of the first must still find them, though their rows name only the
// second); EndBulk writes in several transactions. An erasure reads the customers' lists,
// which bulk mode defers: at the start, in the middle or not at all, each gives the live
// file.
func TestBulkLoadGivesTheLiveFile(t *testing.T) {
	defer func(n int) { bulkChunk = n }(bulkChunk)
	bulkChunk = 50
	for _, erasure := range []string{"none", "first", "middle", "last"} {
		t.Run("erasure "+erasure, func(t *testing.T) {
			testBulkLoad(t, erasure)
		})
	}
}

func testBulkLoad(t *testing.T, erasure string) {
	rng := rand.New(rand.NewPCG(11, 3))
	evs := genEvents(t, rng, 120)
	mid := len(evs) / 2
	c1, c2 := propCustomers[0], propCustomers[1]
	// Every third interaction goes to the next customer: before the middle erasure (of
	// propCustomers[2]) and after it.
	firstOf := map[string]string{}
	for _, ev := range evs {
		id := ev.Payload.(domain.InteractionRef).InteractionKey()
		if firstOf[id] == "" {
			firstOf[id] = ev.CustomerID
		}
	}
	var handed []domain.Event
	erasedHanded := 0
	for i := 0; i < 120; i += 3 {
		id := fmt.Sprintf("ix-%04d", i)
		from := slices.Index(propCustomers, firstOf[id])
		if from < 0 {
			continue
		}
		if from == 2 && i < 60 {
			erasedHanded++
		}
		handed = append(handed, routed(t, id, testNow.Add(-20*time.Minute), propCustomers[(from+1)%len(propCustomers)], "direct", "", ""))
	}
	if erasedHanded == 0 {
		t.Fatal("the events hand no interaction of the erased customer to another before the middle")
	}
	evs = append(slices.Insert(evs, mid, handed[:len(handed)/2]...), handed[len(handed)/2:]...)
	mid += len(handed) / 2
	evs = slices.Insert(evs, mid,
		mk(t, domain.TypeCustomerMerged, testNow.Add(-time.Minute), c1, map[string]any{"from_customer_id": c2}))
	erase := mk(t, domain.TypeCustomerErased, testNow, propCustomers[2], map[string]any{})
	switch erasure {
	case "first":
		evs = slices.Insert(evs, 0, erase)
	case "middle":
		evs = slices.Insert(evs, mid+1, erase)
	case "last":
		evs = append(evs, erase)
	}
	after := routed(t, "ix-0001", testNow.Add(-30*time.Minute), c1, "direct", "Q9", "ag9")
	first := seq
	run := func(bulk bool) []string {
		seq = first // the same stream positions: the same handles
		v, db := openView(t)
		if bulk {
			v.BeginBulk()
		}
		for rest := evs; len(rest) > 0; {
			k := min(9, len(rest))
			apply(t, v, db, rest[:k]...)
			rest = rest[k:]
		}
		if bulk {
			if err := v.EndBulk(db.Update); err != nil {
				t.Fatal(err)
			}
		}
		// After EndBulk the view writes as a live one (a rebuild's catch-up).
		apply(t, v, db, after)
		return rawDump(t, db)
	}
	want, got := run(false), run(true)
	if !slices.Equal(got, want) {
		t.Errorf("bulk-loaded file differs from the live one: %d vs %d entries; first difference: %s", len(got), len(want), firstDiff(got, want))
	}
}
