package timeline

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
)

// erasedStream is what the stream's eraser leaves of stream after the erasure at index
// erase (adapters/erasure's scan): the erased customer and, by the merges up to the
// erasure as their events named them, every customer merged into it, transitively; gone
// are their events, the merges that name them and the erasure itself. Sequences are
// kept: the eraser deletes messages, it does not renumber the stream.
func erasedStream(stream []projections.Applied, erase int) ([]projections.Applied, map[string]bool) {
	edges := map[string][]string{}
	for _, a := range stream[:erase] {
		if d, ok := a.Event.Payload.(*domain.MergedData); ok {
			edges[a.Event.CustomerID] = append(edges[a.Event.CustomerID], d.FromCustomerID)
		}
	}
	erased := map[string]bool{stream[erase].Event.CustomerID: true}
	queue := []string{stream[erase].Event.CustomerID}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		for _, from := range edges[c] {
			if !erased[from] {
				erased[from] = true
				queue = append(queue, from)
			}
		}
	}
	var out []projections.Applied
	for i, a := range stream {
		if i <= erase && erased[a.Event.CustomerID] {
			continue
		}
		if d, ok := a.Event.Payload.(*domain.MergedData); ok && i < erase && erased[d.FromCustomerID] {
			continue
		}
		out = append(out, a)
	}
	return out, erased
}

// randomCards is a random stream over six customers: interactions whose events any of
// them may send (shared), notes, orders and tasks of each, merges in any direction
// (cycles too, but no id merged twice), then the erasure of one customer, whose index it
// returns. Notes and tasks have ids of their own per customer (the two cases where the
// view cannot tell a merged id's part apart, doc.go, are left out).
func randomCards(h *harness, rng *rand.Rand) ([]projections.Applied, int) {
	custs := []string{"c0", "c1", "c2", "c3", "c4", "c5"}
	flows := []string{"voice", "email", "sms", "whatsapp"}
	var evs []domain.Event
	n := 0
	name := func() string { n++; return fmt.Sprintf("e%03d", n) }
	event := func(custs []string) domain.Event {
		c := custs[rng.IntN(len(custs))]
		at := h.at(200 - n)
		switch k := rng.IntN(10); {
		case k < 5:
			i := rng.IntN(8)
			iid := fmt.Sprintf("i%d", i)
			switch rng.IntN(4) {
			case 0:
				return h.ev(name(), domain.TypeInteractionStarted, at, c, started(iid, flows[i%4], "incoming"))
			case 1:
				return h.ev(name(), domain.TypeInteractionRouted, at, c, map[string]any{"interaction_id": iid,
					"routing": "smart", "queue_id": fmt.Sprintf("q%d", rng.IntN(3)), "agent_id": fmt.Sprintf("ag%d", rng.IntN(4))})
			case 2:
				return h.ev(name(), domain.TypeInteractionMessage, at, c, message(iid, "incoming"))
			default:
				return h.ev(name(), domain.TypeInteractionEnded, at, c, ended(iid, "processed"))
			}
		case k < 7:
			return h.ev(name(), domain.TypeNoteAdded, at, c, map[string]any{"note_id": fmt.Sprintf("n-%s-%d", c, rng.IntN(2)), "text": name()})
		case k < 8:
			return h.ev(name(), domain.TypeOrderCreated, at, c, map[string]any{"order_id": name(), "total": 1})
		default:
			t := []domain.EventType{domain.TypeTaskCreated, domain.TypeTaskUpdated, domain.TypeTaskCompleted}[rng.IntN(3)]
			return h.ev(name(), t, at, c, task(fmt.Sprintf("t-%s", c), "title "+name()))
		}
	}
	// The view's aliases, to leave out merging an id merged before (the view repoints it,
	// and an erasure may then file a shared interaction elsewhere than a rebuild: doc.go).
	alias := map[string]string{}
	resolve := func(c string) string {
		for alias[c] != "" {
			c = alias[c]
		}
		return c
	}
	for range 40 + rng.IntN(40) {
		if rng.IntN(12) == 0 {
			from, into := custs[rng.IntN(len(custs))], custs[rng.IntN(len(custs))]
			if from != into && alias[from] == "" {
				if to := resolve(into); to != from { // else a cycle, which the view ignores
					for k, v := range alias {
						if v == from {
							alias[k] = to
						}
					}
					alias[from] = to
				}
				evs = append(evs, h.ev(name(), domain.TypeCustomerMerged, h.at(200-n), into, map[string]any{"from_customer_id": from}))
				continue
			}
		}
		evs = append(evs, event(custs))
	}
	erase := len(evs)
	victim := custs[rng.IntN(len(custs))]
	evs = append(evs, h.ev(name(), domain.TypeCustomerErased, h.at(200-n), victim, map[string]any{}))
	return numbered(evs), erase
}

// TestEraseEqualsRebuildOfTheErasedStream: for random streams of shared interactions,
// merges in every order and an erasure, applied live in random batches or bulk-loaded,
// every customer's card after the erasure is the one a rebuild from what the eraser
// leaves of the stream gives.
func TestEraseEqualsRebuildOfTheErasedStream(t *testing.T) {
	rng := rand.New(rand.NewPCG(20261202, 3))
	custs := []string{"c0", "c1", "c2", "c3", "c4", "c5"}
	for round := range 300 {
		h := newHarness(t)
		stream, erase := randomCards(h, rng)
		want, erased := erasedStream(stream, erase)
		rh := newHarness(t)
		rh.applyBatch(want)
		n := 1 + rng.IntN(8)
		bulk := rng.IntN(3) == 0 // a rebuild at start meets the erasure
		h.load(stream, n, bulk, 0)
		checkTaskOrder(t, h) // merges, erasures, expiries and a bulk load kept the tab's order
		var tasks []string
		for _, c := range custs {
			tasks = append(tasks, "t-"+c)
		}
		for _, c := range custs {
			if got, want := h.snapshot(c, tasks...), rh.snapshot(c, tasks...); got != want {
				var names []string
				for _, a := range stream {
					names = append(names, fmt.Sprintf("%s:%s:%s", a.Event.Type, a.Event.CustomerID, a.Event.Payload))
				}
				t.Fatalf("round %d (batches of %d, bulk %v, erased %v): %s's card\n got %s\nwant %s\nstream %v",
					round, n, bulk, slices.Sorted(maps.Keys(erased)), c, got, want, names)
			}
		}
	}
}
