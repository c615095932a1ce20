package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/interaction-ledger/ledger/adapters/audit"
	"github.com/interaction-ledger/ledger/adapters/jsonhttp"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections/history"
)

func (s *Server) listInteractions(w http.ResponseWriter, r *http.Request, rd domain.Reader) {
	vals := r.URL.Query()
	explain, err := explainParam(vals)
	if err != nil {
		s.queryError(w, r, err)
		return
	}
	q, err := history.ParseQuery(vals, s.cfg.Now())
	if err != nil {
		s.queryError(w, r, err)
		return
	}
	if WantsCSV(r) {
		if err := WriteCSV(w, s.cfg.History, rd, q, "interactions.csv"); err != nil {
			if w.Header().Get("Content-Type") == "" {
				s.queryError(w, r, err)
				return
			}
			s.cfg.Logger.Warn("export ended early", "agent", rd.AgentID, "err", err)
		}
		return
	}
	page, err := s.cfg.History.List(rd, q)
	if err != nil {
		s.queryError(w, r, err)
		return
	}
	if explain {
		if err := s.explain(rd, page.Items); err != nil {
			s.internal(w, r, err)
			return
		}
	}
	hits := make([]audit.Hit, len(page.Items))
	for i, it := range page.Items {
		hits[i] = audit.Hit{CustomerID: it.CustomerID, InteractionID: it.InteractionID}
	}
	if !s.record(w, r, rd, "list", "", len(hits), hits) {
		return
	}
	jsonhttp.Write(w, http.StatusOK, page)
}

// explainParam takes explain (1, true, 0, false) out of the list's parameters: a
// presentation option, not a filter of the query.
func explainParam(vals url.Values) (bool, error) {
	e, ok := vals["explain"]
	if !ok {
		return false, nil
	}
	delete(vals, "explain")
	if len(e) != 1 {
		return false, &history.QueryError{Param: "explain", Problem: "give it once"}
	}
	b, err := strconv.ParseBool(e[0])
	if err != nil {
		return false, &history.QueryError{Param: "explain", Problem: strconv.Quote(e[0]) + " is not 1, true, 0 or false"}
	}
	return b, nil
}

// explain fills in each item's visible_because from the same rule that listed it.
func (s *Server) explain(rd domain.Reader, items []history.Item) error {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.InteractionID
	}
	reasons, err := s.cfg.History.Reasons(rd, ids)
	if err != nil {
		return err
	}
	for i := range items {
		items[i].VisibleBecause = reasons[i]
	}
	return nil
}

func (s *Server) getInteraction(w http.ResponseWriter, r *http.Request, rd domain.Reader) {
	vals := r.URL.Query()
	var asOf time.Time
	if a, ok := vals["as_of"]; ok {
		t, err := time.Parse(time.RFC3339Nano, a[0])
		if err != nil || len(a) != 1 {
			jsonhttp.Error(w, http.StatusBadRequest, "as_of: "+strconv.Quote(a[0])+" is not one RFC 3339 time", map[string]any{"param": "as_of"})
			return
		}
		asOf = t
		delete(vals, "as_of")
	}
	ep, err := history.ParseEventsPage(vals)
	if err != nil {
		s.queryError(w, r, err)
		return
	}
	var d history.Detail
	if asOf.IsZero() {
		d, err = s.cfg.History.GetPage(rd, r.PathValue("id"), ep)
	} else {
		d, err = s.cfg.History.GetAsOf(rd, r.PathValue("id"), asOf)
	}
	if errors.Is(err, history.ErrNotFound) {
		jsonhttp.Error(w, http.StatusNotFound, "interaction "+r.PathValue("id")+" not found", nil)
		return
	}
	if err != nil {
		s.queryError(w, r, err)
		return
	}
	buttons, err := s.buttons.For(rd, &d)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if !s.record(w, r, rd, "detail", "", 1, []audit.Hit{{CustomerID: d.CustomerID, InteractionID: d.InteractionID}}) {
		return
	}
	jsonhttp.Write(w, http.StatusOK, interactionDetail{Detail: d, Buttons: buttons})
}

// interactionDetail is the detail as GET /v1/interactions/{id} answers it: the history's,
// plus the reader's My buttons with their URLs filled in from it.
type interactionDetail struct {
	history.Detail
	Buttons []Button `json:"buttons"`
}

// queryError answers 400 naming the parameter for a *history.QueryError, 500 otherwise.
func (s *Server) queryError(w http.ResponseWriter, r *http.Request, err error) {
	var qe *history.QueryError
	if errors.As(err, &qe) {
		jsonhttp.Error(w, http.StatusBadRequest, qe.Error(), map[string]any{"param": qe.Param})
		return
	}
	s.internal(w, r, err)
}
