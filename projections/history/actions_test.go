package history

import (
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
)

// TestActionTargetLastSeq: the sequence a command expects is the highest among the
// interaction's events stored on its keyed subject (duplicates included: they are the
// subject's last message all the same), never one on the plain subject, and an erased
// customer's no longer count; the state is the fold's, whatever subject brought it.
func TestActionTargetLastSeq(t *testing.T) {
	v, db := openView(t)
	at := testNow.Add(-time.Hour)
	keyedSubject := func(ev domain.Event) string { return "ledger.events." + ev.Type.String() + ".ikey" }
	plainSubject := func(ev domain.Event) string { return "ledger.events." + ev.Type.String() }
	put := func(s uint64, subject func(domain.Event) string, ev domain.Event) {
		t.Helper()
		batch := []projections.Applied{{Seq: s, Subject: subject(ev), Event: ev}}
		if err := db.Update(func(tx *bolt.Tx) error { return v.Apply(tx, batch) }); err != nil {
			t.Fatal(err)
		}
	}
	admin := domain.Reader{AgentID: "root", Role: domain.RoleAdministrator, HistoryAccess: true}
	customer := "cus-a" // the customer of the interaction's latest event
	check := func(step string, wantSeq uint64, wantCRM string, wantInvoices int) {
		t.Helper()
		got, err := v.ActionTarget(admin, "call-1")
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if got.LastSeq != wantSeq || got.State.CRMRecord != wantCRM || len(got.State.Invoices) != wantInvoices || got.CustomerID != customer {
			t.Errorf("%s: got seq %d, crm %q, %d invoices, customer %q; want %d, %q, %d, %q", step, got.LastSeq,
				got.State.CRMRecord, len(got.State.Invoices), got.CustomerID, wantSeq, wantCRM, wantInvoices, customer)
		}
	}
	linkA := mk(t, domain.TypeInteractionLinked, at.Add(time.Minute), "cus-a", map[string]any{"interaction_id": "call-1", "action": "assigned", "crm_record_id": "crm-1", "agent_id": "ann"})
	put(1, plainSubject, started(t, "call-1", at, "cus-a", "voice", "direct", "", "ann", nil))
	check("started", 0, "", 0)
	put(2, keyedSubject, linkA)
	check("linked on the keyed subject", 2, "crm-1", 0)
	put(3, plainSubject, mk(t, domain.TypeInteractionLinked, at.Add(2*time.Minute), "cus-a", map[string]any{"interaction_id": "call-1", "action": "unassigned", "crm_record_id": "crm-1"}))
	check("unlinked on the plain subject", 2, "", 0)
	put(4, keyedSubject, linkA)
	check("a duplicate on the keyed subject", 4, "", 0)
	put(5, keyedSubject, mk(t, domain.TypeInvoiceIssued, at.Add(3*time.Minute), "cus-b", map[string]any{"interaction_id": "call-1", "invoice_id": "pay-1", "amount": "3.10", "currency": "EUR"}))
	customer = "cus-b"
	check("another customer's payment", 5, "", 1)
	customer = "cus-a"
	put(6, plainSubject, mk(t, domain.TypeCustomerErased, at.Add(4*time.Minute), "cus-b", map[string]any{}))
	check("that customer erased", 4, "", 0)

	zed := domain.Reader{AgentID: "zed", Role: domain.RoleCollaborator, HistoryAccess: true}
	if _, err := v.ActionTarget(zed, "call-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a reader who may not see it: got %v, want ErrNotFound", err)
	}
	if _, err := v.ActionTarget(admin, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown interaction: got %v, want ErrNotFound", err)
	}
}
