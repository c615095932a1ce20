package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Limits on what one envelope may carry. They keep a producer's mistake from becoming a
// view's problem; each rejection names the field.
const (
	MaxEnvelopeBytes = 64 << 10 // one envelope, as JSON
	// MaxStoredEnvelopeBytes bounds an envelope read back from the stream: an accepted
	// envelope's canonical encoding may be longer than what the producer sent (an assigned
	// id, U+2028/U+2029 escaped in customer_id and source: at most about 1.3 KiB more).
	MaxStoredEnvelopeBytes = MaxEnvelopeBytes + 2<<10
	MaxIDBytes             = 200      // any identifier
	MaxTextBytes           = 1000     // names, titles, reasons, campaign names, ...
	MaxNoteBytes           = 16 << 10 // a note's text
	MaxURLBytes            = 2048     // a file's or a clicked link's URL
	MaxListItems           = 200      // participants, qualifications, answers, queues, ...
	FutureTolerance        = 5 * time.Minute
	RetentionMonths        = 3
)

// RetentionStart is the oldest occurred_at the ledger keeps at now: three calendar months
// back (CONTRACT.md §1), the day clamped to that month's last (31 May gives 28 or 29
// February, where AddDate would overflow into 3 March).
func RetentionStart(now time.Time) time.Time {
	y, m, d := now.Date()
	if last := time.Date(y, m-RetentionMonths+1, 0, 0, 0, 0, 0, now.Location()).Day(); d > last {
		d = last
	}
	return time.Date(y, m-RetentionMonths, d, now.Hour(), now.Minute(), now.Second(), now.Nanosecond(), now.Location())
}

// EventType names an entry of the event catalog (CONTRACT.md §2). Values are the
// contract's strings, written out, never derived from Go type names.
type EventType struct{ enum }

// The event catalog.
var (
	TypeInteractionStarted   = EventType{enum{"interaction.started"}}
	TypeInteractionRouted    = EventType{enum{"interaction.routed"}}
	TypeInteractionMessage   = EventType{enum{"interaction.message"}}
	TypeInteractionEnded     = EventType{enum{"interaction.ended"}}
	TypeInteractionLinked    = EventType{enum{"interaction.linked"}}
	TypeInteractionQualified = EventType{enum{"interaction.qualified"}}
	TypeSurveyAnswered       = EventType{enum{"survey.answered"}}
	TypeInvoiceIssued        = EventType{enum{"invoice.issued"}}
	TypeEmailOpened          = EventType{enum{"email.opened"}}
	TypeEmailClicked         = EventType{enum{"email.clicked"}}
	TypeOrderCreated         = EventType{enum{"order.created"}}
	TypeOrderUpdated         = EventType{enum{"order.updated"}}
	TypeSegmentJoined        = EventType{enum{"segment.joined"}}
	TypeSegmentLeft          = EventType{enum{"segment.left"}}
	TypeTaskCreated          = EventType{enum{"task.created"}}
	TypeTaskUpdated          = EventType{enum{"task.updated"}}
	TypeTaskCompleted        = EventType{enum{"task.completed"}}
	TypeTaskReopened         = EventType{enum{"task.reopened"}}
	TypeTaskDeleted          = EventType{enum{"task.deleted"}}
	TypeNoteAdded            = EventType{enum{"note.added"}}
	TypeFileAttached         = EventType{enum{"file.attached"}}
	TypeVisitRecorded        = EventType{enum{"visit.recorded"}}
	TypeCustomerUpdated      = EventType{enum{"customer.updated"}}
	TypeCustomerMerged       = EventType{enum{"customer.merged"}}
	TypeCustomerErased       = EventType{enum{"customer.erased"}}
	TypeDirectoryAgent       = EventType{enum{"directory.agent"}}
	TypeDirectoryTeam        = EventType{enum{"directory.team"}}
	TypeDirectoryProfile     = EventType{enum{"directory.profile"}}
)

// EventTypes lists the whole catalog.
func EventTypes() []EventType {
	return []EventType{
		TypeInteractionStarted, TypeInteractionRouted, TypeInteractionMessage, TypeInteractionEnded,
		TypeInteractionLinked, TypeInteractionQualified, TypeSurveyAnswered, TypeInvoiceIssued,
		TypeEmailOpened, TypeEmailClicked, TypeOrderCreated, TypeOrderUpdated, TypeSegmentJoined, TypeSegmentLeft,
		TypeTaskCreated, TypeTaskUpdated, TypeTaskCompleted, TypeTaskReopened, TypeTaskDeleted,
		TypeNoteAdded, TypeFileAttached, TypeVisitRecorded, TypeCustomerUpdated, TypeCustomerMerged,
		TypeCustomerErased, TypeDirectoryAgent, TypeDirectoryTeam, TypeDirectoryProfile,
	}
}

