package pages

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/httpapi"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections/history"
)

// detailAction is one form of the detail's Settings menu: the command it runs and the
// tab that shows its outcome.
type detailAction struct {
	cmd  domain.ActionCommand
	tab  string
	done string // what it did, for the notice: "CRM record %s assigned."
}

// The Settings menu's forms, by the last segment of their address.
var detailActions = map[string]detailAction{
	"assign-crm":    {domain.ActionAssignCRMRecord, "card", "CRM record %s assigned."},
	"unassign-crm":  {domain.ActionUnassignCRMRecord, "card", "CRM record unassigned."},
	"assign-case":   {domain.ActionAssignCase, "case", "Case %s assigned."},
	"unassign-case": {domain.ActionUnassignCase, "case", "Case unassigned."},
	"payment":       {domain.ActionCreatePayment, "invoices", "Payment %s created."},
}

// pathAction is the action of the path's last segment among actions (named what in
// the page), or false after answering the 404 page: the detail's and the card's forms
// post to addresses of one shape.
func pathAction[A any](h *Handler, w http.ResponseWriter, r *http.Request, s *session, what string, actions map[string]A) (string, A, bool) {
	name := r.PathValue("action")
	a, ok := actions[name]
	if !ok {
		h.fail(w, r, s, http.StatusNotFound, "There is no "+what+" action "+name+".")
	}
	return name, a, ok
}

// doneAction says what an action did, after its redirect.
func doneAction(action, rec string) string {
	a, ok := detailActions[action]
	if !ok {
		return ""
	}
	if strings.Contains(a.done, "%s") {
		return fmt.Sprintf(a.done, rec)
	}
	return a.done
}

// formFields are the form's names of the runner's input fields: the pages' forms use
// the API's names, so that an error names the field the agent sees.
var formLabels = map[string]string{"crm_record_id": "CRM record", "case_id": "Case", "payment_id": "Payment id",
	"amount": "Amount", "currency": "Currency", "status": "Status", "reference": "Reference"}

// interactionAction runs a command of the detail's Settings menu through the API's
// runner: the token must hold interactions:write; an interaction the agent may not see
// is the 404 page; a refused command shows the interaction's current state with why;
// bad input names the field. Success redirects to the tab that shows the change (the
// runner answers once the detail shows it).
func (h *Handler) interactionAction(w http.ResponseWriter, r *http.Request, s *session) {
	name, a, ok := pathAction(h, w, r, s, "interaction", detailActions)
	if !ok {
		return
	}
	id := r.PathValue("id")
	r.URL.RawQuery = url.Values{"tab": {a.tab}}.Encode() // the detail re-rendered below shows that tab
	if !s.Principal.Has(auth.ScopeInteractionsWrite) {
		h.renderDetail(w, r, s, http.StatusForbidden, outcome{Refused: "You may not change interactions: your sign-in lacks the scope " +
			auth.ScopeInteractionsWrite + ". Ask your administrator for it."})
		return
	}
	if !h.parseForm(w, r, s, 64<<10) {
		return
	}
	f := func(k string) string { return strings.TrimSpace(r.PostForm.Get(k)) }
	in := httpapi.ActionInput{Payment: httpapi.PaymentInput{PaymentID: f("payment_id"), Amount: f("amount"),
		Currency: strings.ToUpper(f("currency")), Status: f("status"), Reference: f("reference")}}
	switch a.cmd {
	case domain.ActionAssignCRMRecord:
		in.RecordID = f("crm_record_id")
	case domain.ActionAssignCase:
		in.RecordID = f("case_id")
	}
	res, err := h.cfg.Actions.Run(r.Context(), s.Reader, id, a.cmd, in)
	var refused *httpapi.ActionRefusedError
	var bad *httpapi.ActionInputError
	switch {
	case errors.Is(err, history.ErrNotFound):
		h.fail(w, r, s, http.StatusNotFound, "There is no interaction "+id+" in your history.")
	case errors.As(err, &refused):
		h.renderDetail(w, r, s, http.StatusConflict, outcome{Refused: "Not done: " + refused.Error() + ". " + stateSentence(refused.State)})
	case errors.As(err, &bad):
		label := formLabels[bad.Field]
		if label == "" {
			label = bad.Field
		}
		h.renderDetail(w, r, s, http.StatusBadRequest, outcome{Error: label + ": " + problemOf(bad) + ".", Field: bad.Field, Form: r.PostForm})
	case errors.Is(err, httpapi.ErrStoreUnavailable):
		h.renderDetail(w, r, s, http.StatusServiceUnavailable, outcome{Refused: "The ledger could not record the change just now. Try again."})
	case err != nil:
		h.internal(w, r, s, err)
	default:
		dest := url.Values{"tab": {a.tab}, "done": {name}, "rec": {res.RecordID}, "at": {strconv.FormatUint(res.Seq, 10)}}
		http.Redirect(w, r, "/interactions/"+url.PathEscape(id)+"?"+dest.Encode(), http.StatusSeeOther)
	}
}

// problemOf is the input error without the field's API name in front.
func problemOf(e *httpapi.ActionInputError) string {
	msg := e.Err.Error()
	var ve *domain.ValidationError
	if errors.As(e.Err, &ve) {
		msg = ve.Problem
	}
	return strings.TrimPrefix(msg, e.Field+": ")
}

// stateSentence tells the interaction's current state in words.
func stateSentence(st domain.ActionState) string {
	crm, cs := "no CRM record", "no case"
	if st.CRMRecord != "" {
		crm = "CRM record " + st.CRMRecord
	}
	if st.Case != "" {
		cs = "case " + st.Case
	}
	return fmt.Sprintf("It has %s, %s and %d invoices now.", crm, cs, len(st.Invoices))
}
