// Package sendgrid receives SendGrid's Event Webhook (a JSON array of email events) at
// /v1/webhooks/sendgrid and turns the delivery and open events into interaction events.
//
// Requests are verified with the Signed Event Webhook: X-Twilio-Email-Event-Webhook-Signature
// is a base64 ASN.1 ECDSA P-256 signature over SHA-256(timestamp + raw body), the
// timestamp being X-Twilio-Email-Event-Webhook-Timestamp (Unix seconds); the public key
// is the base64 DER (PKIX) verification key SendGrid shows. A timestamp over 24 h old
// (webhooks.MaxSignatureAge) is stale.
//
// # Mapping
//
// processed → interaction.started (flow email, outgoing, direct, contact.email); delivered
// → interaction.ended delivered; bounce (and blocked) and dropped → interaction.ended
// warning with the reason; spamreport, unsubscribe and group_unsubscribe →
// interaction.ended warning ("spam complaint", "unsubscribed", "unsubscribed from group
// N"), later than the delivery so the warning is the e-mail's status; open →
// email.opened; click → email.clicked with its url. Every event but processed is
// preceded by the started it implies (webhooks.WithInferredStarted, at the event's
// time): accounts often subscribe to delivered and open only. deferred is not final and
// is ignored, as is group_resubscribe. interaction_id is
// sg_message_id up to its first '.' (the part every event of one message shares); the
// event id derives from sg_event_id; occurred_at is the event's timestamp. customer_id is
// the custom argument "customer_id" when the message was sent with one, else
// Config.MapCustomer's answer for "mailto:<email>", else that key. An event without
// sg_message_id (SendGrid drops some invalid addresses before assigning one) is skipped.
package sendgrid

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/domain/contact"
)

// Name is the provider's {provider} path segment. WARNING: it seeds the event ids.
const Name = "sendgrid"

// Header names of the Signed Event Webhook.
const (
	SignatureHeader = "X-Twilio-Email-Event-Webhook-Signature"
	TimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// Config configures the SendGrid adapter.
type Config struct {
	// PublicKey is the Signed Event Webhook's verification key: base64 DER (PKIX), as
	// SendGrid shows it, or PEM (LEDGER_SENDGRID_PUBLIC_KEY). Required.
	PublicKey string
	// Options: MapCustomer (of "mailto:a@b.c", for events sent without a customer_id
	// custom argument), Source, MaxBody (default DefaultMaxBody).
	webhooks.Options
}

// DefaultMaxBody is Config.MaxBody's default: 4 MiB (SendGrid batches).
const DefaultMaxBody = 4 << 20

func (c *Config) setDefaults() { c.Options.SetDefaults(Name, DefaultMaxBody) }

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error { return c.Options.Validate(Name, c.checkPublicKey) }

func (c Config) checkPublicKey(p *webhooks.Problems) {
	if c.PublicKey == "" {
		p.Addf("PublicKey is required")
	} else if _, err := ParsePublicKey(c.PublicKey); err != nil {
		p.Add(err) // it names the provider already
	}
}

// ParsePublicKey reads SendGrid's verification key: base64 DER (PKIX), or PEM.
func ParsePublicKey(s string) (*ecdsa.PublicKey, error) {
	s = strings.TrimSpace(s)
	var der []byte
	if block, _ := pem.Decode([]byte(s)); block != nil {
		der = block.Bytes
	} else {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("sendgrid: PublicKey is neither PEM nor base64: %w", err)
		}
		der = b
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("sendgrid: PublicKey is not a PKIX public key: %w", err)
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, errors.New("sendgrid: PublicKey is not an ECDSA P-256 key")
	}
	return ek, nil
}

// Provider is the SendGrid adapter.
type Provider struct {
	webhooks.Adapter[Config]
	key *ecdsa.PublicKey
}

var _ webhooks.HeaderVerifier = (*Provider)(nil)

// New validates cfg and returns the adapter.
func New(cfg Config) (*Provider, error) {
	return webhooks.Construct(Name, cfg, (*Config).setDefaults, func(a webhooks.Adapter[Config]) *Provider {
		key, _ := ParsePublicKey(a.Config().PublicKey) // Validate parsed it
		return &Provider{Adapter: a, key: key}
	})
}

