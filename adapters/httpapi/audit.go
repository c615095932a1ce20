package httpapi

import (
	"errors"
	"net/http"

	"github.com/interaction-ledger/ledger/adapters/audit"
	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/jsonhttp"
	"github.com/interaction-ledger/ledger/domain"
)

// record puts one read of personal data in the read audit before it is answered: who,
// when, what, from where. ok is false once the answer is written: the audit could not
// take the record (503), and personal data is never served unrecorded. Without
// Config.Audit nothing is recorded.
func (s *Server) record(w http.ResponseWriter, r *http.Request, rd domain.Reader, action, customer string, rows int, hits []audit.Hit) bool {
	if s.cfg.Audit == nil {
		return true
	}
	base := audit.FromRequest(w, r, rd, s.cfg.Now(), action, customer, rows)
	err := s.cfg.Audit.RecordRead(r.Context(), base, hits)
	if errors.Is(err, audit.ErrUnavailable) {
		w.Header().Set("Retry-After", "1")
		jsonhttp.Error(w, http.StatusServiceUnavailable, "the read audit cannot record this read now; retry", nil)
		return false
	}
	if err != nil {
		s.internal(w, r, err)
		return false
	}
	return true
}

// accessLog answers GET /v1/customers/{id}/access-log and GET /v1/agents/{id}/access-log
// (scope audit): the reads recorded for the subject, oldest first, paged by cursor (the
// previous page's next_cursor), like every list of the API.
func (s *Server) accessLog(byCustomer bool) func(http.ResponseWriter, *http.Request, auth.Principal) {
	return func(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
		limit, ok := parseLimit(w, r.URL.Query().Get("limit"))
		if !ok {
			return
		}
		after, err := audit.ParseCursor(r.URL.Query().Get("cursor"))
		if err != nil {
			jsonhttp.Error(w, http.StatusBadRequest, "cursor: "+err.Error(), map[string]any{"param": "cursor"})
			return
		}
		get := s.cfg.AccessLog.Agent
		if byCustomer {
			get = s.cfg.AccessLog.Customer
		}
		page, err := get(r.Context(), r.PathValue("id"), after, limit)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		jsonhttp.Write(w, http.StatusOK, page)
	}
}
