// Package mailgun receives Mailgun's webhooks (JSON: {"signature": {...}, "event-data":
// {...}}) at /v1/webhooks/mailgun and turns the delivery and open events into
// interaction events.
//
// Requests are verified with the signature inside the body: signature.signature is the
// hex HMAC-SHA256, keyed by the HTTP webhook signing key, of signature.timestamp followed
// by signature.token. A timestamp over 24 h old (webhooks.MaxSignatureAge) is stale.
// The body is not signed: a token seen within those 24 h is refused with another body
// (replay.go).
//
// # Mapping
//
// accepted → interaction.started (flow email, outgoing, direct, contact.email the
// recipient; a message accepted for an inbound route, flags.is-routed, is incoming from
// envelope.sender); delivered → interaction.ended delivered; failed with severity
// permanent → interaction.ended warning with delivery-status message (or description, or
// reason) as reason; rejected → interaction.ended warning with reject.reason; complained
// → interaction.ended warning "spam complaint"; unsubscribed → warning "unsubscribed
// (from <list>)"; opened → email.opened; clicked → email.clicked with its url. Every
// event but accepted is preceded by the started it implies (webhooks.WithInferredStarted,
// at the event's time): accounts often subscribe to delivered, failed and opened only. A
// temporary failure is not final and is ignored, as is stored.
//
// Legacy webhooks (form-encoded: event, recipient, Message-Id or message-headers,
// timestamp, token, signature and the custom variables as fields) are rewritten into the
// JSON shape first (legacy.go): same signature, same translation; bounced and dropped
// are permanent failures. interaction_id is message.headers.message-id
// (without angle brackets); the event id derives from it and event-data.id (Mailgun only
// promises that id unique within a day); occurred_at is event-data.timestamp. customer_id
// is user-variables.customer_id when the message was sent with it (v:customer_id), else
// Config.MapCustomer's answer for "mailto:<recipient>", else that key.
package mailgun

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
const Name = "mailgun"

// Config configures the Mailgun adapter.
type Config struct {
	// SigningKey is the HTTP webhook signing key (LEDGER_MAILGUN_SIGNING_KEY). Required,
	// at least webhooks.MinIssuedKeyLen.
	SigningKey string
	// Options: MapCustomer (of "mailto:a@b.c", for messages sent without the
	// customer_id user variable), Source, MaxBody (default DefaultMaxBody).
	webhooks.Options
	// ReplayTokens bounds the signature tokens remembered to refuse replays (replay.go).
	// Default DefaultReplayTokens.
	ReplayTokens int
}

// DefaultMaxBody is Config.MaxBody's default: 1 MiB.
const DefaultMaxBody = 1 << 20

