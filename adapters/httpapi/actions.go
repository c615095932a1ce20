package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/text/currency"

	"github.com/interaction-ledger/ledger/adapters/ingest"
	"github.com/interaction-ledger/ledger/adapters/jsonhttp"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/history"
)

// maxCommandBody bounds the body of a command (a few ids and a payment).
const maxCommandBody = 64 << 10

// The bodies of the commands on an interaction (CONTRACT.md §4). Unknown fields are
// refused, naming them: a misspelt "crm_record" must not silently mint an id.
type (
	crmRecordBody struct {
		CRMRecordID string `json:"crm_record_id"`
	}
	caseBody struct {
		CaseID string `json:"case_id"`
	}
	paymentBody struct {
		PaymentID string `json:"payment_id"`
		Amount    string `json:"amount"` // a decimal string: a JSON number is refused
		Currency  string `json:"currency"`
		Status    string `json:"status"`
		Reference string `json:"reference"`
	}
)

// interactionAction runs one of the commands on an interaction, as taskCommand runs the
// task commands: it reads the interaction's state and the stream sequence its keyed
// subject reached from the history view (404 for an interaction the agent may not see,
// as the detail), decides by the rules (409 with the current state otherwise), and
// appends the event only if no other event of the interaction's commands was stored
// meanwhile (JetStream's expected last subject sequence: a lost race is a 409 too). It
// answers once the detail shows the change, with the event's stream position.
func (s *Server) interactionAction(cmd domain.ActionCommand) func(http.ResponseWriter, *http.Request, domain.Reader) {
	return func(w http.ResponseWriter, r *http.Request, rd domain.Reader) {
		id := r.PathValue("id")
		a, ok := readAction(w, r, cmd)
		if !ok {
			return
		}
		a.AgentID = rd.AgentID
		target, err := s.cfg.History.ActionTarget(rd, id)
		if errors.Is(err, history.ErrNotFound) {
			jsonhttp.Error(w, http.StatusNotFound, "interaction "+id+" not found", nil)
			return
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
		typ, payload, err := target.State.Decide(id, a)
		var ce *domain.ActionConflictError
		if errors.As(err, &ce) {
			conflict(w, err.Error(), id, target.State)
			return
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
		now := s.cfg.Now()
		ev, err := domain.NewEvent(uuid.Must(uuid.NewV7()).String(), typ, now, target.CustomerID, "api:"+rd.AgentID, payload, now)
		if err != nil {
			var ve *domain.ValidationError
			if errors.As(err, &ve) {
				field := strings.TrimPrefix(ve.Field, "data.")
				jsonhttp.Error(w, http.StatusBadRequest, field+": "+ve.Problem, map[string]any{"field": field})
				return
			}
			s.internal(w, r, err)
			return
		}
		seq, lost, ok := s.appendCommand(w, r, ev, eventstore.InteractionSubjectFilter(id), target.LastSeq, s.cfg.HistoryDB)
		if !ok {
			return
		}
		if lost {
			// Someone else acted first: answer with the state as it is now, once known.
			cur, rerr := s.cfg.History.ActionTarget(rd, id)
			if rerr != nil {
				cur = target
			}
			conflict(w, "interaction "+id+" was changed meanwhile; reload it and try again", id, cur.State)
			return
		}
		after, err := s.cfg.History.ActionTarget(rd, id)
		if err != nil {
			// The agent could see it a moment ago; a concurrent erasure may have removed it.
			s.internal(w, r, err)
			return
		}
		w.Header().Set("Ledger-Position", strconv.FormatUint(seq, 10))
		out := map[string]any{"interaction_id": id, "event_id": ev.ID, "crm_record": after.State.CRMRecord,
			"case": after.State.Case, "invoices": after.State.Invoices}
		code := http.StatusOK
		switch cmd {
		case domain.ActionAssignCRMRecord:
			out["crm_record_id"] = a.RecordID
		case domain.ActionAssignCase:
			out["case_id"] = a.RecordID
		case domain.ActionCreatePayment:
			out["payment_id"] = a.Payment.ID
			code = http.StatusCreated
		}
		jsonhttp.Write(w, code, out)
	}
}

// appendCommand is appendAndWait answering the store's failure (503); lost is true when
// another event was stored under filter first (nothing appended); ok is false once an
// answer is written.
func (s *Server) appendCommand(w http.ResponseWriter, r *http.Request, ev domain.Event, filter string, last uint64, db *projections.DB) (seq uint64, lost, ok bool) {
	seq, err := appendAndWait(r.Context(), s.cfg.Ingest, ev, filter, last, db, s.cfg.CommandWait, s.cfg.Logger)
	switch {
	case errors.Is(err, eventstore.ErrConflict):
		return 0, true, true
	case err != nil:
		jsonhttp.Error(w, http.StatusServiceUnavailable, "the event stream did not acknowledge the command; retry", nil)
		return 0, false, false
	}
	return seq, false, true
}

// appendAndWait appends a command's event on the condition that the last sequence stored
// under filter is still last (JetStream's expected last subject sequence: an error
// matching eventstore.ErrConflict when another was stored first, and nothing appended),
// then waits, at most wait, until the view file db applied it, so that the answer and the
// next read show the change. Any other error: the stream did not acknowledge the event
// (ErrStoreUnavailable).
func appendAndWait(ctx context.Context, in *ingest.Service, ev domain.Event, filter string, last uint64, db *projections.DB, wait time.Duration, log *slog.Logger) (uint64, error) {
	seq, err := in.AppendExpecting(ctx, ev, filter, last)
	if errors.Is(err, eventstore.ErrConflict) {
		return 0, err
	}
	if err != nil {
		log.Error("command append failed", "type", ev.Type.String(), "err", err)
		return 0, fmt.Errorf("%w: %v", ErrStoreUnavailable, err)
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := db.WaitCheckpoint(wctx, seq); err != nil {
		log.Warn("command answered before its view caught up", "type", ev.Type.String(), "seq", seq, "err", err)
	}
	return seq, nil
}

// conflict answers 409 with the interaction's current state.
func conflict(w http.ResponseWriter, msg, id string, st domain.ActionState) {
	jsonhttp.Error(w, http.StatusConflict, msg, map[string]any{"interaction_id": id, "crm_record": st.CRMRecord,
		"case": st.Case, "invoices": st.Invoices})
}

// readAction reads and validates the command's body (none for an unassign); ok is false
// once an error is answered (400 naming the field, 413 for an oversized body). A CRM
// record, case or payment without an id gets a UUIDv7: the ledger records links, it does
// not own the CRM, so the caller may name what it created there or let the ledger mint.
func readAction(w http.ResponseWriter, r *http.Request, cmd domain.ActionCommand) (domain.Action, bool) {
	a := domain.Action{Command: cmd}
	mint := func(id string) string {
		if id == "" {
			return uuid.Must(uuid.NewV7()).String()
		}
		return id
	}
	switch cmd {
	case domain.ActionAssignCRMRecord:
		var b crmRecordBody
		if !decodeBody(w, r, &b) {
			return a, false
		}
		a.RecordID = mint(b.CRMRecordID)
	case domain.ActionAssignCase:
		var b caseBody
		if !decodeBody(w, r, &b) {
			return a, false
		}
		a.RecordID = mint(b.CaseID)
	case domain.ActionCreatePayment:
		var b paymentBody
		if !decodeBody(w, r, &b) {
			return a, false
		}
		p, err := domain.NewPayment(mint(b.PaymentID), b.Amount, b.Currency, b.Status, b.Reference)
		if err == nil {
			err = checkCurrency(p)
		}
		var ve *domain.ValidationError
		if errors.As(err, &ve) {
			jsonhttp.Error(w, http.StatusBadRequest, err.Error(), map[string]any{"field": ve.Field})
			return a, false
		}
		a.Payment = p
	}
	return a, true
}

// checkCurrency checks the payment's currency against ISO 4217's list (the domain checks
// only its shape) and its amount against the currency's minor unit: 12.505 EUR or 100.5
// JPY is refused rather than rounded.
func checkCurrency(p domain.Payment) error {
	u, err := currency.ParseISO(p.Currency)
	if err != nil {
		return &domain.ValidationError{Field: "currency", Problem: fmt.Sprintf("%q is not an ISO 4217 currency", p.Currency)}
	}
	scale, _ := currency.Standard.Rounding(u)
	if _, frac, ok := strings.Cut(p.Amount, "."); ok && len(strings.TrimRight(frac, "0")) > scale {
		return &domain.ValidationError{Field: "amount", Problem: fmt.Sprintf("%q has more decimal places than %s's %d", p.Amount, p.Currency, scale)}
	}
	return nil
}

// decodeBody reads a JSON object into dst, refusing unknown fields and wrong types with a
// 400 naming the field. An empty body is an empty object.
func decodeBody(w http.ResponseWriter, r *http.Request, dst any) bool {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCommandBody))
	if err != nil {
		if isTooLarge(err) {
			jsonhttp.Error(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than %d bytes", maxCommandBody), map[string]any{"field": "body"})
			return false
		}
		jsonhttp.Error(w, http.StatusBadRequest, "body: "+err.Error(), map[string]any{"field": "body"})
		return false
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err = dec.Decode(dst)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err == nil {
		return true
	}
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te) && te.Field != "":
		msg := fmt.Sprintf("%s: must be a %s, not a JSON %s", te.Field, te.Type, te.Value)
		if te.Field == "amount" {
			msg = `amount: must be a decimal string such as "12.50", not a JSON ` + te.Value + " (money never goes through a float)"
		}
		jsonhttp.Error(w, http.StatusBadRequest, msg, map[string]any{"field": te.Field})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		jsonhttp.Error(w, http.StatusBadRequest, field+": unknown field", map[string]any{"field": field})
	default:
		jsonhttp.Error(w, http.StatusBadRequest, "body: malformed JSON: "+err.Error(), map[string]any{"field": "body"})
	}
	return false
}
