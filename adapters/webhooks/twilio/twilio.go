// Package twilio receives Twilio's Programmable Voice and Programmable Messaging status
// callbacks (form-encoded POSTs) at /v1/webhooks/twilio and turns them into interaction
// events. Both kinds share the one path and are told apart by CallSid and MessageSid.
//
// Requests are verified with X-Twilio-Signature: base64(HMAC-SHA1(auth token, full URL +
// every POST parameter's name and value, sorted by name)), the full URL being the public
// base URL the ledger is reached at plus the request URI (path and query).
//
// # Mapping
//
// Voice (CallSid): CallStatus queued, initiated, ringing, in-progress → interaction.started
// (flow voice; direction from Direction: inbound → incoming, outbound-api and
// outbound-dial → outgoing); completed → interaction.ended processed (aborted if
// CallDuration is 0, i.e. never connected); busy, no-answer, failed, canceled →
// interaction.ended aborted with the status (and SipResponseCode) as reason. The event id
// derives from CallSid, CallStatus and SequenceNumber; occurred_at is Timestamp (RFC 1123
// with numeric zone) when present, else the time of receipt.
//
// Messaging (MessageSid): MessageStatus (or SmsStatus) accepted, scheduled, queued,
// sending, sent → interaction.started outgoing; received, receiving → started incoming;
// delivered, read → interaction.ended delivered; undelivered, failed → ended warning with
// ErrorCode and ErrorMessage as reason; canceled → ended aborted. Flow is whatsapp when
// From or To starts with "whatsapp:", else sms. The event id derives from MessageSid and
// the status.
//
// The customer is the other party's number (From for inbound, To for outbound), in E.164;
// customer_id is "tel:+<E.164>" unless Config.MapCustomer maps it. A "client:<name>"
// party is the agent (agent_id <name>). A call or message with no customer phone number
// (two Twilio Clients, "anonymous") records nothing. Routing is smart, with queue_id,
// when the request names a queue (POST parameter QueueSid, or a "queue" query parameter
// put on the status callback URL), else direct.
package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/domain/contact"
)

// Name is the provider's {provider} path segment. WARNING: it seeds the event ids;
// changing it breaks the idempotency of Twilio's retries.
const Name = "twilio"

// Config configures the Twilio adapter.
type Config struct {
	// AuthToken is the account's primary auth token (LEDGER_TWILIO_AUTH_TOKEN): 32 hex
	// characters. Required, at least webhooks.MinIssuedKeyLen.
	AuthToken string
	// PublicURL is the base URL Twilio calls, scheme and host (and any path prefix a
	// proxy strips), without the /v1/webhooks/twilio path (LEDGER_PUBLIC_URL). Required.
	PublicURL string
	// Region reads national numbers (no country code). Default contact.DefaultRegion.
	Region string
	// MapCustomer maps a contact key ("tel:+14155550100") to a customer id. Default: the
	// key is the customer id.
	MapCustomer func(contactKey string) (customerID string, ok bool)
	// Source is the envelope's source. Default "twilio".
	Source string
	// MaxBody is the largest body accepted, in bytes. Default 64 KiB.
	MaxBody int64
}

func (c *Config) setDefaults() {
	if c.Region == "" {
		c.Region = contact.DefaultRegion
	}
	if c.Source == "" {
		c.Source = Name
	}
	if c.MaxBody == 0 {
		c.MaxBody = 64 << 10
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if err := webhooks.CheckSecret("AuthToken (LEDGER_TWILIO_AUTH_TOKEN)", c.AuthToken, webhooks.MinIssuedKeyLen); err != nil {
		errs = append(errs, fmt.Errorf("twilio: %w", err))
	}
	if c.PublicURL == "" {
		errs = append(errs, errors.New("twilio: PublicURL is required (Twilio signs the URL it calls)"))
	} else if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("twilio: PublicURL %q is not an absolute http(s) URL", c.PublicURL))
	}
	if c.MaxBody < 0 {
		errs = append(errs, errors.New("twilio: MaxBody must not be negative"))
	}
	return errors.Join(errs...)
}

// Provider is the Twilio adapter.
type Provider struct{ cfg Config }

var (
	_ webhooks.Provider  = (*Provider)(nil)
	_ webhooks.Responder = (*Provider)(nil)

	_ webhooks.HeaderVerifier = (*Provider)(nil)
)

// New validates cfg and returns the adapter.
func New(cfg Config) (*Provider, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Provider{cfg: cfg}, nil
}

// Name returns "twilio".
func (p *Provider) Name() string { return Name }

// MaxBody returns the largest body accepted.
func (p *Provider) MaxBody() int64 { return p.cfg.MaxBody }

