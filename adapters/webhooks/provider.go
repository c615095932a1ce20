// Package webhooks receives providers' own webhook payloads at POST /v1/webhooks/{provider},
// verifies them with each provider's scheme, translates them into contract events
// (CONTRACT.md §2) and appends them through the same path as POST /v1/events. One
// sub-package per provider holds its verification and translation.
package webhooks

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/interaction-ledger/ledger/domain"
)

// ErrUnauthorized is wrapped by a provider's Verify when the signature or token is
// missing, wrong or stale. The handler answers 401 and appends nothing.
var ErrUnauthorized = errors.New("webhook signature rejected")

// ErrBadPayload is wrapped by a provider's Translate when the payload cannot be read.
// The handler answers 400 naming what is wrong and appends nothing.
var ErrBadPayload = errors.New("webhook payload rejected")

// ErrUnavailable is wrapped by a provider's Verify when it cannot judge the request now
// (Mailgun's replay guard is full of fresh tokens). The handler answers 503 and appends
// nothing; the provider retries.
var ErrUnavailable = errors.New("webhook receiver unavailable")

// MaxSignatureAge is how old a signed timestamp may be (CONTRACT.md §4: over 24 h is stale).
const MaxSignatureAge = 24 * time.Hour

// Provider is one provider's adapter, as the handler uses it.
type Provider interface {
	// Name is the {provider} path segment: twilio, sendgrid, mailgun, whatsapp, messenger,
	// telegram, asterisk, freeswitch.
	Name() string
	// MaxBody is the largest body accepted, in bytes (413 beyond).
	MaxBody() int64
	// Verify checks the request against the provider's secret; body is the raw body.
	// Secrets are compared in constant time. Errors wrap ErrUnauthorized.
	Verify(r *http.Request, body []byte, now time.Time) error
	// Translate turns a verified request into contract events, each built with
	// domain.NewEvent (so each is validated) and with an id from EventID. Errors wrap
	// ErrBadPayload. A payload with nothing the ledger records yields no events.
	Translate(r *http.Request, body []byte, now time.Time) ([]domain.Event, error)
}

// HeaderVerifier is implemented by providers whose requests can be judged, wholly or in
// part, from their headers. The handler calls VerifyHeaders before it reads the body, so
// that a sender without the secret cannot make the ledger read and hold a body of up to
// MaxBody bytes: a scheme that signs no body (the CDR bearer or Basic token, Telegram's
// secret token) is decided here, and a body-signing scheme may refuse a missing or
// malformed signature header or a stale signed timestamp. Verify is still called once the
// body is read, so Verify alone must remain a complete check. Errors wrap ErrUnauthorized
// (or ErrUnavailable).
type HeaderVerifier interface {
	VerifyHeaders(r *http.Request, now time.Time) error
}

// Handshaker is implemented by providers that answer a GET verification handshake
// (WhatsApp and Messenger: hub.mode=subscribe, hub.verify_token, hub.challenge).
type Handshaker interface {
	Handshake(w http.ResponseWriter, r *http.Request)
}

// Appender appends events to the stream; it returns nil only once the stream has
// acknowledged every event (new or duplicate), so a 2xx tells the provider we kept it.
type Appender interface {
	AppendEvents(ctx context.Context, events []domain.Event) error
}

// namespace is the root of the per-provider UUIDv5 namespaces. WARNING: changing it, or a
// provider's name, changes every derived event id and breaks idempotency of retries.
var namespace = uuid.MustParse("6f1c2a4e-8f0b-4c43-9a51-3b7d2e9c0a17")

// EventID derives the ledger event id from a provider's own identity of a fact (a call
// sid plus its status and sequence number, a message id plus its status, ...): UUIDv5 in a
// namespace per provider, so the provider's retry days later is still a duplicate.
func EventID(provider string, parts ...string) string {
	ns := uuid.NewSHA1(namespace, []byte(provider))
	key := ""
	for i, p := range parts {
		if i > 0 {
			key += "\x00"
		}
		key += p
	}
	return uuid.NewSHA1(ns, []byte(key)).String()
}
