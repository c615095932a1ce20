package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/interaction-ledger/ledger/adapters/ingest"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/directory"
	"github.com/interaction-ledger/ledger/projections/history"
)

// ErrInteractionChanged: another command's event on the interaction was stored between
// reading its state and appending this command's event; nothing was appended.
var ErrInteractionChanged = errors.New("the interaction was changed meanwhile; reload it and try again")

// ActionRefusedError is a command on an interaction that was not appended: its rules
// refuse it in the interaction's current state (Err is a *domain.ActionConflictError), or
// another agent acted first (Err is ErrInteractionChanged). State is the interaction's
// state as the caller should show it.
type ActionRefusedError struct {
	InteractionID string
	State         domain.ActionState
	Err           error
}

func (e *ActionRefusedError) Error() string {
	if errors.Is(e.Err, ErrInteractionChanged) {
		return "interaction " + e.InteractionID + " was changed meanwhile; reload it and try again"
	}
	return e.Err.Error()
}

func (e *ActionRefusedError) Unwrap() error { return e.Err }

// ActionInputError names the input field of a command on an interaction that is wrong
// (crm_record_id, case_id, payment_id, amount, currency, status, reference).
type ActionInputError struct {
	Field string
	Err   error
}

func (e *ActionInputError) Error() string { return e.Err.Error() }
func (e *ActionInputError) Unwrap() error { return e.Err }

// ActionInput is what a command on an interaction names. An empty id is minted (a
// UUIDv7): the ledger records links, it does not own the CRM, so the caller may name what
// it created there or let the ledger mint one.
type ActionInput struct {
	RecordID string // the CRM record or case to assign
	Payment  PaymentInput
}

// PaymentInput is the payment to create, as text: the runner validates it.
type PaymentInput struct {
	PaymentID string
	Amount    string // a decimal string such as "12.50"
	Currency  string // ISO 4217
	Status    string
	Reference string
}

// ActionResult is the outcome of a command on an interaction once its event is applied.
type ActionResult struct {
	EventID  string
	Seq      uint64 // the stream position the command's event reached (Ledger-Position)
	RecordID string // the CRM record, case or payment named or minted
	State    domain.ActionState
}

// InteractionCommands runs the commands on an interaction (assign or unassign a CRM
// record or a case, create a payment), for the API and the agents' pages alike.
type InteractionCommands struct {
	Ingest    *ingest.Service
	History   *history.View
	HistoryDB *projections.DB  // to answer once the detail shows the change
	Now       func() time.Time // default time.Now
	Wait      time.Duration    // how long to wait for the detail (default 5 s)
	Logger    *slog.Logger     // default slog.Default()
}

