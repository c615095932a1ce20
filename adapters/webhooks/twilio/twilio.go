// Package twilio receives Twilio's Programmable Voice and Programmable Messaging status
// callbacks (form-encoded POSTs, or JSON-bodied ones) at /v1/webhooks/twilio and turns
// them into interaction events. Both kinds share the one path and are told apart by
// CallSid and MessageSid.
//
// Requests are verified with X-Twilio-Signature: base64(HMAC-SHA1(auth token, full URL +
// every POST parameter's name and value, sorted by name)), the full URL being the public
// base URL the ledger is reached at plus the request URI (path and query). A JSON-bodied
// webhook is signed over the full URL alone, whose bodySHA256 query parameter is the hex
// SHA-256 of the body; its body is a JSON object of the same parameter names.
//
// # Mapping
//
// Voice (CallSid): CallStatus queued, initiated, ringing, in-progress → interaction.started
// (flow voice; direction from Direction: inbound → incoming, outbound-api and
// outbound-dial → outgoing); completed → interaction.ended processed (aborted if
// CallDuration is 0, i.e. never connected); busy, no-answer, failed, canceled →
// interaction.ended aborted with the status (and SipResponseCode) as reason. The event id
// derives from CallSid, CallStatus and SequenceNumber; occurred_at is Timestamp (RFC 1123
// with numeric zone) when present, else the time of receipt. An ended is preceded by the
// started it implies (webhooks.WithInferredStarted), at Timestamp minus CallDuration:
// Twilio sends only completed unless more events are subscribed. A completed callback
// naming a recording (RecordingUrl, RecordingSid, RecordingDuration) carries it on the
// ended event as recording_url, recording_sid and recording_duration_s; a recording
// status callback names no party and records nothing.
//
// A <Dial> child leg (ParentCallSid) belongs to its parent call's interaction: answered
// (in-progress, or completed with a CallDuration, at Timestamp minus it) it gives
// interaction.routed to whoever it reached (a Client's name, a SIP URI's user, else the
// number dialled), so the current agent follows the transfer; other statuses nothing. Its
// customer is the leg's From, which <Dial> sets to the caller's number unless its
// callerId says otherwise.
//
// Messaging (MessageSid): MessageStatus (or SmsStatus) accepted, scheduled, queued,
// sending, sent → interaction.started outgoing; received, receiving → started incoming;
// delivered, read → interaction.ended delivered; undelivered, failed → ended warning with
// ErrorCode and ErrorMessage as reason; canceled → ended aborted; each ended preceded by
// its inferred started. Flow is whatsapp when From or To starts with "whatsapp:", else
// sms. The event id derives from MessageSid and the status. Messaging callbacks carry no
// time: occurred_at is the time of receipt.
//
// The customer is the other party's number (From for inbound, To for outbound), in E.164;
// customer_id is "tel:+<E.164>" unless Config.MapCustomer maps it. A "client:<name>"
// party is the agent (agent_id <name>). A call or message with no customer phone number
// (two Twilio Clients, "anonymous") records nothing. Routing is smart, with queue_id,
// when the request names a queue (POST parameter QueueSid, or a "queue" query parameter
// put on the status callback URL), else direct.
package twilio

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
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
	// Options: MapCustomer (of "tel:+14155550100"), Source, MaxBody (default
	// DefaultMaxBody).
	webhooks.Options
}

// DefaultMaxBody is Config.MaxBody's default: 64 KiB.
const DefaultMaxBody = 64 << 10

func (c *Config) setDefaults() {
	c.Region = cmp.Or(c.Region, contact.DefaultRegion)
	c.Options.SetDefaults(Name, DefaultMaxBody)
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error { return c.Options.Validate(Name, c.checkAuth) }

func (c Config) checkAuth(p *webhooks.Problems) {
	p.Secret("AuthToken (LEDGER_TWILIO_AUTH_TOKEN)", c.AuthToken, webhooks.MinIssuedKeyLen)
	if c.PublicURL == "" {
		p.Addf("PublicURL is required (Twilio signs the URL it calls)")
	} else if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.Addf("PublicURL %q is not an absolute http(s) URL", c.PublicURL)
	}
}

