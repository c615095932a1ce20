package erasure_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/interaction-ledger/ledger/adapters/erasure"
)

// TestEraseInteractionThatCarriedTwoCustomers (issue 11, item 9): a call started for the
// erased customer and routed for another carried both. After the erasure no file holds
// the erased customer's phone or email: the history found the call by every customer it
// carried, not only by the last one, whether its views applied the events live or
// rebuilt their files from the stream (a bulk load, which writes the lists at its end
// from the rows, and a row names only the last customer).
func TestEraseInteractionThatCarriedTwoCustomers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rebuilt bool
	}{{"applied live", false}, {"rebuilt at start", true}} {
		t.Run(tc.name, func(t *testing.T) {
			l := openLedger(t)
			at := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
			erased := newPerson("tel:+14155550143", "+1 415 555 0143", "+14155550143", "Shared.Caller@example.com", "Shared Caller", "the-shared-note-text")
			other := newPerson("tel:+12125550198", "+1 212 555 0198", "+12125550198", "Routed.Person@example.com", "Rita Routed", "the-routed-note-text")
			call := uuid.NewString()
			if !tc.rebuilt {
				l.runProjectors(t)
				l.waitReady(t) // an empty stream at start: no rebuild
			}
			appendAll(t, l.store, other.events(t, at)...)
			beforeSeq := appendAll(t, l.store,
				envelope(t, "interaction.started", erased.customer, at.Add(time.Hour), map[string]any{"interaction_id": call, "flow": "voice",
					"direction": "incoming", "routing": "direct", "agent_id": "agent-1",
					"contact": map[string]any{"phone": erased.phone, "email": erased.email}}),
				envelope(t, "interaction.routed", other.customer, at.Add(time.Hour+time.Minute), map[string]any{"interaction_id": call,
					"routing": "direct", "agent_id": "agent-2"}))
			if tc.rebuilt {
				l.runProjectors(t) // an empty file over a non-empty stream: a bulk rebuild
			}
			l.waitApplied(t, beforeSeq)
			appendAll(t, l.store, envelope(t, "customer.erased", erased.customer, at.Add(2*time.Hour), map[string]any{}))

			_, stop := l.eraseOnce(t)
			checkFiles(t, l.dir, []person{erased}, other)
			stop()
		})
	}
}

// eraseOnce runs an Eraser until it reports one erasure and returns the report and a
// stop function that ends the Eraser and checks that it ended cleanly.
func (l *ledgerUnderTest) eraseOnce(t *testing.T) (erasure.Report, func()) {
	t.Helper()
	reports := make(chan erasure.Report, 4)
	e, err := erasure.New(erasure.Config{Store: l.store, Views: l.eraserViews(), Maintenance: &sync.Mutex{},
		Logger: slog.New(slog.DiscardHandler), OnErased: func(r erasure.Report) { reports <- r }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- e.Run(ctx) }()
	stop := func() {
		t.Helper()
		cancel()
		if err := <-runErr; err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
	select {
	case rep := <-reports:
		return rep, stop
	case err := <-runErr:
		cancel()
		t.Fatalf("Run returned before the erasure: %v", err)
	case <-time.After(60 * time.Second):
		stop()
		t.Fatal("no erasure within 60s")
	}
	return erasure.Report{}, stop
}

// TestEraseACustomerMergedIntoAnother: erasing an id that was merged into another
// customer removes, from every file, what that id's events carried (its calls, its note,
// its card changes, before and after the merge) and what those of an id merged into it
// before carried, while the customer it was merged into keeps their own.
func TestEraseACustomerMergedIntoAnother(t *testing.T) {
	l := openLedger(t)
	l.runProjectors(t)
	l.waitReady(t)
	at := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	merged := newPerson("tel:+14155550161", "+1 415 555 0161", "+14155550161", "Merged.Away@example.com", "Mona Merged", "the-merged-note-text")
	survivor := newPerson("tel:+12125550162", "+1 212 555 0162", "+12125550162", "Sur.Vivor@example.com", "Sam Survivor", "the-survivor-note-text")
	earlier := newPerson("tel:+14155550163", "+1 415 555 0163", "+14155550163", "Ear.Lier@example.com", "Eli Earlier", "the-earlier-note-text")
	appendAll(t, l.store, survivor.events(t, at)...)
	appendAll(t, l.store, earlier.events(t, at.Add(time.Hour))...)
	appendAll(t, l.store, envelope(t, "customer.merged", merged.customer, at.Add(time.Hour+30*time.Minute), map[string]any{"from_customer_id": earlier.customer}))
	appendAll(t, l.store, merged.events(t, at.Add(time.Hour))...)
	appendAll(t, l.store, envelope(t, "customer.merged", survivor.customer, at.Add(2*time.Hour), map[string]any{"from_customer_id": merged.customer}))
	// Still addressed to the merged id: lands on the survivor's card.
	beforeSeq := appendAll(t, l.store, envelope(t, "note.added", merged.customer, at.Add(3*time.Hour),
		map[string]any{"note_id": uuid.NewString(), "text": merged.note + " again", "author_id": "agent-1"}))
	l.waitApplied(t, beforeSeq)
	appendAll(t, l.store, envelope(t, "customer.erased", merged.customer, at.Add(4*time.Hour), map[string]any{}))

	_, stop := l.eraseOnce(t)
	checkFiles(t, l.dir, []person{merged, earlier}, survivor)
	stop()
	page, err := l.tl.Timeline(survivor.customer, nil, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	var notes int
	for _, it := range page.Items {
		if it.Kind == "note" {
			notes++
		}
	}
	if notes != 1 {
		t.Errorf("the survivor's card has %d notes after the erasure, want their own 1", notes)
	}
}
