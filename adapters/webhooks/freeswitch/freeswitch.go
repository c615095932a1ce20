// Package freeswitch receives FreeSWITCH call detail records posted by mod_json_cdr at
// /v1/webhooks/freeswitch: a form-encoded body whose "cdr" field holds the JSON (the
// module's default encoding, or base64 with encode=base64), or the raw JSON body
// (encode=false). Values under "variables" are URL-encoded unless encode-values is off;
// both are read.
//
// Requests are authenticated with the CDR token as the password of Basic auth (set
// mod_json_cdr's cred param to "<user>:<token>"), or as a bearer token, compared in
// constant time.
//
// # Mapping
//
// One CDR (one call leg; keep log-b-leg off) gives interaction.started (occurred_at the
// start: start_uepoch, start_epoch or start_stamp) and interaction.ended (the end,
// likewise): an answered leg (billsec > 0, or an answer time) → processed; any other →
// aborted with hangup_cause (NO_ANSWER, USER_BUSY, ORIGINATOR_CANCEL, ...) as reason.
// interaction_id is variables.uuid; event ids derive from it and the event kind.
//
// Direction rule: a leg whose direction is inbound and whose dialplan context (the first
// callflow's caller_profile.context, else variables.context) is one of
// Config.IncomingContexts (default "public", where FreeSWITCH puts calls from gateways) is
// incoming and its customer is caller_id_number; any other leg (an internal phone dialling
// out, an originate) is outgoing and its customer is destination_number. The agent is
// variables.cc_agent (mod_callcenter), else dialed_user (incoming) or user_name
// (outgoing). variables.cc_queue makes the routing smart with that queue_id. A leg whose
// customer side is not a possible phone number (internal call) records nothing.
package freeswitch

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/domain/contact"
)

// Name is the provider's {provider} path segment. WARNING: it seeds the event ids.
const Name = "freeswitch"

// Config configures the FreeSWITCH CDR adapter.
type Config struct {
	// Token is the CDR token (LEDGER_CDR_TOKEN). Required, at least webhooks.MinTokenLen
	// bytes.
	Token string
	// Location reads *_stamp times (local time without offset), used only when the
	// *_epoch variables are absent. Default UTC.
	Location *time.Location
	// IncomingContexts are the dialplan contexts calls from outside arrive in. Default
	// "public".
	IncomingContexts []string
	// Region reads national numbers. Default contact.DefaultRegion.
	Region string
	// Options: MapCustomer, Source, MaxBody (default DefaultMaxBody).
	webhooks.Options
}

// DefaultMaxBody is Config.MaxBody's default: 2 MiB (CDRs carry every channel variable).
const DefaultMaxBody = 2 << 20

func (c *Config) setDefaults() {
	c.Location = cmp.Or(c.Location, time.UTC)
	if c.IncomingContexts == nil {
		c.IncomingContexts = []string{"public"}
	}
	c.Region = cmp.Or(c.Region, contact.DefaultRegion)
	c.Options.SetDefaults(Name, DefaultMaxBody)
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	return c.Options.Validate(Name, webhooks.NewTokenAuth(c.Token).Check)
}

// Provider is the FreeSWITCH CDR adapter.
type Provider struct {
	webhooks.Adapter[Config]
	webhooks.TokenAuth
}

// New validates cfg and returns the adapter.
func New(cfg Config) (*Provider, error) {
	return webhooks.Construct(Name, cfg, (*Config).setDefaults, func(a webhooks.Adapter[Config]) *Provider {
		return &Provider{Adapter: a, TokenAuth: webhooks.NewTokenAuth(a.Config().Token)}
	})
}

// record is the part of a mod_json_cdr record the ledger reads.
type record struct {
	ChannelData struct {
		Direction string `json:"direction"`
	} `json:"channel_data"`
	Variables map[string]json.RawMessage `json:"variables"`
	Callflow  json.RawMessage            `json:"callflow"` // an array (newer) or one object (older)
}

type callflow struct {
	ProfileIndex  string `json:"profile_index"`
	CallerProfile struct {
		CallerIDNumber    string `json:"caller_id_number"`
		DestinationNumber string `json:"destination_number"`
		Context           string `json:"context"`
	} `json:"caller_profile"`
}

// cdrJSON returns the JSON document of the request body.
func cdrJSON(r *http.Request, body []byte) ([]byte, error) {
	body = bytes.TrimSpace(body)
	form := bytes.HasPrefix(body, []byte("cdr="))
	if r != nil && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		form = true
	}
	if form {
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("form body: %v", err)
		}
		if !v.Has("cdr") {
			return nil, errors.New(`form body has no "cdr" field`)
		}
		body = bytes.TrimSpace([]byte(v.Get("cdr")))
	}
	if len(body) > 0 && body[0] != '{' { // encode=base64
		dec, err := base64.StdEncoding.DecodeString(string(body))
		if err != nil {
			return nil, errors.New("cdr is neither JSON nor base64")
		}
		body = bytes.TrimSpace(dec)
	}
	return body, nil
}