// Provider is the Twilio adapter.
type Provider struct{ webhooks.Adapter[Config] }

var _ interface {
	webhooks.Responder
	webhooks.HeaderVerifier
} = (*Provider)(nil)

// New validates cfg and returns the adapter.
func New(cfg Config) (*Provider, error) {
	return webhooks.ConstructAdapter[Config, Provider](Name, cfg, (*Config).setDefaults)
}

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

// Verify checks X-Twilio-Signature against the full URL and the POST parameters, or, for
// a JSON-bodied webhook, against the URL alone, which carries the body's SHA-256.
func (p *Provider) Verify(r *http.Request, body []byte, now time.Time) error {
	if err := p.VerifyHeaders(r, now); err != nil {
		return err
	}
	got := r.Header.Get("X-Twilio-Signature")
	var params url.Values
	if bodySum := r.URL.Query().Get("bodySHA256"); bodySum != "" {
		// A JSON-bodied webhook: the URL carries the body's SHA-256 and is signed alone.
		sum := sha256.Sum256(body)
		if subtle.ConstantTimeCompare([]byte(strings.ToLower(bodySum)), []byte(hex.EncodeToString(sum[:]))) != 1 {
			return fmt.Errorf("%w: bodySHA256 does not match the body", webhooks.ErrUnauthorized)
		}
	} else {
		var err error
		if params, err = url.ParseQuery(string(body)); err != nil {
			return fmt.Errorf("%w: body is not form-encoded, so its signature cannot be checked", webhooks.ErrUnauthorized)
		}
	}
	want := Signature(p.Config().AuthToken, p.Config().PublicURL+r.URL.RequestURI(), params)
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

// Translate turns one status callback into its events: the event of the status and,
// for a status that is not a start, the started it implies (webhooks.WithInferredStarted).
func (p *Provider) Translate(r *http.Request, body []byte, now time.Time) ([]domain.Event, error) {
	form, err := params(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", webhooks.ErrBadPayload, err)
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
	case form.Get("CallSid") != "" && form.Get("ParentCallSid") != "" && form.Get("CallStatus") != "":
		return p.childLeg(form, queue, now)
	case form.Get("CallSid") != "" && form.Get("CallStatus") != "":
		return p.voice(form, queue, now)
	case form.Get("MessageSid") != "" || form.Get("SmsSid") != "":
		return p.message(form, queue, now)
	case form.Get("CallSid") != "" && form.Get("RecordingSid") != "":
		// A recording status callback names no party, so no customer: nothing to record
		// on its own. A recording made with the call arrives on its completed callback.
		return nil, nil
	case form.Get("CallSid") != "":
		return nil, fmt.Errorf("%w: CallStatus is required with CallSid", webhooks.ErrBadPayload)
	}
	return nil, fmt.Errorf("%w: neither CallSid nor MessageSid is present (not a voice or messaging status callback)", webhooks.ErrBadPayload)
}

// params reads a callback's parameters: form-encoded, or a JSON object of the same
// names (Twilio's JSON-bodied webhooks) whose values are strings, numbers or booleans.
func params(body []byte) (url.Values, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("body is not form-encoded: %v", err)
		}
		return form, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &obj); err != nil {
		return nil, fmt.Errorf("body is not a JSON object: %v", err)
	}
	form := url.Values{}
	for k, raw := range obj {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("%s: %v", domain.Clip(k), err)
		}
		switch v := v.(type) {
		case string:
			form.Set(k, v)
		case float64, bool:
			form.Set(k, strings.Trim(string(raw), " \t\r\n"))
		case nil:
		default:
			// Nested values are not status fields: skipped, as the form has none.
		}
	}
	return form, nil
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
	dir, customer, agent, err := callParties(f)
	if err != nil {
		return nil, err
	}
	at, err := timestamp(f, now)
	if err != nil {
		return nil, err
	}
	id := webhooks.EventID(Name, sid, status, f.Get("SequenceNumber"))
	started := startedData(sid, domain.FlowVoice, dir, queue, agent)
	if status == "queued" || status == "initiated" || status == "ringing" || status == "in-progress" {
		return p.build(id, domain.TypeInteractionStarted, at, customer, started, now)
	}
	duration, err := callDuration(f)
	if err != nil {
		return nil, err
	}
	var data *domain.EndedData
	switch status {
	case "completed":
		data = &domain.EndedData{InteractionID: sid, Status: domain.StatusProcessed}
		if f.Get("CallDuration") != "" && duration == 0 {
			data = &domain.EndedData{InteractionID: sid, Status: domain.StatusAborted, Reason: "completed without being connected (CallDuration 0)"}
		}
	case "busy", "no-answer", "failed", "canceled":
		reason := status
		if c := f.Get("SipResponseCode"); c != "" {
			reason += " (SIP " + c + ")"
		}
		data = &domain.EndedData{InteractionID: sid, Status: domain.StatusAborted, Reason: reason}
	default:
		return nil, nil // a status the ledger does not record
	}
	// The call began CallDuration seconds before it completed: what the started would
	// have said, for an account that subscribes to completed only (Twilio's default).
	return p.buildInferred(id, domain.TypeInteractionEnded, at, customer, data, started, at.Add(-duration), now, recording(f)...)
}

