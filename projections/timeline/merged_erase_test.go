package timeline

import (
	"slices"
	"testing"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
)

// mergedErasureStream: cust-x is merged into cust-m, then cust-m into cust-b, each with a
// full card (cardEvents) and an interaction shared by m and b; events still addressed
// to m and x after the merges land under b; then cust-m is erased, which erases cust-x
// too (merged into m), and b goes on. It returns the stream and the erased customers.
func mergedErasureStream(h *harness) ([]projections.Applied, []string) {
	b, m, x := "cust-b", "cust-m", "cust-x"
	var evs []domain.Event
	evs = append(evs, cardEvents(h, b)...)
	evs = append(evs, cardEvents(h, x)...)
	evs = append(evs, h.ev("merge-x", domain.TypeCustomerMerged, h.at(4), m, map[string]any{"from_customer_id": x}))
	evs = append(evs, cardEvents(h, m)...)
	evs = append(evs,
		h.ev("sh-start", domain.TypeInteractionStarted, h.at(50), m, started("sh", "voice", "incoming")),
		h.ev("sh-route", domain.TypeInteractionRouted, h.at(49), b, map[string]any{"interaction_id": "sh", "routing": "direct", "agent_id": "ag-7"}),
		h.ev("merge-m", domain.TypeCustomerMerged, h.at(3), b, map[string]any{"from_customer_id": m}),
		h.ev("m-late-note", domain.TypeNoteAdded, h.at(2), m, map[string]any{"note_id": "n-late-m", "text": "m-late-secret"}),
		h.ev("m-late-order", domain.TypeOrderCreated, h.at(2), m, map[string]any{"order_id": "o-late-m", "total": 3}),
		h.ev("x-late-visit", domain.TypeVisitRecorded, h.at(2), x, map[string]any{"visit_id": "v-late-x", "pages": 1}),
		h.ev("m-late-call", domain.TypeInteractionStarted, h.at(2), m, started("late-m", "voice", "outgoing")),
		h.ev("b-late-note", domain.TypeNoteAdded, h.at(2), b, map[string]any{"note_id": "n-late-b", "text": "b stays"}),
		h.ev("erase-m", domain.TypeCustomerErased, h.at(1), m, map[string]any{}),
		h.ev("b-after", domain.TypeNoteAdded, h.at(0), b, map[string]any{"note_id": "n-after-b", "text": "after"}),
	)
	return numbered(evs), []string{m, x}
}

// TestEraseMergedCustomer: erasing a customer who was merged into another takes what
// their events (and those of the customers merged into them) put on the survivor's card,
// and nothing else: the survivor's card is the one a rebuild from the erased stream
// gives (the eraser deletes their events and the merges that name them), applied in any
// batching, live or bulk-loaded, and the file holds no trace of them.
func TestEraseMergedCustomer(t *testing.T) {
	h := newHarness(t)
	stream, erased := mergedErasureStream(h)
	isErased := func(a projections.Applied) bool {
		if slices.Contains(erased, a.Event.CustomerID) {
			return true
		}
		d, ok := a.Event.Payload.(*domain.MergedData)
		return ok && slices.Contains(erased, d.FromCustomerID)
	}
	var rebuilt []projections.Applied
	var gone []string
	for _, a := range stream {
		if isErased(a) {
			gone = append(gone, a.Event.ID)
			continue
		}
		rebuilt = append(rebuilt, a)
	}
	wh := newHarness(t)
	wh.applyBatch(rebuilt)
	tasks := []string{"t-cust-b", "t-cust-m", "t-cust-x"}
	want := wh.snapshot("cust-b", tasks...)
	if n := len(wh.timeline("cust-b")); n < 14 {
		t.Fatalf("the rebuilt card of cust-b has %d items: the stream is not what the test means", n)
	}

	for _, tc := range batchings {
		t.Run(tc.name, func(t *testing.T) {
			lh := newHarness(t)
			lh.load(stream, tc.n, tc.bulk, 1)
			if got := lh.snapshot("cust-b", tasks...); got != want {
				t.Errorf("cust-b's card:\n got %s\nwant %s", got, want)
			}
			for _, c := range erased {
				if got, want := lh.snapshot(c, tasks...), wh.snapshot(c, tasks...); got != want {
					t.Errorf("%s's card:\n got %s\nwant %s", c, got, want)
				}
			}
			needles := append([]string{"m-late-secret"}, erased...)
			checkNoTrace(t, lh.db, append(needles, gone...)...)
		})
	}
}

// TestEraseMergedCustomerKeepsSharedTask: a task whose events were addressed both to the
// survivor and to the erased id stays on the survivor's card, without the erased id
// (its status is still what its last event set, whoever sent it: the record keeps no
// events to fold again).
func TestEraseMergedCustomerKeepsSharedTask(t *testing.T) {
	h := newHarness(t)
	b, m := "cust-b", "cust-m"
	h.apply(
		h.ev("tc", domain.TypeTaskCreated, h.at(10), b, task("t-1", "Call back")),
		h.ev("merge", domain.TypeCustomerMerged, h.at(9), b, map[string]any{"from_customer_id": m}),
		h.ev("td", domain.TypeTaskCompleted, h.at(8), m, task("t-1", "")),
		h.ev("m-only", domain.TypeTaskCreated, h.at(7), m, task("t-2", "Theirs")),
	)
	h.apply(h.ev("erase", domain.TypeCustomerErased, h.at(1), m, map[string]any{}))
	st, tk, err := h.v.Task(b, "t-1")
	must(t, err)
	if st == domain.TaskAbsent || tk.Title != "Call back" {
		t.Fatalf("t-1 after the erasure: state %v task %+v, want it kept", st, tk)
	}
	if st, _, err := h.v.Task(b, "t-2"); err != nil || st != domain.TaskAbsent {
		t.Errorf("t-2, the erased id's own task: state %v (err %v), want none", st, err)
	}
	checkNoTrace(t, h.db, m)
	for _, it := range h.timeline(b) {
		if it.TaskID == "t-2" || it.Action == "completed" {
			t.Errorf("the erased id's task event is still on the card: %+v", it)
		}
	}
}