// ParseEventType returns the catalog entry named s, or an *EnumError.
func ParseEventType(s string) (EventType, error) { return parseEnum("event type", s, EventTypes()) }

// IsDirectory reports whether the type is reference data (directory.*): not
// customer-scoped and never expired.
func (t EventType) IsDirectory() bool { return strings.HasPrefix(t.s, "directory.") }

// IsInteraction reports whether the type belongs to one interaction (it carries
// data.interaction_id).
func (t EventType) IsInteraction() bool {
	switch t {
	case TypeInteractionStarted, TypeInteractionRouted, TypeInteractionMessage, TypeInteractionEnded,
		TypeInteractionLinked, TypeInteractionQualified, TypeSurveyAnswered, TypeInvoiceIssued, TypeEmailOpened,
		TypeEmailClicked:
		return true
	}
	return false
}

// IsTask reports whether the type is one of the task.* events.
func (t EventType) IsTask() bool { return strings.HasPrefix(t.s, "task.") }

// IsAction reports whether the type is one that the commands on an interaction append
// (interaction.linked, invoice.issued). The event store files these under a key of their
// interaction, as it files task events under a key of their task, so that a command can
// append on the condition that nothing else changed that interaction meanwhile.
func (t EventType) IsAction() bool { return t == TypeInteractionLinked || t == TypeInvoiceIssued }

// MarshalText writes the type's contract name.
func (t EventType) MarshalText() ([]byte, error) { return []byte(t.s), nil }

// Event is one validated envelope: built only by DecodeIncoming, DecodeStored, NewEvent or
// NewEventFromData,
// so its fields hold what the contract allows. Data keeps the producer's own bytes (extra
// fields included) and Payload their typed, validated reading.
type Event struct {
	ID         string
	Type       EventType
	OccurredAt time.Time
	CustomerID string
	Source     string
	Data       json.RawMessage
	Payload    Payload
}

// wireEnvelope is the JSON shape of CONTRACT.md §1, read leniently so that each problem
// can be reported against its field.
type wireEnvelope struct {
	ID         *string         `json:"id"`
	Type       *string         `json:"type"`
	OccurredAt *string         `json:"occurred_at"`
	CustomerID *string         `json:"customer_id"`
	Source     *string         `json:"source"`
	Data       json.RawMessage `json:"data"`
}

// DecodeIncoming reads one envelope from outside (HTTP, a webhook adapter) at time now.
// A missing id is left empty for the caller to assign (a UUIDv7); occurred_at must lie in
// the retention window around now.
func DecodeIncoming(raw []byte, now time.Time) (Event, error) {
	return codec{}.decode(raw, now, false)
}

// DecodeStored reads an envelope taken from the stream, judging its retention window
// against publishedAt (the stream's own timestamp), so that a replay months later accepts
// what was valid when it was appended. The id is required.
func DecodeStored(raw []byte, publishedAt time.Time) (Event, error) {
	return codec{}.decode(raw, publishedAt, true)
}

