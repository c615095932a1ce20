package timeline

import (
	"fmt"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
)

// sharedStream is a stream of interactions that carried several customers, around the
// erasure of cust-a (and of cust-m, merged into it): each interaction is one way an
// erasure meets a shared interaction. It returns the stream and the customers erased.
func sharedStream(h *harness) ([]projections.Applied, []string) {
	a, b, m, x := "cust-a", "cust-b", "cust-m", "cust-x"
	inferred := func(iid, flow string) map[string]any {
		d := started(iid, flow, "incoming")
		d["inferred"] = true
		return d
	}
	routed := func(iid, agent string) map[string]any {
		return map[string]any{"interaction_id": iid, "routing": "direct", "agent_id": agent}
	}
	evs := []domain.Event{
		// s1: started for a, routed to and ended by b: now b's; erased, b's alone (no
		// started, only b's inference: a call from b's routing on).
		h.ev("s1-start", domain.TypeInteractionStarted, h.at(90), a, started("s1", "voice", "incoming")),
		h.ev("s1-route", domain.TypeInteractionRouted, h.at(85), b, routed("s1", "ag-2")),
		h.ev("s1-inf", domain.TypeInteractionStarted, h.at(85), b, inferred("s1", "voice")),
		h.ev("s1-end", domain.TypeInteractionEnded, h.at(80), b, ended("s1", "processed")),
		// s2: started for b, its last events a's: a's card shows it; erased, it goes back
		// to b's card, with b's messages only.
		h.ev("s2-start", domain.TypeInteractionStarted, h.at(70), b, started("s2", "whatsapp", "incoming")),
		h.ev("s2-msg1", domain.TypeInteractionMessage, h.at(69), b, message("s2", "incoming")),
		h.ev("s2-msg2", domain.TypeInteractionMessage, h.at(68), a, message("s2", "outgoing")),
		h.ev("s2-end", domain.TypeInteractionEnded, h.at(60), a, ended("s2", "processed")),
		// s3: three customers; erased, still shared by b and x.
		h.ev("s3-start", domain.TypeInteractionStarted, h.at(59), a, started("s3", "voice", "outgoing")),
		h.ev("s3-route", domain.TypeInteractionRouted, h.at(58), b, routed("s3", "ag-3")),
		h.ev("s3-inf", domain.TypeInteractionStarted, h.at(58), x, inferred("s3", "voice")),
		h.ev("s3-end", domain.TypeInteractionEnded, h.at(50), x, ended("s3", "aborted")),
		// s4: started for m, which is merged into a below, and routed to b: m's events
		// go with a's erasure.
		h.ev("s4-start", domain.TypeInteractionStarted, h.at(49), m, started("s4", "email", "outgoing")),
		h.ev("s4-open", domain.TypeEmailOpened, h.at(45), b, map[string]any{"interaction_id": "s4"}),
		h.ev("s4-open2", domain.TypeEmailOpened, h.at(44), m, map[string]any{"interaction_id": "s4"}),
		// s5: a's and m's only: goes whole.
		h.ev("s5-start", domain.TypeInteractionStarted, h.at(40), a, started("s5", "sms", "outgoing")),
		h.ev("s5-end", domain.TypeInteractionEnded, h.at(39), m, ended("s5", "processed")),
		// s6: b's alone; s7: a's alone.
		h.ev("s6-start", domain.TypeInteractionStarted, h.at(38), b, started("s6", "chat", "incoming")),
		h.ev("s7-start", domain.TypeInteractionStarted, h.at(37), a, started("s7", "chat", "incoming")),
		h.ev("b-note", domain.TypeNoteAdded, h.at(36), b, map[string]any{"note_id": "nb", "text": "b's own"}),
		h.ev("merge", domain.TypeCustomerMerged, h.at(30), a, map[string]any{"from_customer_id": m}),
		h.ev("s1-dup", domain.TypeInteractionRouted, h.at(85), b, routed("s1", "ag-2")), // a duplicate
		h.ev("erase", domain.TypeCustomerErased, h.at(20), a, map[string]any{}),
		// After the erasure: b's further events on what was shared.
		h.ev("s2-msg3", domain.TypeInteractionMessage, h.at(10), b, message("s2", "incoming")),
		h.ev("s3-msg", domain.TypeInteractionMessage, h.at(9), b, message("s3", "incoming")),
	}
	return numbered(evs), []string{a, m}
}

