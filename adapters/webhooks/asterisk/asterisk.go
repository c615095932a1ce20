// Package asterisk receives Asterisk call detail records, posted as JSON by a CDR
// forwarder (one object, or an array of them), at /v1/webhooks/asterisk. The fields are
// those of Asterisk's CDR (cdr_custom, cdr_manager): accountcode, src, dst, dcontext,
// clid, channel, dstchannel, lastapp, lastdata, start, answer, end, duration, billsec,
// disposition, amaflags, uniqueid, linkedid, userfield (sequence when present); each may
// be a JSON string or number.
//
// Requests are authenticated with the CDR token, sent as "Authorization: Bearer <token>"
// or as the password of Basic auth (any user name), compared in constant time.
//
// # Mapping
//
// One CDR gives interaction.started (occurred_at start) and interaction.ended (occurred_at
// end, else start + duration): ANSWERED → processed; NO ANSWER, BUSY, FAILED, CONGESTION
// (any other disposition) → aborted with the disposition as reason. The CDR of a later
// leg of a call (uniqueid other than linkedid: a transfer) gives instead an inferred
// started (webhooks.WithInferredStarted), the ended, and, when answered by an agent,
// interaction.routed at its answer: the current agent follows the transfer while the
// first leg keeps the call's start and original routing. interaction_id is
// linkedid (one id for every leg of a call), else uniqueid; event ids derive from
// uniqueid, sequence, start and the event kind.
//
// Direction rule: a CDR whose dcontext is one of Config.IncomingContexts (default
// from-external, from-trunk, from-pstn, from-did) is incoming and its customer is src
// (else the number in clid); any other is outgoing and its customer is dst. The agent is
// the numeric extension of the agent-side channel (dstchannel for incoming, channel for
// outgoing: "PJSIP/1001-00000002", "SIP/1001-0000000a", "Local/1001@from-queue-...;1"
// give 1001); a non-numeric peer (a trunk) is no agent. lastapp Queue makes the routing
// smart with queue_id the first argument of lastdata; otherwise routing is direct. A CDR
// whose customer side is not a possible phone number (an internal extension-to-extension
// call, "anonymous") records nothing. Times without an offset are read in
// Config.Location.
package asterisk

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/domain/contact"
)

// Name is the provider's {provider} path segment. WARNING: it seeds the event ids.
const Name = "asterisk"

// Config configures the Asterisk CDR adapter.
type Config struct {
	// Token is the CDR token (LEDGER_CDR_TOKEN). Required, at least webhooks.MinTokenLen
	// bytes.
	Token string
	// Location reads CDR times written without an offset (Asterisk writes the PBX's local
	// time unless usegmtime is set). Default UTC.
	Location *time.Location
	// IncomingContexts are the dialplan contexts calls from outside arrive in. Default
	// from-external, from-trunk, from-pstn, from-did.
	IncomingContexts []string
	// Region reads national numbers. Default contact.DefaultRegion.
	Region string
	// Options: MapCustomer, Source, MaxBody (default DefaultMaxBody).
	webhooks.Options
}

// DefaultMaxBody is Config.MaxBody's default: 1 MiB.
const DefaultMaxBody = 1 << 20

func (c *Config) setDefaults() {
	c.Location = cmp.Or(c.Location, time.UTC)
	if c.IncomingContexts == nil {
		c.IncomingContexts = []string{"from-external", "from-trunk", "from-pstn", "from-did"}
	}
	c.Region = cmp.Or(c.Region, contact.DefaultRegion)
	c.Options.SetDefaults(Name, DefaultMaxBody)
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	return c.Options.Validate(Name, webhooks.NewTokenAuth(c.Token).Check)
}

// Provider is the Asterisk CDR adapter.
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

// flex is a CDR field written as a JSON string or number.
type flex string

func (f *flex) UnmarshalJSON(b []byte) error {
	switch {
	case bytes.Equal(b, []byte("null")):
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flex(s)
	case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		*f = flex(b)
	default:
		return errors.New("must be a string or a number")
	}
	return nil
}

// CDR is one Asterisk call detail record.
type CDR struct {
	AccountCode flex `json:"accountcode"`
	Src         flex `json:"src"`
	Dst         flex `json:"dst"`
	DContext    flex `json:"dcontext"`
	CLID        flex `json:"clid"`
	Channel     flex `json:"channel"`
	DstChannel  flex `json:"dstchannel"`
	LastApp     flex `json:"lastapp"`
	LastData    flex `json:"lastdata"`
	Start       flex `json:"start"`
	Answer      flex `json:"answer"`
	End         flex `json:"end"`
	Duration    flex `json:"duration"`
	BillSec     flex `json:"billsec"`
	Disposition flex `json:"disposition"`
	AMAFlags    flex `json:"amaflags"`
	UniqueID    flex `json:"uniqueid"`
	LinkedID    flex `json:"linkedid"`
	UserField   flex `json:"userfield"`
	Sequence    flex `json:"sequence"`
}

// Translate turns each CDR of the body into a started and an ended event.
func (p *Provider) Translate(_ *http.Request, body []byte, now time.Time) ([]domain.Event, error) {
	body = bytes.TrimSpace(body)
	var cdrs []CDR
	if len(body) > 0 && body[0] == '[' {
		if err := json.Unmarshal(body, &cdrs); err != nil {
			return nil, fmt.Errorf("%w: body is not a JSON array of CDRs: %v", webhooks.ErrBadPayload, err)
		}
	} else {
		var c CDR
		if err := json.Unmarshal(body, &c); err != nil {
			return nil, fmt.Errorf("%w: body is not a JSON CDR: %v", webhooks.ErrBadPayload, err)
		}
		cdrs = []CDR{c}
	}
	var out []domain.Event
	for i, c := range cdrs {
		evs, err := p.translate(c, now)
		if err != nil {
			if len(cdrs) > 1 {
				return nil, fmt.Errorf("%w: CDR [%d]: %w", webhooks.ErrBadPayload, i, err)
			}
			return nil, fmt.Errorf("%w: %w", webhooks.ErrBadPayload, err)
		}
		out = append(out, evs...)
	}
	return out, nil
}