func (c *Config) setDefaults() {
	c.Options.SetDefaults(Name, DefaultMaxBody)
	c.ReplayTokens = cmp.Or(c.ReplayTokens, DefaultReplayTokens)
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error { return c.Options.Validate(Name, c.checkOwn) }

func (c Config) checkOwn(p *webhooks.Problems) {
	p.Secret("SigningKey (LEDGER_MAILGUN_SIGNING_KEY)", c.SigningKey, webhooks.MinIssuedKeyLen)
	if c.ReplayTokens < 0 {
		p.Addf("ReplayTokens %d must not be negative", c.ReplayTokens)
	}
}

// Provider is the Mailgun adapter.
type Provider struct {
	webhooks.Adapter[Config]
	replay *replayGuard
}

// New validates cfg and returns the adapter.
func New(cfg Config) (*Provider, error) {
	return webhooks.Construct(Name, cfg, (*Config).setDefaults, func(a webhooks.Adapter[Config]) *Provider {
		return &Provider{Adapter: a, replay: newReplayGuard(a.Config().ReplayTokens)}
	})
}

// payload is the webhook body.
type payload struct {
	Signature *struct {
		Timestamp json.RawMessage `json:"timestamp"`
		Token     string          `json:"token"`
		Signature string          `json:"signature"`
	} `json:"signature"`
	EventData *eventData `json:"event-data"`
}

type eventData struct {
	Event     string          `json:"event"`
	ID        string          `json:"id"`
	Timestamp json.RawMessage `json:"timestamp"`
	Recipient string          `json:"recipient"`
	Severity  string          `json:"severity"`
	Reason    string          `json:"reason"`
	URL       string          `json:"url"` // the link followed, on clicked events
	Flags     struct {
		IsRouted bool `json:"is-routed"`
	} `json:"flags"`
	Envelope struct {
		Sender string `json:"sender"`
	} `json:"envelope"`
	Message struct {
		Headers struct {
			MessageID string `json:"message-id"`
		} `json:"headers"`
	} `json:"message"`
	DeliveryStatus struct {
		Message     string          `json:"message"`
		Description string          `json:"description"`
		Code        json.RawMessage `json:"code"`
	} `json:"delivery-status"`
	MailingList struct {
		Address string `json:"address"`
	} `json:"mailing-list"`
	Reject struct {
		Reason      string `json:"reason"`
		Description string `json:"description"`
	} `json:"reject"`
	// UserVariables is an object of the v: variables, or [] when there are none.
	UserVariables json.RawMessage `json:"user-variables"`
}

// Verify checks the body's signature and the age of its timestamp.
func (p *Provider) Verify(_ *http.Request, body []byte, now time.Time) error {
	body = fromLegacy(body)
	var pl payload
	if err := json.Unmarshal(body, &pl); err != nil || pl.Signature == nil {
		return fmt.Errorf("%w: body has no signature object", webhooks.ErrUnauthorized)
	}
	s := pl.Signature
	ts := string(bytes.Trim(s.Timestamp, `"`))
	if ts == "" || s.Token == "" || s.Signature == "" {
		return fmt.Errorf("%w: signature.timestamp, signature.token and signature.signature are required", webhooks.ErrUnauthorized)
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: signature.timestamp is not Unix seconds", webhooks.ErrUnauthorized)
	}
	at := time.Unix(secs, 0)
	if now.Sub(at) > webhooks.MaxSignatureAge {
		return fmt.Errorf("%w: signed timestamp %s is older than %s", webhooks.ErrUnauthorized, at.UTC().Format(time.RFC3339), webhooks.MaxSignatureAge)
	}
	if at.Sub(now) > domain.FutureTolerance {
		return fmt.Errorf("%w: signed timestamp %s is in the future", webhooks.ErrUnauthorized, at.UTC().Format(time.RFC3339))
	}
	got, err := hex.DecodeString(s.Signature)
	if err != nil {
		return fmt.Errorf("%w: signature.signature is not hex", webhooks.ErrUnauthorized)
	}
	if !hmac.Equal(got, Sign(p.Config().SigningKey, ts, s.Token)) {
		return fmt.Errorf("%w: signature.signature does not match", webhooks.ErrUnauthorized)
	}
	return p.replay.check(s.Token, signedOver(body), at, now)
}

// Sign returns HMAC-SHA256(signingKey, timestamp + token), the bytes whose hex form
// Mailgun sends as signature.signature.
func Sign(signingKey, timestamp, token string) []byte {
	mac := hmac.New(sha256.New, []byte(signingKey))
	mac.Write([]byte(timestamp))
	mac.Write([]byte(token))
	return mac.Sum(nil)
}

// Translate turns the webhook's event-data into at most one event.
func (p *Provider) Translate(_ *http.Request, body []byte, now time.Time) ([]domain.Event, error) {
	body = fromLegacy(body)
	var pl payload
	if err := json.Unmarshal(body, &pl); err != nil {
		return nil, fmt.Errorf("%w: body is not a Mailgun webhook: %v", webhooks.ErrBadPayload, err)
	}
	e := pl.EventData
	if e == nil {
		return nil, fmt.Errorf("%w: event-data is missing", webhooks.ErrBadPayload)
	}
	var typ domain.EventType
	switch {
	case e.Event == "accepted":
		typ = domain.TypeInteractionStarted
	case e.Event == "delivered", e.Event == "rejected", e.Event == "failed" && e.Severity == "permanent",
		e.Event == "complained", e.Event == "unsubscribed":
		typ = domain.TypeInteractionEnded
	case e.Event == "opened":
		typ = domain.TypeEmailOpened
	case e.Event == "clicked":
		typ = domain.TypeEmailClicked
	default:
		return nil, nil // temporary failures, stored
	}
	msgID := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(e.Message.Headers.MessageID), "<"), ">")
	if msgID == "" {
		return nil, fmt.Errorf("%w: event-data.message.headers.message-id is missing", webhooks.ErrBadPayload)
	}
	if e.ID == "" {
		return nil, fmt.Errorf("%w: event-data.id is missing", webhooks.ErrBadPayload)
	}
	at, err := unixTime(e.Timestamp)
	if err != nil {
		return nil, fmt.Errorf("%w: event-data.timestamp: %v", webhooks.ErrBadPayload, err)
	}
	dir, party, field := domain.DirectionOutgoing, e.Recipient, "recipient"
	if e.Event == "accepted" && e.Flags.IsRouted {
		dir, party, field = domain.DirectionIncoming, e.Envelope.Sender, "envelope.sender"
	}
	email, ok := contact.Email(party)
	if !ok {
		return nil, fmt.Errorf("%w: event-data.%s %q is not an email address", webhooks.ErrBadPayload, field, domain.Clip(party))
	}
	started := domain.StartedData{InteractionID: msgID, Flow: domain.FlowEmail, Direction: dir,
		Routing: domain.RoutingDirect, Contact: domain.Contact{Email: email}}
	var data domain.Payload
	switch e.Event {
	case "accepted":
		data = &started
	case "delivered":
		data = &domain.EndedData{InteractionID: msgID, Status: domain.StatusDelivered}
	case "failed":
		reason := firstNonEmpty(e.DeliveryStatus.Message, e.DeliveryStatus.Description, e.Reason, "failed")
		if code := string(bytes.Trim(e.DeliveryStatus.Code, `"`)); code != "" && code != "null" && code != "0" {
			reason = code + " " + reason
		}
		data = &domain.EndedData{InteractionID: msgID, Status: domain.StatusWarning, Reason: domain.FitText(reason, domain.MaxTextBytes)}
	case "rejected":
		reason := "rejected: " + firstNonEmpty(e.Reject.Reason, e.Reject.Description, e.Reason, "no reason given")
		data = &domain.EndedData{InteractionID: msgID, Status: domain.StatusWarning, Reason: domain.FitText(reason, domain.MaxTextBytes)}
	case "complained":
		// The recipient marked it as spam: a warning on the e-mail, whose later time
		// makes it the status over delivered.
		data = &domain.EndedData{InteractionID: msgID, Status: domain.StatusWarning, Reason: "spam complaint"}
	case "unsubscribed":
		reason := "unsubscribed"
		if e.MailingList.Address != "" {
			reason += " from " + e.MailingList.Address
		}
		data = &domain.EndedData{InteractionID: msgID, Status: domain.StatusWarning, Reason: domain.FitText(reason, domain.MaxTextBytes)}
	case "opened":
		data = &domain.OpenedData{InteractionID: msgID}
	case "clicked":
		data = webhooks.Clicked(msgID, e.URL)
	}
	ev, err := domain.NewEvent(webhooks.EventID(Name, msgID, e.ID), typ, at, p.customer(e.UserVariables, email), p.Config().Source, data, now)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", webhooks.ErrBadPayload, err)
	}
	if e.Event == "accepted" {
		return []domain.Event{ev}, nil
	}
	evs, err := webhooks.WithInferredStarted(Name, ev, started, at, now)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", webhooks.ErrBadPayload, err)
	}
	return evs, nil
}

func (p *Provider) customer(userVars json.RawMessage, email string) string {
	var vars map[string]any
	if json.Unmarshal(userVars, &vars) == nil { // [] (no variables) leaves vars nil
		switch v := vars["customer_id"].(type) {
		case string:
			if v != "" {
				return v
			}
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return p.Config().Customer(contact.EmailKey(email))
}

// unixTime reads Unix seconds with a fraction, as a number or a string.
func unixTime(raw json.RawMessage) (time.Time, error) {
	s := string(bytes.Trim(raw, `"`))
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, fmt.Errorf("%q is not Unix seconds", domain.Clip(s))
	}
	sec, frac := math.Modf(f)
	// Keep microseconds: what Mailgun sends; finer digits are float noise.
	return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC(), nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}