// recording returns the recording a completed callback names (a call made with
// Record=true), as extension fields of the ended event: the detail shows them with it.
func recording(f url.Values) []domain.Extension {
	u := f.Get("RecordingUrl")
	if u == "" || len(u) > 2048 || !strings.HasPrefix(u, "https://") {
		return nil
	}
	ext := []domain.Extension{{Key: "recording_url", Value: u}}
	if sid := f.Get("RecordingSid"); sid != "" && len(sid) <= domain.MaxIDBytes {
		ext = append(ext, domain.Extension{Key: "recording_sid", Value: sid})
	}
	if d, err := strconv.Atoi(f.Get("RecordingDuration")); err == nil && d >= 0 {
		ext = append(ext, domain.Extension{Key: "recording_duration_s", Value: d})
	}
	return ext
}

// callParties reads a call's direction, the customer's raw number and the agent.
func callParties(f url.Values) (dir domain.Direction, customer, agent string, err error) {
	switch d := f.Get("Direction"); {
	case d == "inbound":
		customer, agent = parties(f.Get("From"), f.Get("To"))
		return domain.DirectionIncoming, customer, agent, nil
	case strings.HasPrefix(d, "outbound"):
		customer, agent = parties(f.Get("To"), f.Get("From"))
		return domain.DirectionOutgoing, customer, agent, nil
	default:
		return domain.Direction{}, "", "", fmt.Errorf("%w: Direction %q is not inbound, outbound-api or outbound-dial", webhooks.ErrBadPayload, domain.Clip(d))
	}
}

// timestamp is the callback's Timestamp (RFC 1123 with numeric zone), else now.
func timestamp(f url.Values, now time.Time) (time.Time, error) {
	ts := f.Get("Timestamp")
	if ts == "" {
		return now, nil
	}
	t, err := time.Parse(time.RFC1123Z, ts)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: Timestamp %q is not an RFC 1123 time with numeric zone", webhooks.ErrBadPayload, domain.Clip(ts))
	}
	return t, nil
}

// callDuration is CallDuration (seconds the call was connected), 0 when absent.
func callDuration(f url.Values) (time.Duration, error) {
	d := f.Get("CallDuration")
	if d == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(d)
	if err != nil || n < 0 || n > 7*24*3600 {
		return 0, fmt.Errorf("%w: CallDuration %q is not a number of seconds", webhooks.ErrBadPayload, domain.Clip(d))
	}
	return time.Duration(n) * time.Second, nil
}

