package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestScoped: the middleware lets through only a valid token holding the scope, hands
// next its principal, and answers 401 with a Bearer challenge or 403 otherwise.
func TestScoped(t *testing.T) {
	v, err := NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	tok := func(scopes ...string) string {
		t.Helper()
		s, err := Mint(secret, "ann", scopes, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + s
	}
	tests := []struct {
		name, header  string
		want          int
		wantChallenge bool
		wantBody      string
	}{
		{"no token", "", http.StatusUnauthorized, true, "no bearer token"},
		{"bad token", "Bearer a.b.c", http.StatusUnauthorized, true, "unauthenticated"},
		{"without the scope", tok(ScopeHistoryRead), http.StatusForbidden, false, "token lacks scope ops"},
		{"with the scope", tok(ScopeHistoryRead, ScopeOps), http.StatusOK, false, "ann"},
	}
	h := v.Scoped(ScopeOps, func(w http.ResponseWriter, _ *http.Request, p Principal) { _, _ = w.Write([]byte(p.Subject)) })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			w := httptest.NewRecorder()
			h(w, r)
			if w.Code != tt.want || !strings.Contains(w.Body.String(), tt.wantBody) {
				t.Fatalf("got %d %q, want %d with %q", w.Code, w.Body, tt.want, tt.wantBody)
			}
			if got := w.Header().Get("WWW-Authenticate") != ""; got != tt.wantChallenge {
				t.Fatalf("WWW-Authenticate %q, want one: %v", w.Header().Get("WWW-Authenticate"), tt.wantChallenge)
			}
		})
	}
}