// TestEraseRefoldsSharedInteractions: after an erasure, every customer's card is the one a
// rebuild from the erased stream gives (the erased customers' events gone: the eraser
// deletes them), whatever the batching, live or bulk-loaded, and no erased event's id
// is left in the file.
func TestEraseRefoldsSharedInteractions(t *testing.T) {
	h := newHarness(t)
	stream, erased := sharedStream(h)
	var rebuilt []projections.Applied
	var gone []string
	for _, a := range stream {
		if slices.Contains(erased, a.Event.CustomerID) {
			gone = append(gone, a.Event.ID)
			continue
		}
		rebuilt = append(rebuilt, a)
	}
	customers := []string{"cust-a", "cust-b", "cust-m", "cust-x"}
	want := map[string]string{}
	wh := newHarness(t)
	wh.applyBatch(rebuilt)
	for _, c := range customers {
		want[c] = wh.snapshot(c)
	}
	// What the rebuild shows, by hand: s2 back on b's card with b's two messages and no
	// end; s1 without its started event, still listed from b's inference.
	items := map[string]Item{}
	for _, it := range wh.timeline("cust-b") {
		items[it.InteractionID] = it
	}
	if it := items["s2"]; it.MessageCount != 2 || it.EndedAt != nil || it.Kind != string(KindChat) {
		t.Fatalf("rebuilt s2 on b's card: %+v, want a chat with 2 messages, not ended", it)
	}
	if it := items["s1"]; it.Kind != string(KindCall) || !it.OccurredAt.Equal(h.at(85)) || it.AgentID != "ag-2" {
		t.Fatalf("rebuilt s1 on b's card: %+v, want a call at b's first event", it)
	}
	if _, ok := items["s5"]; ok || len(wh.timeline("cust-a")) != 0 {
		t.Fatal("rebuilt: s5 or a's card is there")
	}

	for _, tc := range batchings {
		t.Run(tc.name, func(t *testing.T) {
			lh := newHarness(t)
			lh.load(stream, tc.n, tc.bulk, 2) // the two events after the erasure live
			for _, c := range customers {
				if got := lh.snapshot(c); got != want[c] {
					t.Errorf("%s's card:\n got %s\nwant %s", c, got, want[c])
				}
			}
			checkNoTrace(t, lh.db, gone...)
			// The index of shared interactions names only what is still shared: s3 (b, x).
			var carried []string
			must(t, lh.db.View(func(tx *bolt.Tx) error {
				return tx.Bucket(bCarried).ForEach(func(k, _ []byte) error {
					carried = append(carried, fmt.Sprintf("%q", k))
					return nil
				})
			}))
			if want := []string{`"cust-b\x00s3"`, `"cust-x\x00s3"`}; !slices.Equal(carried, want) {
				t.Errorf("carried = %v, want %v", carried, want)
			}
		})
	}
}

// TestSharedInteractionCardBeforeErasure: keeping the parts changes nothing a card shows.
// An interaction is on the card of its latest event's customer, with the fold of every
// event whoever sent it.
func TestSharedInteractionCardBeforeErasure(t *testing.T) {
	h := newHarness(t)
	stream, _ := sharedStream(h)
	erase := slices.IndexFunc(stream, func(a projections.Applied) bool { return a.Event.Type == domain.TypeCustomerErased })
	h.applyBatch(stream[:erase])
	byID := map[string]Item{}
	for _, c := range []string{"cust-a", "cust-b", "cust-x"} {
		for _, it := range h.timeline(c) {
			byID[c+" "+it.InteractionID] = it
		}
	}
	if it, ok := byID["cust-a s2"]; !ok || it.MessageCount != 2 || it.EndedAt == nil {
		t.Errorf("s2 on a's card: %+v (found %v), want both messages and the end", it, ok)
	}
	if it, ok := byID["cust-b s1"]; !ok || !it.OccurredAt.Equal(h.at(90)) {
		t.Errorf("s1 on b's card: %+v (found %v), want it at a's started", it, ok)
	}
	if it, ok := byID["cust-a s4"]; !ok || it.OpenCount != 2 {
		t.Errorf("s4 on a's card (m merged into a): %+v (found %v), want 2 opens", it, ok)
	}
	if _, ok := byID["cust-x s3"]; !ok {
		t.Error("s3 is not on x's card")
	}
}