// childLeg translates a callback of a <Dial> child leg (ParentCallSid): it belongs to
// the parent call's interaction, and its answer routes that interaction to whoever the
// leg reached, so the current agent follows the transfer. A leg that never connected
// changes nothing. The customer is the leg's From: <Dial> passes the caller's number
// on unless its callerId says otherwise.
func (p *Provider) childLeg(f url.Values, queue string, now time.Time) ([]domain.Event, error) {
	parent, sid, status := f.Get("ParentCallSid"), f.Get("CallSid"), f.Get("CallStatus")
	at, err := timestamp(f, now)
	if err != nil {
		return nil, err
	}
	duration, err := callDuration(f)
	if err != nil {
		return nil, err
	}
	switch {
	case status == "in-progress":
	case status == "completed" && duration > 0:
		at = at.Add(-duration) // when the leg was answered
	default:
		return nil, nil
	}
	data := &domain.RoutedData{InteractionID: parent, Routing: domain.RoutingDirect, AgentID: legAgent(f.Get("To"))}
	if queue != "" {
		data.Routing, data.QueueID = domain.RoutingSmart, queue
	}
	return p.build(webhooks.EventID(Name, sid, status, f.Get("SequenceNumber")), domain.TypeInteractionRouted, at, f.Get("From"), data, now)
}

// legAgent is who a <Dial> leg reached: a Twilio Client's name, a SIP URI's user, else
// the number dialled as it is (a transfer to an outside number).
func legAgent(to string) string {
	if a, ok := strings.CutPrefix(to, "client:"); ok {
		return a
	}
	if u, ok := strings.CutPrefix(to, "sip:"); ok {
		user, _, _ := strings.Cut(u, "@")
		return user
	}
	return to
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
	started := startedData(sid, flow, dir, queue, agent)
	var data *domain.EndedData
	switch status {
	case "accepted", "scheduled", "queued", "sending", "sent", "received", "receiving":
		return p.build(id, domain.TypeInteractionStarted, now, customer, started, now)
	case "delivered", "read":
		data = &domain.EndedData{InteractionID: sid, Status: domain.StatusDelivered}
	case "undelivered", "failed":
		reason := status
		if c := f.Get("ErrorCode"); c != "" {
			reason += ": error " + c
		}
		if m := f.Get("ErrorMessage"); m != "" {
			reason += " " + m
		}
		data = &domain.EndedData{InteractionID: sid, Status: domain.StatusWarning, Reason: domain.FitText(reason, domain.MaxTextBytes)}
	case "canceled":
		data = &domain.EndedData{InteractionID: sid, Status: domain.StatusAborted, Reason: "canceled"}
	default:
		return nil, nil
	}
	return p.buildInferred(id, domain.TypeInteractionEnded, now, customer, data, started, now, now)
}

// build resolves the customer and makes the one event; no customer phone number means
// nothing to record.
func (p *Provider) build(id string, typ domain.EventType, at time.Time, rawPhone string, data domain.Payload, now time.Time) ([]domain.Event, error) {
	return p.buildInferred(id, typ, at, rawPhone, data, nil, time.Time{}, now)
}

// buildInferred is build, preceded by the started inferred from the event (starting at
// startAt) when started is not nil.
func (p *Provider) buildInferred(id string, typ domain.EventType, at time.Time, rawPhone string, data domain.Payload,
	started *domain.StartedData, startAt, now time.Time, ext ...domain.Extension) ([]domain.Event, error) {
	e164, ok := contact.Phone(rawPhone, p.Config().Region)
	if !ok {
		return nil, nil
	}
	if sd, isStarted := data.(*domain.StartedData); isStarted {
		sd.Contact = domain.Contact{Phone: e164}
	}
	customer := p.Config().Customer(contact.PhoneKey(e164))
	ev, err := domain.NewEvent(id, typ, at, customer, p.Config().Source, data, now, ext...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", webhooks.ErrBadPayload, err)
	}
	if started == nil {
		return []domain.Event{ev}, nil
	}
	started.Contact = domain.Contact{Phone: e164}
	evs, err := webhooks.WithInferredStarted(Name, ev, *started, startAt, now)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", webhooks.ErrBadPayload, err)
	}
	return evs, nil
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
