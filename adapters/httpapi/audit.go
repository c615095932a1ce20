package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/url"

	"github.com/google/uuid"

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
	rid := r.Header.Get("X-Request-Id")
	if rid == "" || len(rid) > 128 {
		rid = uuid.NewString()
	}
	w.Header().Set("X-Request-Id", rid)
	addr := r.RemoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	base := audit.Record{At: s.cfg.Now().UTC(), AgentID: rd.AgentID, Role: rd.Role.String(), Profile: rd.ProfileID,
		Action: action, Query: auditQuery(r.URL), CustomerID: customer, Rows: rows, RequestID: rid, ClientAddr: addr}
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

// searchParams are the list's parameters whose values are contact data (a phone number,
// an email address).
var searchParams = []string{"q", "contact"}

// auditQuery is the request's path and query as the audit keeps it: the contact data
// searched for replaced by "sha256:" and the first 16 hex digits of its hash. The audit
// outlives erasures (README, "Read audit"), so it holds ids, never a contact; an auditor
// asking who searched a number hashes it the same way.
func auditQuery(u *url.URL) string {
	if u.RawQuery == "" {
		return u.Path
	}
	q := u.Query()
	for _, k := range searchParams {
		for i, v := range q[k] {
			h := sha256.Sum256([]byte(v))
			q[k][i] = "sha256:" + hex.EncodeToString(h[:8])
		}
	}
	return u.Path + "?" + q.Encode()
}

// accessLog answers GET /v1/customers/{id}/access-log and GET /v1/agents/{id}/access-log
// (scope audit): the reads recorded for the subject, oldest first, paged by after (the
// previous page's next).
func (s *Server) accessLog(byCustomer bool) func(http.ResponseWriter, *http.Request, auth.Principal) {
	return func(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
		limit, ok := parseLimit(w, r.URL.Query().Get("limit"))
		if !ok {
			return
		}
		after, err := audit.ParseCursor(r.URL.Query().Get("after"))
		if err != nil {
			jsonhttp.Error(w, http.StatusBadRequest, "after: "+err.Error(), map[string]any{"param": "after"})
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
