package auth

import (
	"net/http"

	"github.com/interaction-ledger/ledger/adapters/jsonhttp"
)

// Authenticated wraps next so that it runs only for a request with a valid bearer token:
// without one the answer is 401 with a Bearer challenge (RFC 6750) and a JSON error.
// The scopes are next's to check (Scoped checks one).
func (v *Verifier) Authenticated(next func(http.ResponseWriter, *http.Request, Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := v.Verify(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ledger"`)
			jsonhttp.Error(w, http.StatusUnauthorized, err.Error(), nil)
			return
		}
		next(w, r, p)
	}
}

// Scoped is Authenticated for a token that must also hold scope: 403 without it.
func (v *Verifier) Scoped(scope string, next func(http.ResponseWriter, *http.Request, Principal)) http.HandlerFunc {
	return v.Authenticated(func(w http.ResponseWriter, r *http.Request, p Principal) {
		if !p.Has(scope) {
			jsonhttp.Error(w, http.StatusForbidden, "token lacks scope "+scope, nil)
			return
		}
		next(w, r, p)
	})
}