// Run validates the input (*ActionInputError), reads the interaction's state and the
// stream sequence its keyed subject reached (an error matching history.ErrNotFound when
// rd may not see it, as the detail), decides by the rules (*ActionRefusedError
// otherwise), and appends the event only if no other command's event of the interaction
// was stored meanwhile (JetStream's expected last subject sequence: a lost race is an
// *ActionRefusedError with ErrInteractionChanged). It returns once the detail shows the
// change, or after Wait; ErrStoreUnavailable when the stream did not acknowledge.
func (ic *InteractionCommands) Run(ctx context.Context, rd domain.Reader, id string, cmd domain.ActionCommand, in ActionInput) (ActionResult, error) {
	now, wait, log := commandDefaults(ic.Now, ic.Wait, ic.Logger)
	a, err := actionOf(cmd, in)
	if err != nil {
		return ActionResult{}, err
	}
	a.AgentID = rd.AgentID
	res := ActionResult{RecordID: a.RecordID}
	if cmd == domain.ActionCreatePayment {
		res.RecordID = a.Payment.ID
	}
	target, err := ic.History.ActionTarget(rd, id)
	if err != nil {
		return res, fmt.Errorf("interaction %s: %w", id, err)
	}
	res.State = target.State
	typ, payload, err := target.State.Decide(id, a)
	var ce *domain.ActionConflictError
	if errors.As(err, &ce) {
		return res, &ActionRefusedError{InteractionID: id, State: target.State, Err: err}
	}
	if err != nil {
		return res, fmt.Errorf("decide %s on %s: %w", cmd, id, err)
	}
	t := now()
	ev, err := domain.NewEvent(uuid.Must(uuid.NewV7()).String(), typ, t, target.CustomerID, "api:"+rd.AgentID, payload, t)
	if err != nil {
		var ve *domain.ValidationError
		if errors.As(err, &ve) {
			field := strings.TrimPrefix(ve.Field, "data.")
			return res, &ActionInputError{Field: field, Err: fmt.Errorf("%s: %s", field, ve.Problem)}
		}
		return res, fmt.Errorf("%s event: %w", cmd, err)
	}
	res.EventID = ev.ID
	res.Seq, err = appendAndWait(ctx, ic.Ingest, ev, eventstore.InteractionSubjectFilter(id), target.LastSeq, ic.HistoryDB, wait, log)
	if errors.Is(err, eventstore.ErrConflict) {
		// Someone else acted first: the state as it is now, once known.
		if cur, rerr := ic.History.ActionTarget(rd, id); rerr == nil {
			res.State = cur.State
		}
		return res, &ActionRefusedError{InteractionID: id, State: res.State, Err: ErrInteractionChanged}
	}
	if err != nil {
		return res, err
	}
	after, err := ic.History.ActionTarget(rd, id)
	if err != nil {
		// The agent could see it a moment ago; a concurrent erasure may have removed it.
		return res, fmt.Errorf("interaction %s after %s: %w", id, cmd, err)
	}
	res.State = after.State
	return res, nil
}

// actionOf validates the input of cmd and mints the ids left empty.
func actionOf(cmd domain.ActionCommand, in ActionInput) (domain.Action, error) {
	a := domain.Action{Command: cmd}
	mint := func(id string) string {
		if id == "" {
			return uuid.Must(uuid.NewV7()).String()
		}
		return id
	}
	switch cmd {
	case domain.ActionAssignCRMRecord, domain.ActionAssignCase:
		a.RecordID = mint(in.RecordID)
	case domain.ActionCreatePayment:
		p := in.Payment
		pay, err := domain.NewPayment(mint(p.PaymentID), p.Amount, p.Currency, p.Status, p.Reference)
		if err == nil {
			err = checkCurrency(pay)
		}
		var ve *domain.ValidationError
		if errors.As(err, &ve) {
			return a, &ActionInputError{Field: ve.Field, Err: err}
		}
		if err != nil {
			return a, fmt.Errorf("payment: %w", err)
		}
		a.Payment = pay
	}
	return a, nil
}

// Button is one of My buttons, ready to follow.
type Button struct {
	Label string `json:"label"`
	URL   string `json:"url"`
}

// MyButtons fills in a reader's My buttons (their own, then their active profile's) from
// an interaction's detail, for the API's detail and the pages' alike.
type MyButtons struct {
	Directory *directory.View
	Logger    *slog.Logger // default slog.Default()
}

// For returns rd's buttons with their URLs filled in from d.
func (mb *MyButtons) For(rd domain.Reader, d *history.Detail) ([]Button, error) {
	bs, err := mb.Directory.Buttons(rd.AgentID)
	if err != nil {
		return nil, err
	}
	log := mb.Logger
	if log == nil {
		log = slog.Default()
	}
	out := make([]Button, 0, len(bs))
	vals := d.ButtonValues()
	for _, b := range bs {
		u, err := b.Expand(vals)
		if err != nil {
			// Validated when the directory event arrived: only a record stored by an
			// older, laxer ledger gets here. Leave it out rather than fail the detail.
			log.Warn("button left out", "agent", rd.AgentID, "label", b.Label, "err", err)
			continue
		}
		out = append(out, Button{Label: b.Label, URL: u})
	}
	return out, nil
}