func (c codec) decode(raw []byte, now time.Time, stored bool) (Event, error) {
	requireID, maxBytes := stored, MaxEnvelopeBytes
	if stored {
		maxBytes = MaxStoredEnvelopeBytes
	}
	if len(raw) > maxBytes {
		return Event{}, invalid("envelope", "is %d bytes, more than the %d allowed", len(raw), maxBytes)
	}
	if err := checkUTF8(raw); err != nil {
		return Event{}, err
	}
	// One private copy of the input, which the decoded strings then point into instead
	// of being allocated one by one (see codec.unmarshal); the caller keeps raw. The
	// price: a string kept from the event keeps that copy (the envelope's size) alive,
	// so a long-lived cache of a few strings of many events should strings.Clone them.
	raw = bytes.Clone(raw)
	w := c.newWireEnvelope()
	// w.Data may point into raw: it is read from, then copied into the event.
	if err := c.strictUnmarshal(raw, w, "", true); err != nil {
		return Event{}, err
	}
	var ev Event
	if w.ID != nil && *w.ID != "" {
		if !c.reference && isCanonicalUUID(*w.ID) {
			ev.ID = *w.ID // what uuid.Parse and String would give back
		} else {
			id, err := uuid.Parse(*w.ID)
			if err != nil {
				return Event{}, invalid("id", "%q is not a UUID", Clip(*w.ID))
			}
			ev.ID = id.String()
		}
	} else if requireID {
		return Event{}, invalid("id", "is required")
	}
	if w.Type == nil || *w.Type == "" {
		return Event{}, invalid("type", "is required")
	}
	t, err := ParseEventType(*w.Type)
	if err != nil {
		return Event{}, &ValidationError{Field: "type", Problem: err.Error(), cause: err}
	}
	ev.Type = t
	if w.OccurredAt == nil || *w.OccurredAt == "" {
		return Event{}, invalid("occurred_at", "is required")
	}
	at, err := ParseTime(*w.OccurredAt)
	if err != nil {
		return Event{}, invalid("occurred_at", "%q is not an RFC 3339 time with offset", Clip(*w.OccurredAt))
	}
	ev.OccurredAt = at.UTC()
	if err := CheckWindow(ev.OccurredAt, now); err != nil {
		return Event{}, err
	}
	if w.CustomerID != nil {
		ev.CustomerID = *w.CustomerID
	}
	if t.IsDirectory() {
		if ev.CustomerID != "" {
			return Event{}, invalid("customer_id", "must be absent for %s (directory records are not customer-scoped)", t)
		}
	} else if err := checkID("customer_id", ev.CustomerID, true); err != nil {
		return Event{}, err
	}
	if w.Source != nil {
		ev.Source = *w.Source
		if err := checkText("source", ev.Source, MaxTextBytes); err != nil {
			return Event{}, err
		}
	}
	data := bytes.TrimSpace(w.Data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		data = []byte("{}")
	}
	if data[0] != '{' {
		return Event{}, invalid("data", "must be a JSON object")
	}
	// Keep the producer's bytes minus insignificant whitespace: the canonical form that
	// Encode writes, so that a live event and its replay carry the same Data. What the
	// ledger stored is already compact: only rewrite data that is not (a byte scan is
	// far cheaper than json.Compact, and this runs once per event per view).
	if hasInsignificantSpace(data) {
		var compact bytes.Buffer
		if err := json.Compact(&compact, data); err != nil {
			return Event{}, invalid("data", "malformed JSON: %v", err)
		}
		data = compact.Bytes()
	}
	p, err := c.decodePayload(t, data, ev.CustomerID)
	if err != nil {
		return Event{}, err
	}
	// The payload's strings may point into data: Data is a copy of its own, so that a
	// caller who writes into ev.Data cannot change them.
	ev.Data = json.RawMessage(bytes.Clone(data))
	ev.Payload = p
	return ev, nil
}

// isCanonicalUUID reports whether s is a UUID as uuid.UUID.String writes it: 8-4-4-4-12
// lower-case hex digits. Every stored id is; such an id needs neither uuid.Parse nor a
// new string.
func isCanonicalUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// CheckWindow reports whether occurred_at lies between RetentionStart(now) and
// now+FutureTolerance; the error is a *ValidationError wrapping ErrOutsideWindow.
func CheckWindow(occurredAt, now time.Time) error {
	if start := RetentionStart(now); occurredAt.Before(start) {
		return &ValidationError{Field: "occurred_at", cause: ErrOutsideWindow,
			Problem: fmt.Sprintf("%s is older than the %d-month retention window (starts %s)",
				occurredAt.Format(time.RFC3339), RetentionMonths, start.UTC().Format(time.RFC3339))}
	}
	if limit := now.Add(FutureTolerance); occurredAt.After(limit) {
		return &ValidationError{Field: "occurred_at", cause: ErrOutsideWindow,
			Problem: fmt.Sprintf("%s is more than %s in the future", occurredAt.Format(time.RFC3339), FutureTolerance)}
	}
	return nil
}

// WithID returns the event with id set; callers assign one (a UUIDv7) when the producer
// sent none.
func (e Event) WithID(id string) Event { e.ID = id; return e }

// Encode returns the canonical envelope as compact JSON: what the stream stores.
func (e Event) Encode() ([]byte, error) { return codec{}.encode(e) }

// encodeStd is Encode by encoding/json alone: the reference that codec.encode's fast
// path must match byte for byte, and its way of handling what the fast path does not
// (Data that is missing, not compact or not valid JSON).
func (e Event) encodeStd() ([]byte, error) {
	out := struct {
		ID         string          `json:"id"`
		Type       string          `json:"type"`
		OccurredAt string          `json:"occurred_at"`
		CustomerID string          `json:"customer_id,omitempty"`
		Source     string          `json:"source,omitempty"`
		Data       json.RawMessage `json:"data"`
	}{e.ID, e.Type.s, e.OccurredAt.UTC().Format(time.RFC3339Nano), e.CustomerID, e.Source, e.Data}
	if out.ID == "" {
		return nil, invalid("id", "is required to encode an event")
	}
	// No HTML escaping: Data is written as decode kept it (compact), so that
	// DecodeStored(Encode(e)) gives e back byte for byte.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// strictUnmarshal decodes JSON and turns the decoder's errors into ValidationErrors that
// name the field (prefix is the path of raw within the envelope, e.g. "data").
func (c codec) strictUnmarshal(raw []byte, v any, prefix string, shareRaw bool) error {
	if err := c.unmarshal(raw, v, shareRaw); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			field := te.Field
			if prefix != "" {
				field = prefix + "." + field
			}
			if field == "" {
				field = prefixOr(prefix, "envelope")
			}
			return invalid(field, "must be %s, not a JSON %s", jsonKind(te.Type.Kind().String()), te.Value)
		case errors.As(err, &se):
			return invalid(prefixOr(prefix, "envelope"), "malformed JSON at byte %d: %v", se.Offset, se)
		default:
			return invalid(prefixOr(prefix, "envelope"), "malformed JSON: %v", err)
		}
	}
	return nil
}

