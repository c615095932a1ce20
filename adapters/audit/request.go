package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/interaction-ledger/ledger/domain"
)

// FromRequest is the record of a read of personal data made by r for rd at now: who, when,
// what (action, the query, customer, rows) and from where (the X-Request-Id header, or a
// new id, and the client's address). It sets X-Request-Id on w so that the reader and the
// auditor name the read alike. Both fronts (the API, the pages) build their records here.
func FromRequest(w http.ResponseWriter, r *http.Request, rd domain.Reader, now time.Time, action, customer string, rows int) Record {
	rid := r.Header.Get("X-Request-Id")
	if rid == "" || len(rid) > 128 {
		rid = uuid.NewString()
	}
	w.Header().Set("X-Request-Id", rid)
	addr := r.RemoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	return Record{At: now.UTC(), AgentID: rd.AgentID, Role: rd.Role.String(), Profile: rd.ProfileID,
		Action: action, Query: query(r.URL), CustomerID: customer, Rows: rows, RequestID: rid, ClientAddr: addr}
}

// searchParams are the parameters whose values are contact data (a phone number, an
// email address) in the list's query.
var searchParams = []string{"q", "contact"}

// query is the request's path and query as the audit keeps it: the contact data searched
// for replaced by "sha256:" and the first 16 hex digits of its hash. The audit outlives
// erasures (README, "Read audit"), so it holds ids, never a contact; an auditor asking who
// searched a number hashes it the same way.
func query(u *url.URL) string {
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
