package domain

import (
	"errors"
	"testing"
)

// TestDecideAction is the table of state × command of the commands on an interaction:
// one CRM record and one case at a time, unassign only what is assigned, a payment id
// used once; a refusal is an *ActionConflictError naming what stands in the way.
func TestDecideAction(t *testing.T) {
	pay, err := NewPayment("pay-1", "12.50", "EUR", "paid", "psp-9")
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]ActionState{
		"nothing": {},
		"crm":     {CRMRecord: "crm-a"},
		"case":    {Case: "case-a"},
		"both":    {CRMRecord: "crm-a", Case: "case-a"},
		"paid":    {Invoices: []Invoice{{InvoiceID: "pay-1"}}},
	}
	type outcome struct {
		typ      EventType // zero: refused
		action   LinkAction
		crm, cs  string // the record the event names
		conflict string // ActionConflictError.Current when refused
	}
	assigned := func(crm, cs string) outcome {
		return outcome{typ: TypeInteractionLinked, action: LinkAssigned, crm: crm, cs: cs}
	}
	unassigned := func(crm, cs string) outcome {
		return outcome{typ: TypeInteractionLinked, action: LinkUnassigned, crm: crm, cs: cs}
	}
	issued := outcome{typ: TypeInvoiceIssued}
	refused := func(current string) outcome { return outcome{conflict: current} }
	want := map[string]map[ActionCommand]outcome{
		"nothing": {ActionAssignCRMRecord: assigned("crm-b", ""), ActionUnassignCRMRecord: refused(""),
			ActionAssignCase: assigned("", "case-b"), ActionUnassignCase: refused(""), ActionCreatePayment: issued},
		"crm": {ActionAssignCRMRecord: refused("crm-a"), ActionUnassignCRMRecord: unassigned("crm-a", ""),
			ActionAssignCase: assigned("", "case-b"), ActionUnassignCase: refused(""), ActionCreatePayment: issued},
		"case": {ActionAssignCRMRecord: assigned("crm-b", ""), ActionUnassignCRMRecord: refused(""),
			ActionAssignCase: refused("case-a"), ActionUnassignCase: unassigned("", "case-a"), ActionCreatePayment: issued},
		"both": {ActionAssignCRMRecord: refused("crm-a"), ActionUnassignCRMRecord: unassigned("crm-a", ""),
			ActionAssignCase: refused("case-a"), ActionUnassignCase: unassigned("", "case-a"), ActionCreatePayment: issued},
		"paid": {ActionAssignCRMRecord: assigned("crm-b", ""), ActionUnassignCRMRecord: refused(""),
			ActionAssignCase: assigned("", "case-b"), ActionUnassignCase: refused(""), ActionCreatePayment: refused("pay-1")},
	}
	for name, st := range states {
		if len(want[name]) != len(ActionCommands()) {
			t.Fatalf("state %s: %d commands in the table, want all %d", name, len(want[name]), len(ActionCommands()))
		}
		for _, cmd := range ActionCommands() {
			w := want[name][cmd]
			t.Run(name+"/"+cmd.String(), func(t *testing.T) {
				typ, p, err := st.Decide("call-1", Action{Command: cmd, RecordID: map[bool]string{true: "crm-b", false: "case-b"}[cmd == ActionAssignCRMRecord], Payment: pay, AgentID: "ann"})
				if w.typ.IsZero() {
					var ce *ActionConflictError
					if !errors.As(err, &ce) || ce.Current != w.conflict || ce.Command != cmd {
						t.Fatalf("got %v, %v; want a conflict on %q", typ, err, w.conflict)
					}
					return
				}
				if err != nil || typ != w.typ {
					t.Fatalf("got %v, %v; want %v", typ, err, w.typ)
				}
				// The payload is a valid event's, naming the interaction and the agent.
				ev, err := NewEvent(eventID(1), typ, testNow, testCust, "api:ann", p, testNow)
				if err != nil {
					t.Fatalf("NewEvent: %v", err)
				}
				switch d := ev.Payload.(type) {
				case *LinkedData:
					if d.InteractionID != "call-1" || d.Action != w.action || d.CRMRecordID != w.crm || d.CaseID != w.cs || d.AgentID != "ann" {
						t.Errorf("linked = %+v, want %+v", d, w)
					}
				case *InvoiceData:
					if d.InvoiceID != "pay-1" || d.Amount.String() != "12.50" || d.Currency != "EUR" || d.Status != "paid" || d.Reference != "psp-9" || d.AgentID != "ann" {
						t.Errorf("invoice = %+v", d)
					}
				}
			})
		}
	}
}

// TestNewPayment: each bad field is refused naming it; the amount is kept as written.
func TestNewPayment(t *testing.T) {
	tests := []struct {
		name                         string
		id, amount, cur, status, ref string
		field                        string // "" : valid
	}{
		{"valid", "p", "12.50", "EUR", "paid", "r", ""},
		{"integer amount", "p", "7", "JPY", "pending", "", ""},
		{"no id", "", "1", "EUR", "paid", "", "payment_id"},
		{"no amount", "p", "", "EUR", "paid", "", "amount"},
		{"comma", "p", "12,50", "EUR", "paid", "", "amount"},
		{"negative", "p", "-1", "EUR", "paid", "", "amount"},
		{"exponent", "p", "1e3", "EUR", "paid", "", "amount"},
		{"leading zero", "p", "012", "EUR", "paid", "", "amount"},
		{"zero", "p", "0.00", "EUR", "paid", "", "amount"},
		{"too precise", "p", "1.1234567", "EUR", "paid", "", "amount"},
		{"no currency", "p", "1", "", "paid", "", "currency"},
		{"lower-case currency", "p", "1", "eur", "paid", "", "currency"},
		{"no status", "p", "1", "EUR", "", "", "status"},
		{"unknown status", "p", "1", "EUR", "done", "", "status"},
		{"invalid UTF-8 reference", "p", "1", "EUR", "paid", "\xff", "reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPayment(tt.id, tt.amount, tt.cur, tt.status, tt.ref)
			if tt.field == "" {
				if err != nil || p.Amount != tt.amount {
					t.Fatalf("got %+v, %v; want valid, amount %q", p, err, tt.amount)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tt.field {
				t.Fatalf("got %v, want an error naming %s", err, tt.field)
			}
		})
	}
}