// VerifyHeaders refuses, before the body is read, a request whose X-Twilio-Signature is
// missing or is not the base64 of an HMAC-SHA1; Verify checks it against the body.
func (p *Provider) VerifyHeaders(r *http.Request, _ time.Time) error {
	got := r.Header.Get("X-Twilio-Signature")
	if got == "" {
		return fmt.Errorf("%w: X-Twilio-Signature header is missing", webhooks.ErrUnauthorized)
	}
	if raw, err := base64.StdEncoding.DecodeString(got); err != nil || len(raw) != sha1.Size {
		return fmt.Errorf("%w: X-Twilio-Signature is not a base64 HMAC-SHA1", webhooks.ErrUnauthorized)
	}
	return nil
}

// Verify checks X-Twilio-Signature against the full URL and the POST parameters.
func (p *Provider) Verify(r *http.Request, body []byte, now time.Time) error {
	if err := p.VerifyHeaders(r, now); err != nil {
		return err
	}
	got := r.Header.Get("X-Twilio-Signature")
	params, err := url.ParseQuery(string(body))
	if err != nil {
		return fmt.Errorf("%w: body is not form-encoded, so its signature cannot be checked", webhooks.ErrUnauthorized)
	}
	want := Signature(p.cfg.AuthToken, p.cfg.PublicURL+r.URL.RequestURI(), params)
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return fmt.Errorf("%w: X-Twilio-Signature does not match", webhooks.ErrUnauthorized)
	}
	return nil
}