func prefixOr(p, def string) string {
	if p == "" {
		return def
	}
	return p
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "map", "struct":
		return "an object"
	case "ptr":
		return "a value of the right type"
	default:
		return "a number"
	}
}

// checkID validates an identifier: present (when required), at most MaxIDBytes, valid
// UTF-8 and free of control characters (the views use NUL as a key separator).
func checkID(field, s string, required bool) *ValidationError {
	if s == "" {
		if required {
			return invalid(field, "is required")
		}
		return nil
	}
	if len(s) > MaxIDBytes {
		return invalid(field, "is %d bytes, more than the %d allowed", len(s), MaxIDBytes)
	}
	if !utf8.ValidString(s) {
		return invalid(field, "is not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return invalid(field, "contains a control character")
		}
	}
	return nil
}

// ParseTime reads an RFC 3339 date-time with offset (section 5.6) strictly, as the
// envelope's times are read: for commands that take a time from a person. time.Parse
// alone also takes one-digit hours ("T9:14:03Z"), a comma before the fraction, and
// offsets such as +24:00 or +01:60. The shape is checked by hand: this runs for every
// event, and a regexp was a measurable share of decoding.
func ParseTime(s string) (time.Time, error) {
	if !isRFC3339(s) {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", s)
	}
	return time.Parse(time.RFC3339Nano, s)
}

// isRFC3339 matches YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM) with HH of the offset 00-23
// and its MM 00-59.
func isRFC3339(s string) bool {
	digits := func(from, to int) bool {
		for i := from; i < to; i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	if len(s) < 20 || !digits(0, 4) || s[4] != '-' || !digits(5, 7) || s[7] != '-' || !digits(8, 10) ||
		s[10] != 'T' || !digits(11, 13) || s[13] != ':' || !digits(14, 16) || s[16] != ':' || !digits(17, 19) {
		return false
	}
	i := 19
	if s[i] == '.' {
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i+1 {
			return false
		}
		i = j
	}
	rest := s[i:]
	if rest == "Z" {
		return true
	}
	if len(rest) != 6 || (rest[0] != '+' && rest[0] != '-') || rest[3] != ':' {
		return false
	}
	h1, h2, m1, m2 := rest[1], rest[2], rest[4], rest[5]
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	if !isDigit(h1) || !isDigit(h2) || !isDigit(m1) || !isDigit(m2) {
		return false
	}
	return (h1 < '2' || (h1 == '2' && h2 <= '3')) && m1 <= '5'
}

// hasInsignificantSpace reports whether valid JSON text has whitespace outside its
// strings. It runs for every decoded and encoded event, so it leans on bytes.IndexByte
// and bytes.Count, which
// look at many bytes at once: inside a JSON string, tab, newline and carriage return
// must be escaped, so any of them is outside one; a space is outside a string when an
// even number of quotes precedes it, which text without backslashes (no \" escapes),
// the common case, allows to count.
func hasInsignificantSpace(b []byte) bool {
	if bytes.IndexByte(b, '\n') >= 0 || bytes.IndexByte(b, '\t') >= 0 || bytes.IndexByte(b, '\r') >= 0 {
		return true
	}
	if bytes.IndexByte(b, '\\') >= 0 {
		return spaceOutsideStrings(b)
	}
	for {
		i := bytes.IndexByte(b, ' ')
		if i < 0 {
			return false
		}
		if bytes.Count(b[:i], []byte{'"'})%2 == 0 {
			return true
		}
		// The space is inside a string: go on after its closing quote.
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return true
		}
		b = b[i+j+1:]
	}
}

// spaceOutsideStrings is hasInsignificantSpace for text with escapes, byte by byte.
func spaceOutsideStrings(b []byte) bool {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case ' ', '\n', '\r', '\t':
			return true
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		}
	}
	return false
}

func checkText(field, s string, max int) *ValidationError {
	if len(s) > max {
		return invalid(field, "is %d bytes, more than the %d allowed", len(s), max)
	}
	if !utf8.ValidString(s) {
		return invalid(field, "is not valid UTF-8")
	}
	return nil
}
