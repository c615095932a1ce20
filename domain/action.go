package domain

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// ActionCommand is what an agent asks of an interaction from its Settings menu
// (CONTRACT.md §4, commands on an interaction).
type ActionCommand struct{ enum }

// The five commands on an interaction.
var (
	ActionAssignCRMRecord   = ActionCommand{enum{"assign_crm_record"}}
	ActionUnassignCRMRecord = ActionCommand{enum{"unassign_crm_record"}}
	ActionAssignCase        = ActionCommand{enum{"assign_case"}}
	ActionUnassignCase      = ActionCommand{enum{"unassign_case"}}
	ActionCreatePayment     = ActionCommand{enum{"create_payment"}}
)

// ActionCommands lists the five commands.
func ActionCommands() []ActionCommand {
	return []ActionCommand{ActionAssignCRMRecord, ActionUnassignCRMRecord, ActionAssignCase, ActionUnassignCase, ActionCreatePayment}
}

// ActionState is what the commands on an interaction decide by: the CRM record and the
// case assigned now ("" for none) and the interaction's invoices (payments included).
type ActionState struct {
	CRMRecord string    `json:"crm_record"`
	Case      string    `json:"case"`
	Invoices  []Invoice `json:"invoices"`
}

// Action is one command with what it names.
type Action struct {
	Command  ActionCommand
	RecordID string  // the CRM record or case to assign
	Payment  Payment // the payment to create
	AgentID  string  // who acts: recorded in the event's data
}

// ActionConflictError is a command that the interaction's current state refuses:
// assigning where one is already assigned, unassigning where none is, or creating a
// payment whose id exists. Current is what stands in the way ("" when nothing is
// assigned).
type ActionConflictError struct {
	Command ActionCommand
	Current string
}

func (e *ActionConflictError) Error() string {
	switch e.Command {
	case ActionAssignCRMRecord:
		return fmt.Sprintf("CRM record %s is already assigned to this interaction; unassign it first", e.Current)
	case ActionAssignCase:
		return fmt.Sprintf("case %s is already assigned to this interaction; unassign it first", e.Current)
	case ActionUnassignCRMRecord:
		return "no CRM record is assigned to this interaction"
	case ActionUnassignCase:
		return "no case is assigned to this interaction"
	case ActionCreatePayment:
		return fmt.Sprintf("payment %s already exists on this interaction", e.Current)
	}
	return fmt.Sprintf("cannot %s in this state", e.Command)
}

// Decide applies the rules of the commands on an interaction to its current state: one
// CRM record and one case at a time (assigning a second one, or unassigning when none is
// assigned, is refused), and a payment id used once. It returns the event the command
// appends for interaction id, or an *ActionConflictError. The payload still goes through
// NewEvent, which validates it as any producer's.
func (s ActionState) Decide(interactionID string, a Action) (EventType, Payload, error) {
	link := func(action LinkAction, crm, cs string) (EventType, Payload, error) {
		return TypeInteractionLinked, &LinkedData{InteractionID: interactionID, Action: action, CRMRecordID: crm, CaseID: cs, AgentID: a.AgentID}, nil
	}
	conflict := func(current string) (EventType, Payload, error) {
		return EventType{}, nil, &ActionConflictError{Command: a.Command, Current: current}
	}
	switch a.Command {
	case ActionAssignCRMRecord:
		if s.CRMRecord != "" {
			return conflict(s.CRMRecord)
		}
		return link(LinkAssigned, a.RecordID, "")
	case ActionUnassignCRMRecord:
		if s.CRMRecord == "" {
			return conflict("")
		}
		return link(LinkUnassigned, s.CRMRecord, "")
	case ActionAssignCase:
		if s.Case != "" {
			return conflict(s.Case)
		}
		return link(LinkAssigned, "", a.RecordID)
	case ActionUnassignCase:
		if s.Case == "" {
			return conflict("")
		}
		return link(LinkUnassigned, "", s.Case)
	case ActionCreatePayment:
		if slices.ContainsFunc(s.Invoices, func(v Invoice) bool { return v.InvoiceID == a.Payment.ID }) {
			return conflict(a.Payment.ID)
		}
		p := a.Payment
		return TypeInvoiceIssued, &InvoiceData{InteractionID: interactionID, InvoiceID: p.ID, Amount: json.Number(p.Amount),
			Currency: p.Currency, Status: p.Status.String(), Reference: p.Reference, AgentID: a.AgentID}, nil
	}
	return EventType{}, nil, fmt.Errorf("unknown command %q", a.Command)
}

// PaymentStatus is where a payment created on an interaction stands.
type PaymentStatus struct{ enum }

// The payment statuses.
var (
	PaymentPending   = PaymentStatus{enum{"pending"}}
	PaymentPaid      = PaymentStatus{enum{"paid"}}
	PaymentFailed    = PaymentStatus{enum{"failed"}}
	PaymentRefunded  = PaymentStatus{enum{"refunded"}}
	PaymentCancelled = PaymentStatus{enum{"cancelled"}}
)

// PaymentStatuses lists every payment status.
func PaymentStatuses() []PaymentStatus {
	return []PaymentStatus{PaymentPending, PaymentPaid, PaymentFailed, PaymentRefunded, PaymentCancelled}
}

// ParsePaymentStatus returns the payment status named s, or an *EnumError.
func ParsePaymentStatus(s string) (PaymentStatus, error) {
	return parseEnum("payment status", s, PaymentStatuses())
}

// Payment is a payment an agent creates on an interaction: built only by NewPayment.
type Payment struct {
	ID        string
	Amount    string // a positive decimal, as text: money never goes through a float
	Currency  string // ISO 4217 code, three capital letters
	Status    PaymentStatus
	Reference string
}

// decimalRE is a positive decimal as JSON writes a number (no leading zeros, no
// exponent), so that the text is kept as is in the event's data.
var decimalRE = regexp.MustCompile(`^(0|[1-9][0-9]{0,17})(\.[0-9]{1,6})?$`)

// NewPayment validates a payment's fields; each error is a *ValidationError naming the
// field as the command's body does (amount, currency, status, reference, payment_id).
func NewPayment(id, amount, currency, status, reference string) (Payment, error) {
	p := Payment{ID: id, Amount: amount, Currency: currency, Reference: reference}
	if err := checkID("payment_id", id, true); err != nil {
		return Payment{}, err
	}
	switch {
	case amount == "":
		return Payment{}, invalid("amount", "is required")
	case !decimalRE.MatchString(amount):
		return Payment{}, invalid("amount", "%q is not a decimal such as \"12.50\" (digits, at most 6 after the point)", Clip(amount))
	case strings.Trim(amount, "0.") == "":
		return Payment{}, invalid("amount", "must be greater than zero")
	}
	if currency == "" {
		return Payment{}, invalid("currency", "is required")
	}
	if !currencyRE.MatchString(currency) {
		return Payment{}, invalid("currency", "%q is not an ISO 4217 code (three capital letters)", Clip(currency))
	}
	if status == "" {
		return Payment{}, invalid("status", "is required")
	}
	st, err := ParsePaymentStatus(status)
	if err != nil {
		return Payment{}, &ValidationError{Field: "status", Problem: err.Error(), cause: err}
	}
	p.Status = st
	if err := checkText("reference", reference, MaxTextBytes); err != nil {
		return Payment{}, err
	}
	return p, nil
}