// Signature computes Twilio's request signature for fullURL and the POST parameters:
// base64(HMAC-SHA1(authToken, fullURL + name1 + value1 + name2 + value2 ...)), names
// sorted (repeated names: values sorted too).
func Signature(authToken, fullURL string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(fullURL))
	for _, k := range keys {
		vs := append([]string(nil), params[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			mac.Write([]byte(k))
			mac.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Respond answers an empty TwiML document: Twilio reads the answer to a messaging
// webhook as TwiML, and an empty <Response> does nothing.
func (p *Provider) Respond(w http.ResponseWriter, _ int) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Response></Response>`))
}

// Translate turns one status callback into at most one event.
func (p *Provider) Translate(r *http.Request, body []byte, now time.Time) ([]domain.Event, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("%w: body is not form-encoded: %v", webhooks.ErrBadPayload, err)
	}
	var q url.Values
	if r != nil && r.URL != nil {
		q = r.URL.Query()
	}
	queue := form.Get("QueueSid")
	if queue == "" {
		queue = q.Get("queue")
	}
	switch {
	case form.Get("CallSid") != "" && form.Get("CallStatus") != "":
		return p.voice(form, queue, now)
	case form.Get("MessageSid") != "" || form.Get("SmsSid") != "":
		return p.message(form, queue, now)
	case form.Get("CallSid") != "":
		return nil, fmt.Errorf("%w: CallStatus is required with CallSid", webhooks.ErrBadPayload)
	}
	return nil, fmt.Errorf("%w: neither CallSid nor MessageSid is present (not a voice or messaging status callback)", webhooks.ErrBadPayload)
}

// parties returns the customer's number and the agent (a "client:" party), given which
// side is the customer.
func parties(customerSide, otherSide string) (customer, agent string) {
	customer = customerSide
	if a, ok := strings.CutPrefix(otherSide, "client:"); ok {
		agent = a
	}
	if a, ok := strings.CutPrefix(customerSide, "client:"); ok {
		// The "customer" side is a Twilio Client: the agent; no phone customer.
		return "", a
	}
	return customer, agent
}

func (p *Provider) voice(f url.Values, queue string, now time.Time) ([]domain.Event, error) {
	sid, status := f.Get("CallSid"), f.Get("CallStatus")
	var dir domain.Direction
	var customer, agent string
	switch d := f.Get("Direction"); {
	case d == "inbound":
		dir = domain.DirectionIncoming
		customer, agent = parties(f.Get("From"), f.Get("To"))
	case strings.HasPrefix(d, "outbound"):
		dir = domain.DirectionOutgoing
		customer, agent = parties(f.Get("To"), f.Get("From"))
	default:
		return nil, fmt.Errorf("%w: Direction %q is not inbound, outbound-api or outbound-dial", webhooks.ErrBadPayload, d)
	}
	at := now
	if ts := f.Get("Timestamp"); ts != "" {
		t, err := time.Parse(time.RFC1123Z, ts)
		if err != nil {
			return nil, fmt.Errorf("%w: Timestamp %q is not an RFC 1123 time with numeric zone", webhooks.ErrBadPayload, domain.Clip(ts))
		}
		at = t
	}
	id := webhooks.EventID(Name, sid, status, f.Get("SequenceNumber"))
	var data domain.Payload
	var typ domain.EventType
	switch status {
	case "queued", "initiated", "ringing", "in-progress":
		typ = domain.TypeInteractionStarted
		data = startedData(sid, domain.FlowVoice, dir, queue, agent)
	case "completed":
		typ = domain.TypeInteractionEnded
		if d := f.Get("CallDuration"); d != "" {
			n, err := strconv.Atoi(d)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%w: CallDuration %q is not a number of seconds", webhooks.ErrBadPayload, domain.Clip(d))
			}
			if n == 0 {
				data = &domain.EndedData{InteractionID: sid, Status: domain.StatusAborted, Reason: "completed without being connected (CallDuration 0)"}
				break
			}
		}
		data = &domain.EndedData{InteractionID: sid, Status: domain.StatusProcessed}
	case "busy", "no-answer", "failed", "canceled":
		typ = domain.TypeInteractionEnded
		reason := status
		if c := f.Get("SipResponseCode"); c != "" {
			reason += " (SIP " + c + ")"
		}
		data = &domain.EndedData{InteractionID: sid, Status: domain.StatusAborted, Reason: reason}
	default:
		return nil, nil // a status the ledger does not record
	}
	return p.build(id, typ, at, customer, data, now)
}

func (p *Provider) message(f url.Values, queue string, now time.Time) ([]domain.Event, error) {
	sid := f.Get("MessageSid")
	if sid == "" {
		sid = f.Get("SmsSid")
	}
	status := f.Get("MessageStatus")
	if status == "" {
		status = f.Get("SmsStatus")
	}
	if status == "" {
		return nil, fmt.Errorf("%w: MessageStatus is required with MessageSid", webhooks.ErrBadPayload)
	}
	from, to := f.Get("From"), f.Get("To")
	flow := domain.FlowSMS
	if strings.HasPrefix(from, "whatsapp:") || strings.HasPrefix(to, "whatsapp:") {
		flow = domain.FlowWhatsApp
		from, to = strings.TrimPrefix(from, "whatsapp:"), strings.TrimPrefix(to, "whatsapp:")
	}
	dir := domain.DirectionOutgoing
	customer, agent := parties(to, from)
	if status == "received" || status == "receiving" {
		dir = domain.DirectionIncoming
		customer, agent = parties(from, to)
	}
	id := webhooks.EventID(Name, sid, status)
	var data domain.Payload
	var typ domain.EventType
	switch status {
	case "accepted", "scheduled", "queued", "sending", "sent", "received", "receiving":
		typ = domain.TypeInteractionStarted
		data = startedData(sid, flow, dir, queue, agent)
	case "delivered", "read":
		typ = domain.TypeInteractionEnded
		data = &domain.EndedData{InteractionID: sid, Status: domain.StatusDelivered}
	case "undelivered", "failed":
		typ = domain.TypeInteractionEnded
		reason := status
		if c := f.Get("ErrorCode"); c != "" {
			reason += ": error " + c
		}
		if m := f.Get("ErrorMessage"); m != "" {
			reason += " " + m
		}
		data = &domain.EndedData{InteractionID: sid, Status: domain.StatusWarning, Reason: domain.FitText(reason, domain.MaxTextBytes)}
	case "canceled":
		typ = domain.TypeInteractionEnded
		data = &domain.EndedData{InteractionID: sid, Status: domain.StatusAborted, Reason: "canceled"}
	default:
		return nil, nil
	}
	return p.build(id, typ, now, customer, data, now)
}

// build resolves the customer and makes the one event; no customer phone number means
// nothing to record.
func (p *Provider) build(id string, typ domain.EventType, at time.Time, rawPhone string, data domain.Payload, now time.Time) ([]domain.Event, error) {
	e164, ok := contact.Phone(rawPhone, p.cfg.Region)
	if !ok {
		return nil, nil
	}
	if sd, isStarted := data.(*domain.StartedData); isStarted {
		sd.Contact = domain.Contact{Phone: e164}
	}
	customer := contact.PhoneKey(e164)
	if p.cfg.MapCustomer != nil {
		if c, ok := p.cfg.MapCustomer(customer); ok && c != "" {
			customer = c
		}
	}
	ev, err := domain.NewEvent(id, typ, at, customer, p.cfg.Source, data, now)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", webhooks.ErrBadPayload, err)
	}
	return []domain.Event{ev}, nil
}

// startedData is a call's or message's started data: routed by queue when Twilio names
// one, else direct; the contact is set once the customer's number is read.
func startedData(id string, flow domain.Flow, dir domain.Direction, queue, agent string) *domain.StartedData {
	d := &domain.StartedData{InteractionID: id, Flow: flow, Direction: dir, Routing: domain.RoutingDirect, AgentID: agent}
	if queue != "" {
		d.Routing, d.QueueID = domain.RoutingSmart, queue
	}
	return d
}
