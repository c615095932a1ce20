package httpapi

import (
	"errors"
	"net/http"

	"github.com/interaction-ledger/ledger/adapters/jsonhttp"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections/history"
)

func (s *Server) listInteractions(w http.ResponseWriter, r *http.Request, rd domain.Reader) {
	q, err := history.ParseQuery(r.URL.Query(), s.cfg.Now())
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
	jsonhttp.Write(w, http.StatusOK, page)
}

func (s *Server) getInteraction(w http.ResponseWriter, r *http.Request, rd domain.Reader) {
	ep, err := history.ParseEventsPage(r.URL.Query())
	if err != nil {
		s.queryError(w, r, err)
		return
	}
	d, err := s.cfg.History.GetPage(rd, r.PathValue("id"), ep)
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