// VerifyHeaders refuses, before the body is read, a request whose signature or timestamp
// header is missing or malformed, or whose signed timestamp is stale or in the future;
// Verify checks the signature against the body.
func (p *Provider) VerifyHeaders(r *http.Request, now time.Time) error {
	_, _, err := signedHeaders(r, now)
	return err
}

// signedHeaders returns the signed timestamp, as sent, and the DER signature, once both
// headers are there, well formed and the timestamp fresh.
func signedHeaders(r *http.Request, now time.Time) (ts string, der []byte, err error) {
	sig, ts := r.Header.Get(SignatureHeader), r.Header.Get(TimestampHeader)
	if sig == "" || ts == "" {
		return "", nil, fmt.Errorf("%w: %s and %s are required", webhooks.ErrUnauthorized, SignatureHeader, TimestampHeader)
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %s is not Unix seconds", webhooks.ErrUnauthorized, TimestampHeader)
	}
	at := time.Unix(secs, 0)
	if now.Sub(at) > webhooks.MaxSignatureAge {
		return "", nil, fmt.Errorf("%w: signed timestamp %s is older than %s", webhooks.ErrUnauthorized, at.UTC().Format(time.RFC3339), webhooks.MaxSignatureAge)
	}
	if at.Sub(now) > domain.FutureTolerance {
		return "", nil, fmt.Errorf("%w: signed timestamp %s is in the future", webhooks.ErrUnauthorized, at.UTC().Format(time.RFC3339))
	}
	der, err = base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %s is not base64", webhooks.ErrUnauthorized, SignatureHeader)
	}
	return ts, der, nil
}

// Verify checks the Signed Event Webhook signature and the age of its timestamp.
func (p *Provider) Verify(r *http.Request, body []byte, now time.Time) error {
	ts, der, err := signedHeaders(r, now)
	if err != nil {
		return err
	}
	h := sha256.New()
	h.Write([]byte(ts))
	h.Write(body)
	if !ecdsa.VerifyASN1(p.key, h.Sum(nil), der) {
		return fmt.Errorf("%w: %s does not match", webhooks.ErrUnauthorized, SignatureHeader)
	}
	return nil
}

// event is the part of one Event Webhook event the ledger reads.
type event struct {
	Email       string          `json:"email"`
	Timestamp   json.RawMessage `json:"timestamp"`
	Event       string          `json:"event"`
	SGEventID   string          `json:"sg_event_id"`
	SGMessageID string          `json:"sg_message_id"`
	Reason      string          `json:"reason"`
	Status      string          `json:"status"`
	Type        string          `json:"type"` // bounce or blocked, on bounce events
	URL         string          `json:"url"`  // the link followed, on click events
	CustomerID  json.RawMessage `json:"customer_id"`
	CustomArgs  map[string]any  `json:"custom_args"`
	UniqueArgs  map[string]any  `json:"unique_args"`
	ASMGroupID  json.RawMessage `json:"asm_group_id"` // on group_unsubscribe
}

// Translate turns the batch into events, in order.
func (p *Provider) Translate(_ *http.Request, body []byte, now time.Time) ([]domain.Event, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, fmt.Errorf("%w: body is not a JSON array of events: %v", webhooks.ErrBadPayload, err)
	}
	var out []domain.Event
	seen := map[string]string{} // sg_event_id → the event name it came with
	for i, raw := range raws {
		var e event
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("%w: event [%d]: %v", webhooks.ErrBadPayload, i, err)
		}
		// sg_event_id is unique per event; a payload that repeats one (malformed, or
		// fuzzed) must neither make two events one nor one event two.
		if e.SGEventID != "" {
			if name, dup := seen[e.SGEventID]; dup {
				if name == e.Event {
					continue // the same event twice in one payload
				}
				e.SGEventID += ":" + e.Event
			} else {
				seen[e.SGEventID] = e.Event
			}
		}
		evs, err := p.translate(e, now)
		if err != nil {
			return nil, fmt.Errorf("%w: event [%d] (%s): %w", webhooks.ErrBadPayload, i, domain.Clip(e.Event), err)
		}
		out = append(out, evs...)
	}
	return out, nil
}

