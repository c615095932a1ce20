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

// interactionAction answers one of the commands on an interaction
// (InteractionCommands.Run): 404 for an interaction the agent may not see, as the detail;
// 409 with the current state for a refused command or a lost race; 400 naming the field
// for bad input; otherwise the new state, once the detail shows it, with the event's
// stream position.
func (s *Server) interactionAction(cmd domain.ActionCommand) func(http.ResponseWriter, *http.Request, domain.Reader) {
	return func(w http.ResponseWriter, r *http.Request, rd domain.Reader) {
		id := r.PathValue("id")
		in, ok := readAction(w, r, cmd)
		if !ok {
			return
		}
		res, err := s.actions.Run(r.Context(), rd, id, cmd, in)
		var refused *ActionRefusedError
		var bad *ActionInputError
		switch {
		case errors.Is(err, history.ErrNotFound):
			jsonhttp.Error(w, http.StatusNotFound, "interaction "+id+" not found", nil)
			return
		case errors.As(err, &refused):
			jsonhttp.Error(w, http.StatusConflict, refused.Error(), map[string]any{"interaction_id": id,
				"crm_record": refused.State.CRMRecord, "case": refused.State.Case, "invoices": refused.State.Invoices})
			return
		case errors.As(err, &bad):
			jsonhttp.Error(w, http.StatusBadRequest, bad.Error(), map[string]any{"field": bad.Field})
			return
		case errors.Is(err, ErrStoreUnavailable):
			jsonhttp.Error(w, http.StatusServiceUnavailable, "the event stream did not acknowledge the command; retry", nil)
			return
		case err != nil:
			s.internal(w, r, err)
			return
		}
		w.Header().Set("Ledger-Position", strconv.FormatUint(res.Seq, 10))
		out := map[string]any{"interaction_id": id, "event_id": res.EventID, "crm_record": res.State.CRMRecord,
			"case": res.State.Case, "invoices": res.State.Invoices}
		code := http.StatusOK
		switch cmd {
		case domain.ActionAssignCRMRecord:
			out["crm_record_id"] = res.RecordID
		case domain.ActionAssignCase:
			out["case_id"] = res.RecordID
		case domain.ActionCreatePayment:
			out["payment_id"] = res.RecordID
			code = http.StatusCreated
		}
		jsonhttp.Write(w, code, out)
	}
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

// readAction reads the command's body (none for an unassign) into the runner's input;
// ok is false once an error is answered (400 naming the field, 413 for an oversized
// body). The runner validates the values.
func readAction(w http.ResponseWriter, r *http.Request, cmd domain.ActionCommand) (ActionInput, bool) {
	var in ActionInput
	switch cmd {
	case domain.ActionAssignCRMRecord:
		var b crmRecordBody
		ok := decodeBody(w, r, &b)
		in.RecordID = b.CRMRecordID
		return in, ok
	case domain.ActionAssignCase:
		var b caseBody
		ok := decodeBody(w, r, &b)
		in.RecordID = b.CaseID
		return in, ok
	case domain.ActionCreatePayment:
		var b paymentBody
		ok := decodeBody(w, r, &b)
		in.Payment = PaymentInput(b)
		return in, ok
	}
	return in, true
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
