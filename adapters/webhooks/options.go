package webhooks

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Options are the settings every provider's Config has; each Config embeds them, sets
// its own defaults with SetDefaults and checks them with Check, so that a provider states
// only what is its own (its secret, its number region, its dialplan contexts).
type Options struct {
	// MapCustomer maps a contact key ("tel:+14155550100", "mailto:a@b.c",
	// "messenger:<PSID>", "telegram:<chat id>") to the operator's customer id; ok false
	// or an empty id keeps the key as the customer id. Default: nil, the key is the
	// customer id.
	MapCustomer func(contactKey string) (customerID string, ok bool)
	// Source is the envelopes' source. Default: the provider's name.
	Source string
	// MaxBody is the largest body accepted, in bytes (413 beyond). Default: the
	// provider's DefaultMaxBody.
	MaxBody int64
}

// SetDefaults fills what is unset: Source with the provider's name, MaxBody with its
// default limit.
func (o *Options) SetDefaults(name string, maxBody int64) {
	o.Source = cmp.Or(o.Source, name)
	o.MaxBody = cmp.Or(o.MaxBody, maxBody)
}

// Check adds the options' problems to p.
func (o Options) Check(p *Problems) {
	if o.MaxBody < 0 {
		p.Addf("MaxBody %d must not be negative", o.MaxBody)
	}
}

// Customer returns the customer id of a contact key: MapCustomer's answer, else the key.
func (o Options) Customer(contactKey string) string {
	if o.MapCustomer != nil {
		if id, ok := o.MapCustomer(contactKey); ok && id != "" {
			return id
		}
	}
	return contactKey
}

// Problems collects a provider Config's problems, each prefixed with the provider's
// name, so that Validate reports every problem at once (errors.Join).
type Problems struct {
	name string
	errs []error
}

// NewProblems starts the problems of provider name's Config.
func NewProblems(name string) *Problems { return &Problems{name: name} }

// Addf adds one problem.
func (p *Problems) Addf(format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf(p.name+": "+format, args...))
}

// Add adds a problem as it is (one that names the provider already).
func (p *Problems) Add(err error) { p.errs = append(p.errs, err) }

// Secret adds CheckSecret's problem with a secret, if any.
func (p *Problems) Secret(field, secret string, min int) {
	if err := CheckSecret(field, secret, min); err != nil {
		p.Addf("%w", err)
	}
}

// Err returns every problem joined, or nil.
func (p *Problems) Err() error { return errors.Join(p.errs...) }

// Base is what every Provider answers alike: its name and its body limit. Adapter embeds
// it.
type Base struct {
	name    string
	maxBody int64
}

// NewBase returns the Base of provider name configured with o (defaults applied).
func NewBase(name string, o Options) Base { return Base{name: name, maxBody: o.MaxBody} }

// Name is the {provider} path segment.
func (b Base) Name() string { return b.name }

// MaxBody is the largest body accepted, in bytes.
func (b Base) MaxBody() int64 { return b.maxBody }

// Validate reports every problem of a provider's Config at once (errors.Join), each
// prefixed with name: those its checks find in the provider's own fields, then the
// Options'. Each provider's Validate is one call of it.
func (o Options) Validate(name string, checks ...func(*Problems)) error {
	p := NewProblems(name)
	for _, check := range checks {
		check(p)
	}
	o.Check(p)
	return p.Err()
}

// Common returns the options themselves: through it Construct reaches the Options that a
// provider's Config embeds (an exported method, so that a Config satisfies Configured).
func (o Options) Common() Options { return o }

// Configured is what Construct needs of a provider's Config: it embeds Options and has a
// Validate.
type Configured interface {
	Validate() error
	Common() Options
}

// Adapter is the part of every provider's adapter that its Config alone decides: its name
// and body limit (Base) and the Config, defaults applied and valid. Each provider's
// Provider embeds it beside its verification, so that a provider declares only what is
// its own.
type Adapter[C Configured] struct {
	Base
	cfg C
}

// Config returns the configuration the adapter was built with, defaults applied.
func (a Adapter[C]) Config() C { return a.cfg }

// Construct is how every provider's New builds it: it applies cfg's defaults
// (setDefaults), reports every problem of the result (its Validate) and only then builds
// the adapter of provider name (build), so that no adapter runs on a configuration its
// own Validate refuses.
func Construct[C Configured, P any](name string, cfg C, setDefaults func(*C), build func(Adapter[C]) P) (P, error) {
	setDefaults(&cfg)
	if err := cfg.Validate(); err != nil {
		var none P
		return none, err
	}
	return build(Adapter[C]{Base: NewBase(name, cfg.Common()), cfg: cfg}), nil
}

// ConstructAdapter is Construct for a provider whose adapter is its Adapter alone (its
// Provider is a struct{ webhooks.Adapter[Config] }, with methods of its own).
func ConstructAdapter[C Configured, P ~struct{ Adapter[C] }](name string, cfg C, setDefaults func(*C)) (*P, error) {
	return Construct(name, cfg, setDefaults, func(a Adapter[C]) *P {
		p := P(struct{ Adapter[C] }{a})
		return &p
	})
}

// TokenAuth verifies the CDR posts (Asterisk, FreeSWITCH): the token is the whole scheme
// (CheckToken), so the handler decides from the headers, before it reads the body.
type TokenAuth struct{ token string }

var _ HeaderVerifier = TokenAuth{}

// NewTokenAuth returns the verification by token.
func NewTokenAuth(token string) TokenAuth { return TokenAuth{token: token} }

// Check adds the token's problems to p: it is the CDR token (LEDGER_CDR_TOKEN), at least
// MinTokenLen bytes.
func (a TokenAuth) Check(p *Problems) {
	p.Secret("Token (LEDGER_CDR_TOKEN)", a.token, MinTokenLen)
}

// VerifyHeaders accepts the token as a bearer token or as the Basic auth password.
func (a TokenAuth) VerifyHeaders(r *http.Request, _ time.Time) error { return CheckToken(r, a.token) }

// Verify checks the token as VerifyHeaders does; the body is not signed.
func (a TokenAuth) Verify(r *http.Request, _ []byte, now time.Time) error {
	return a.VerifyHeaders(r, now)
}
