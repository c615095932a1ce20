// Package auth checks the bearer tokens of CONTRACT.md §3: HS256 JWTs signed with
// LEDGER_AUTH_SECRET, whose `sub` is the agent id, whose `exp` is required and bounded by
// a maximum lifetime, and whose `scope` is a space-separated list (history:read, ingest,
// directory:write, erase, tasks:write, interactions:write, ops, audit). It also mints
// them (`ledger token`).
package auth

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
)

// The scopes of the contract.
const (
	ScopeHistoryRead       = "history:read"
	ScopeIngest            = "ingest"
	ScopeDirectoryWrite    = "directory:write"
	ScopeErase             = "erase"
	ScopeTasksWrite        = "tasks:write"
	ScopeInteractionsWrite = "interactions:write"
	ScopeOps               = "ops"
	ScopeAudit             = "audit"
)

// MinSecretBytes is the shortest secret accepted: HS256 needs at least 256 bits of key.
const MinSecretBytes = 32

// DefaultMaxTTL is the longest lifetime a token may have unless Config.MaxTTL says
// otherwise: a stolen token stays useful for at most a working day.
const DefaultMaxTTL = 24 * time.Hour

// leeway absorbs clock skew between the minting host and this one.
const leeway = 30 * time.Second

// ErrUnauthenticated is returned for a missing, malformed, expired, too long-lived or
// wrongly signed token, and for one whose issuer or audience is not the configured one.
var ErrUnauthenticated = errors.New("unauthenticated")

// Principal is who a valid token speaks for.
type Principal struct {
	Subject string
	Scopes  []string
	Expires time.Time // the token's exp: a session built on it ends then
}

// Has reports whether the principal holds scope.
func (p Principal) Has(scope string) bool { return slices.Contains(p.Scopes, scope) }

type claims struct {
	Scope string `json:"scope"`
	jwt.RegisteredClaims
}

// Config says which tokens a Verifier accepts.
type Config struct {
	// Secret is the HS256 key, at least MinSecretBytes (LEDGER_AUTH_SECRET). Required.
	Secret string
	// MaxTTL bounds a token's lifetime: exp - iat, and exp - now (a token without iat
	// cannot claim a short life it does not have). Default DefaultMaxTTL.
	MaxTTL time.Duration
	// Issuer, when set, is the only `iss` accepted, and the one Mint writes.
	Issuer string
	// Audience, when set, must be among the token's `aud`, and is the one Mint writes.
	Audience string
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.MaxTTL == 0 {
		c.MaxTTL = DefaultMaxTTL
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if len(c.Secret) < MinSecretBytes {
		errs = append(errs, fmt.Errorf("auth secret is %d bytes, at least %d are required", len(c.Secret), MinSecretBytes))
	}
	if c.MaxTTL < 0 {
		errs = append(errs, fmt.Errorf("auth max TTL %s is negative", c.MaxTTL))
	}
	return errors.Join(errs...)
}

// Verifier checks tokens against one configuration.
type Verifier struct {
	cfg    Config
	parser *jwt.Parser
	// valid holds the tokens verified lately, by their exact text: an agent's page or
	// client sends the same token with every request, and parsing its claims (JSON) was
	// a tenth of the CPU of a page of the history list. A token's checks but its expiry
	// cannot change once passed (its signature, issuer, audience and lifetimes are in
	// its text), so a hit checks the expiry alone. Failures are not kept.
	valid *lru.Cache[string, Principal]
}

// verifiedTokens bounds Verifier.valid: more than the agents of a large contact centre
// at once, a few hundred KB.
const verifiedTokens = 4096

// New returns a verifier for cfg.
func New(cfg Config) (*Verifier, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithLeeway(leeway),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(cfg.Now),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	valid, err := lru.New[string, Principal](verifiedTokens)
	if err != nil {
		return nil, fmt.Errorf("auth: token cache: %w", err)
	}
	return &Verifier{cfg: cfg, parser: jwt.NewParser(opts...), valid: valid}, nil
}

// NewVerifier returns a verifier for secret (at least MinSecretBytes) with the default
// maximum lifetime and no issuer or audience check.
func NewVerifier(secret string) (*Verifier, error) { return New(Config{Secret: secret}) }

// Verify reads the request's Authorization header.
func (v *Verifier) Verify(r *http.Request) (Principal, error) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return Principal{}, fmt.Errorf("%w: no bearer token", ErrUnauthenticated)
	}
	return v.VerifyToken(strings.TrimSpace(tok))
}

// VerifyToken checks one token. The Principal's Scopes may be shared with other calls:
// read them, do not change them.
func (v *Verifier) VerifyToken(tok string) (Principal, error) {
	if p, ok := v.valid.Get(tok); ok {
		if v.cfg.Now().Before(p.Expires.Add(leeway)) {
			return p, nil
		}
		v.valid.Remove(tok)
		return Principal{}, fmt.Errorf("%w: token has expired", ErrUnauthenticated)
	}
	var c claims
	_, err := v.parser.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return []byte(v.cfg.Secret), nil })
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	if c.Subject == "" {
		return Principal{}, fmt.Errorf("%w: token has no sub", ErrUnauthenticated)
	}
	exp := c.ExpiresAt.Time
	if c.IssuedAt != nil && exp.Sub(c.IssuedAt.Time) > v.cfg.MaxTTL {
		return Principal{}, fmt.Errorf("%w: token lifetime exp-iat %s exceeds the maximum %s", ErrUnauthenticated, exp.Sub(c.IssuedAt.Time), v.cfg.MaxTTL)
	}
	if left := exp.Sub(v.cfg.Now()); left > v.cfg.MaxTTL+leeway {
		return Principal{}, fmt.Errorf("%w: token expires in %s, more than the maximum lifetime %s", ErrUnauthenticated, left.Round(time.Second), v.cfg.MaxTTL)
	}
	p := Principal{Subject: c.Subject, Scopes: strings.Fields(c.Scope), Expires: exp}
	v.valid.Add(tok, p)
	return p, nil
}

// Mint signs a token this verifier accepts: for subject with scopes, valid for ttl from
// now (at most the maximum lifetime), with the configured issuer and audience.
func (v *Verifier) Mint(subject string, scopes []string, now time.Time, ttl time.Duration) (string, error) {
	if ttl > v.cfg.MaxTTL {
		return "", fmt.Errorf("token ttl %s exceeds the maximum lifetime %s", ttl, v.cfg.MaxTTL)
	}
	return mint(v.cfg, subject, scopes, now, ttl)
}

// Mint signs a token for subject with scopes, valid for ttl from now, without issuer or
// audience (a Verifier configured with either refuses it: use Verifier.Mint there).
func Mint(secret, subject string, scopes []string, now time.Time, ttl time.Duration) (string, error) {
	if len(secret) < MinSecretBytes {
		return "", fmt.Errorf("auth secret is %d bytes, at least %d are required", len(secret), MinSecretBytes)
	}
	return mint(Config{Secret: secret}, subject, scopes, now, ttl)
}

func mint(cfg Config, subject string, scopes []string, now time.Time, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", fmt.Errorf("token ttl %s: must be positive", ttl)
	}
	rc := jwt.RegisteredClaims{
		Subject: subject, Issuer: cfg.Issuer, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	if cfg.Audience != "" {
		rc.Audience = jwt.ClaimStrings{cfg.Audience}
	}
	c := claims{Scope: strings.Join(scopes, " "), RegisteredClaims: rc}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(cfg.Secret))
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}