func (p *Provider) translate(c CDR, now time.Time) ([]domain.Event, error) {
	uid := string(c.UniqueID)
	if uid == "" {
		return nil, errors.New("uniqueid is required")
	}
	interaction := string(c.LinkedID)
	if interaction == "" {
		interaction = uid
	}
	start, err := parseTime(string(c.Start), p.Config().Location)
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	var end time.Time
	if c.End != "" {
		if end, err = parseTime(string(c.End), p.Config().Location); err != nil {
			return nil, fmt.Errorf("end: %w", err)
		}
	} else {
		d, err := strconv.ParseFloat(string(c.Duration), 64)
		if err != nil || d < 0 || d > 1e7 {
			return nil, fmt.Errorf("end or duration is required (duration %q)", domain.Clip(string(c.Duration)))
		}
		end = start.Add(time.Duration(d * float64(time.Second)))
	}
	disp := strings.ToUpper(strings.TrimSpace(string(c.Disposition)))
	if disp == "" {
		return nil, errors.New("disposition is required")
	}

	call := webhooks.Call{InteractionID: interaction, Key: []string{uid, string(c.Sequence), string(c.Start)},
		Start: start, End: end, Direction: domain.DirectionOutgoing, Number: string(c.Dst),
		AgentID: extension(string(c.Channel)), Answered: disp == "ANSWERED", Reason: disp}
	if p.incoming(string(c.DContext)) {
		call.Direction, call.Number, call.AgentID = domain.DirectionIncoming, string(c.Src), extension(string(c.DstChannel))
		if call.Number == "" {
			call.Number = clidNumber(string(c.CLID))
		}
	}
	if strings.EqualFold(string(c.LastApp), "Queue") {
		q, _, _ := strings.Cut(strings.ReplaceAll(string(c.LastData), "|", ","), ",")
		call.QueueID = strings.TrimSpace(q)
	}
	evs, ok, err := p.Config().CallEvents(Name, p.Config().Region, call, now)
	if !ok || err != nil {
		return nil, err // !ok: an internal or anonymous call, no customer
	}
	if uid != interaction {
		return p.laterLeg(c, call, evs, now)
	}
	return []domain.Event{evs.StartedEvent, evs.EndedEvent}, nil
}

// laterLeg translates a CDR of a leg that is not the call's first (uniqueid is not the
// linkedid: a transfer, a queue's next attempt): its answer routes the call to the leg's
// agent (a leg nobody answered routes nothing), its end may be the call's, and it only
// infers the started (webhooks.WithInferredStarted), so that the first leg's CDR, when
// it arrives, keeps the call's start, original routing and queue.
func (p *Provider) laterLeg(c CDR, call webhooks.Call, leg webhooks.CallEvents, now time.Time) ([]domain.Event, error) {
	evs, err := webhooks.WithInferredStarted(Name, leg.EndedEvent, leg.Started, call.Start, now)
	if err != nil {
		return nil, err
	}
	sd := leg.Started
	if !call.Answered || sd.AgentID == "" {
		return evs, nil
	}
	at := call.Start
	if c.Answer != "" {
		if a, err := parseTime(string(c.Answer), p.Config().Location); err == nil {
			at = a
		}
	}
	r, err := domain.NewEvent(webhooks.EventID(Name, append(call.Key, "routed")...), domain.TypeInteractionRouted, at, leg.CustomerID, p.Config().Source,
		&domain.RoutedData{InteractionID: sd.InteractionID, Routing: sd.Routing, QueueID: sd.QueueID, AgentID: sd.AgentID}, now)
	if err != nil {
		return nil, err
	}
	return append(evs, r), nil
}

func (p *Provider) incoming(dcontext string) bool {
	return slices.ContainsFunc(p.Config().IncomingContexts, func(c string) bool { return strings.EqualFold(c, dcontext) })
}

// extension returns the numeric peer of a channel name ("PJSIP/1001-00000002" → "1001",
// "Local/1001@from-queue-00000001;1" → "1001"), or "" (a trunk, or no channel).
func extension(channel string) string {
	_, rest, ok := strings.Cut(channel, "/")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "@;"); i >= 0 {
		rest = rest[:i]
	} else if i := strings.LastIndexByte(rest, '-'); i > 0 {
		rest = rest[:i]
	}
	if rest == "" || len(rest) > 20 || strings.Trim(rest, "0123456789") != "" {
		return ""
	}
	return rest
}

// clidNumber returns the number of a caller id written `"Name" <number>`, or the whole.
func clidNumber(clid string) string {
	if i := strings.LastIndexByte(clid, '<'); i >= 0 {
		if j := strings.IndexByte(clid[i:], '>'); j > 0 {
			return clid[i+1 : i+j]
		}
	}
	return clid
}

// parseTime reads "2006-01-02 15:04:05" (in loc, optional fraction), RFC 3339, or Unix
// seconds.
func parseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("is required")
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", s, loc); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 && f < 1e11 {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (YYYY-MM-DD hh:mm:ss, RFC 3339 or Unix seconds)", domain.Clip(s))
}