// Translate turns the CDR into a started and an ended event.
func (p *Provider) Translate(r *http.Request, body []byte, now time.Time) ([]domain.Event, error) {
	doc, err := cdrJSON(r, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", webhooks.ErrBadPayload, err)
	}
	var rec record
	if err := json.Unmarshal(doc, &rec); err != nil {
		return nil, fmt.Errorf("%w: cdr is not a mod_json_cdr record: %v", webhooks.ErrBadPayload, err)
	}
	evs, err := p.translate(rec, now)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", webhooks.ErrBadPayload, err)
	}
	return evs, nil
}

func (p *Provider) translate(rec record, now time.Time) ([]domain.Event, error) {
	v := func(name string) string { return variable(rec.Variables, name) }
	uuid := v("uuid")
	if uuid == "" {
		return nil, errors.New("variables.uuid is required")
	}
	cf := firstCallflow(rec.Callflow)
	start, err := p.when(v, "start")
	if err != nil {
		return nil, err
	}
	end, err := p.when(v, "end")
	if err != nil {
		return nil, err
	}
	direction := firstNonEmpty(v("direction"), rec.ChannelData.Direction)
	context := firstNonEmpty(cf.CallerProfile.Context, v("context"))
	callerID := firstNonEmpty(v("caller_id_number"), cf.CallerProfile.CallerIDNumber)
	dest := firstNonEmpty(v("destination_number"), cf.CallerProfile.DestinationNumber)

	billsec, _ := strconv.ParseInt(v("billsec"), 10, 64)
	call := webhooks.Call{InteractionID: uuid, Key: []string{uuid}, Start: start, End: end,
		Direction: domain.DirectionOutgoing, Number: dest, AgentID: firstNonEmpty(v("cc_agent"), v("user_name")),
		QueueID: v("cc_queue"), Answered: billsec > 0 || nonZero(v("answer_uepoch")) || nonZero(v("answer_epoch")),
		Reason: firstNonEmpty(v("hangup_cause"), "not answered")}
	if direction == "inbound" && slices.Contains(p.Config().IncomingContexts, context) {
		call.Direction, call.Number, call.AgentID = domain.DirectionIncoming, callerID, firstNonEmpty(v("cc_agent"), v("dialed_user"))
	}
	evs, ok, err := p.Config().CallEvents(Name, p.Config().Region, call, now)
	if !ok || err != nil {
		return nil, err // !ok: an internal call, no customer
	}
	return []domain.Event{evs.StartedEvent, evs.EndedEvent}, nil
}

// when reads <prefix>_uepoch, <prefix>_epoch or <prefix>_stamp.
func (p *Provider) when(v func(string) string, prefix string) (time.Time, error) {
	if s := v(prefix + "_uepoch"); nonZero(s) {
		us, err := strconv.ParseInt(s, 10, 64)
		if err != nil || us < 0 || us > 1e17 {
			return time.Time{}, fmt.Errorf("variables.%s_uepoch %q is not Unix microseconds", prefix, domain.Clip(s))
		}
		return time.UnixMicro(us), nil
	}
	if s := v(prefix + "_epoch"); nonZero(s) {
		secs, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(secs) || secs < 0 || secs > 1e11 {
			return time.Time{}, fmt.Errorf("variables.%s_epoch %q is not Unix seconds", prefix, domain.Clip(s))
		}
		return time.Unix(int64(secs), 0), nil
	}
	if s := v(prefix + "_stamp"); s != "" {
		t, err := time.ParseInLocation("2006-01-02 15:04:05", s, p.Config().Location)
		if err != nil {
			return time.Time{}, fmt.Errorf("variables.%s_stamp %q is not YYYY-MM-DD hh:mm:ss", prefix, domain.Clip(s))
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("variables.%s_epoch (or %s_uepoch, %s_stamp) is required", prefix, prefix, prefix)
}

// variable returns a channel variable, URL-decoded (mod_json_cdr's encode-values). A
// '+' is kept as is: FreeSWITCH encodes spaces as %20, and a raw "+33..." must survive.
func variable(vars map[string]json.RawMessage, name string) string {
	raw, ok := vars[name]
	if !ok {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return ""
		}
		return n.String()
	}
	if dec, err := url.PathUnescape(s); err == nil {
		s = dec
	}
	return strings.TrimSpace(s)
}

// firstCallflow returns the leg's first (original) callflow: the lowest profile_index,
// else the last entry (mod_json_cdr lists the newest first).
func firstCallflow(raw json.RawMessage) callflow {
	var list []callflow
	if err := json.Unmarshal(raw, &list); err != nil {
		var one callflow
		if json.Unmarshal(raw, &one) == nil {
			return one
		}
		return callflow{}
	}
	if len(list) == 0 {
		return callflow{}
	}
	best := list[len(list)-1]
	bestIdx := math.MaxInt
	for _, c := range list {
		if i, err := strconv.Atoi(c.ProfileIndex); err == nil && i < bestIdx {
			best, bestIdx = c, i
		}
	}
	return best
}

func nonZero(s string) bool { return s != "" && strings.Trim(s, "0") != "" }

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