func (p *Provider) translate(e event, now time.Time) ([]domain.Event, error) {
	var typ domain.EventType
	switch e.Event {
	case "processed":
		typ = domain.TypeInteractionStarted
	case "delivered", "bounce", "dropped", "spamreport", "unsubscribe", "group_unsubscribe":
		typ = domain.TypeInteractionEnded
	case "open":
		typ = domain.TypeEmailOpened
	case "click":
		typ = domain.TypeEmailClicked
	default:
		return nil, nil // deferred, group_resubscribe, ...
	}
	msgID, _, _ := strings.Cut(e.SGMessageID, ".")
	if msgID == "" {
		return nil, nil
	}
	email, ok := contact.Email(e.Email)
	if !ok {
		return nil, fmt.Errorf("email %q is not an email address", domain.Clip(e.Email))
	}
	at := now
	if len(e.Timestamp) > 0 && string(e.Timestamp) != "null" {
		t, err := unixTime(e.Timestamp)
		if err != nil {
			return nil, err
		}
		at = t
	}
	started := domain.StartedData{InteractionID: msgID, Flow: domain.FlowEmail, Direction: domain.DirectionOutgoing,
		Routing: domain.RoutingDirect, Contact: domain.Contact{Email: email}}
	var data domain.Payload
	switch e.Event {
	case "processed":
		data = &started
	case "delivered":
		data = &domain.EndedData{InteractionID: msgID, Status: domain.StatusDelivered}
	case "bounce", "dropped":
		kind := e.Event
		if e.Type != "" {
			kind = e.Type // bounce or blocked
		}
		reason := kind
		if e.Status != "" {
			reason += " " + e.Status
		}
		if e.Reason != "" {
			reason += ": " + e.Reason
		}
		data = &domain.EndedData{InteractionID: msgID, Status: domain.StatusWarning, Reason: domain.FitText(reason, domain.MaxTextBytes)}
	case "spamreport":
		// The recipient marked it as spam: a warning on the e-mail, whose later time
		// makes it the status over delivered.
		data = &domain.EndedData{InteractionID: msgID, Status: domain.StatusWarning, Reason: "spam complaint"}
	case "unsubscribe":
		data = &domain.EndedData{InteractionID: msgID, Status: domain.StatusWarning, Reason: "unsubscribed"}
	case "group_unsubscribe":
		reason := "unsubscribed from group"
		if len(e.ASMGroupID) > 0 && string(e.ASMGroupID) != "null" {
			reason += " " + strings.Trim(string(e.ASMGroupID), `"`)
		}
		data = &domain.EndedData{InteractionID: msgID, Status: domain.StatusWarning, Reason: domain.FitText(reason, domain.MaxTextBytes)}
	case "open":
		data = &domain.OpenedData{InteractionID: msgID}
	case "click":
		data = webhooks.Clicked(msgID, e.URL)
	}
	id := webhooks.EventID(Name, e.SGEventID)
	if e.SGEventID == "" {
		id = webhooks.EventID(Name, msgID, e.Event, string(e.Timestamp), email)
	}
	ev, err := domain.NewEvent(id, typ, at, p.customer(e, email), p.Config().Source, data, now)
	if err != nil {
		return nil, err
	}
	if e.Event == "processed" {
		return []domain.Event{ev}, nil
	}
	return webhooks.WithInferredStarted(Name, ev, started, at, now)
}

// customer returns the custom argument customer_id (top level, as the Event Webhook
// flattens custom arguments, or under custom_args/unique_args), else the mapped contact.
func (p *Provider) customer(e event, email string) string {
	var s string
	if len(e.CustomerID) > 0 && json.Unmarshal(e.CustomerID, &s) == nil && s != "" {
		return s
	}
	for _, m := range []map[string]any{e.CustomArgs, e.UniqueArgs} {
		if v, ok := m["customer_id"].(string); ok && v != "" {
			return v
		}
	}
	return p.Config().Customer(contact.EmailKey(email))
}

// unixTime reads Unix seconds written as a number or a string of digits.
func unixTime(raw json.RawMessage) (time.Time, error) {
	raw = bytes.Trim(raw, `"`)
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, fmt.Errorf("timestamp %s is not Unix seconds", domain.Clip(string(raw)))
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}
