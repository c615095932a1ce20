// Package auth checks the bearer tokens of CONTRACT.md §3: HS256 JWTs signed with
// LEDGER_AUTH_SECRET, whose `sub` is the agent id and whose `scope` is a space-separated
// list (history:read, ingest, tasks:write, ops). It also mints them (`ledger token`).
package auth

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The scopes of the contract.
const (
	ScopeHistoryRead = "history:read"
	ScopeIngest      = "ingest"
	ScopeTasksWrite  = "tasks:write"
	ScopeOps         = "ops"
)

// MinSecretBytes is the shortest secret accepted: HS256 needs at least 256 bits of key.
const MinSecretBytes = 32

// ErrUnauthenticated is returned for a missing, malformed, expired or wrongly signed token.
var ErrUnauthenticated = errors.New("unauthenticated")

// Principal is who a valid token speaks for.
type Principal struct {
	Subject string
	Scopes  []string
}

// Has reports whether the principal holds scope.
func (p Principal) Has(scope string) bool { return slices.Contains(p.Scopes, scope) }

type claims struct {
	Scope string `json:"scope"`
	jwt.RegisteredClaims
}

// Verifier checks tokens against one secret.
type Verifier struct {
	secret []byte
	parser *jwt.Parser
}

// NewVerifier returns a verifier for secret (at least MinSecretBytes).
func NewVerifier(secret string) (*Verifier, error) {
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("auth secret is %d bytes, at least %d are required", len(secret), MinSecretBytes)
	}
	return &Verifier{secret: []byte(secret), parser: jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithLeeway(30*time.Second),
	)}, nil
}

// Verify reads the request's Authorization header.
func (v *Verifier) Verify(r *http.Request) (Principal, error) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return Principal{}, fmt.Errorf("%w: no bearer token", ErrUnauthenticated)
	}
	return v.VerifyToken(strings.TrimSpace(tok))
}

// VerifyToken checks one token.
func (v *Verifier) VerifyToken(tok string) (Principal, error) {
	var c claims
	_, err := v.parser.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return v.secret, nil })
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	if c.Subject == "" {
		return Principal{}, fmt.Errorf("%w: token has no sub", ErrUnauthenticated)
	}
	return Principal{Subject: c.Subject, Scopes: strings.Fields(c.Scope)}, nil
}

// Mint signs a token for subject with scopes, valid for ttl from now.
func Mint(secret, subject string, scopes []string, now time.Time, ttl time.Duration) (string, error) {
	if len(secret) < MinSecretBytes {
		return "", fmt.Errorf("auth secret is %d bytes, at least %d are required", len(secret), MinSecretBytes)
	}
	c := claims{Scope: strings.Join(scopes, " "), RegisteredClaims: jwt.RegisteredClaims{
		Subject: subject, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
}
