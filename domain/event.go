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
	MaxIDBytes       = 200      // any identifier
	MaxTextBytes     = 1000     // names, titles, reasons, campaign names, ...
	MaxNoteBytes     = 16 << 10 // a note's text
	MaxListItems     = 200      // participants, qualifications, answers, queues, ...
	FutureTolerance  = 5 * time.Minute
	RetentionMonths  = 3
)

// RetentionStart is the oldest occurred_at the ledger keeps at now: three calendar months
// back (CONTRACT.md §1).
func RetentionStart(now time.Time) time.Time { return now.AddDate(0, -RetentionMonths, 0) }

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
		TypeEmailOpened, TypeOrderCreated, TypeOrderUpdated, TypeSegmentJoined, TypeSegmentLeft,
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
		TypeInteractionLinked, TypeInteractionQualified, TypeSurveyAnswered, TypeInvoiceIssued, TypeEmailOpened:
		return true
	}
	return false
}

// IsTask reports whether the type is one of the task.* events.
func (t EventType) IsTask() bool { return strings.HasPrefix(t.s, "task.") }

// MarshalText writes the type's contract name.
func (t EventType) MarshalText() ([]byte, error) { return []byte(t.s), nil }

// Event is one validated envelope: built only by DecodeIncoming, DecodeStored or NewEvent,
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
	return decode(raw, now, false)
}

// DecodeStored reads an envelope taken from the stream, judging its retention window
// against publishedAt (the stream's own timestamp), so that a replay months later accepts
// what was valid when it was appended. The id is required.
func DecodeStored(raw []byte, publishedAt time.Time) (Event, error) {
	return decode(raw, publishedAt, true)
}

func decode(raw []byte, now time.Time, requireID bool) (Event, error) {
	if len(raw) > MaxEnvelopeBytes {
		return Event{}, invalid("envelope", "is %d bytes, more than the %d allowed", len(raw), MaxEnvelopeBytes)
	}
	var w wireEnvelope
	if err := strictUnmarshal(raw, &w, ""); err != nil {
		return Event{}, err
	}
	var ev Event
	if w.ID != nil && *w.ID != "" {
		id, err := uuid.Parse(*w.ID)
		if err != nil {
			return Event{}, invalid("id", "%q is not a UUID", clip(*w.ID))
		}
		ev.ID = id.String()
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
	at, err := time.Parse(time.RFC3339Nano, *w.OccurredAt)
	if err != nil {
		return Event{}, invalid("occurred_at", "%q is not an RFC 3339 time with offset", clip(*w.OccurredAt))
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
	p, err := decodePayload(t, data, ev.CustomerID)
	if err != nil {
		return Event{}, err
	}
	ev.Data = json.RawMessage(data)
	ev.Payload = p
	return ev, nil
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

// NewEvent builds an event from typed parts (task commands, webhook adapters), validating
// it exactly as DecodeIncoming would at now. data is marshalled to JSON.
func NewEvent(id string, t EventType, occurredAt time.Time, customerID, source string, data any, now time.Time) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("marshal %s data: %w", t, err)
	}
	env := map[string]any{"type": t.s, "occurred_at": occurredAt.UTC().Format(time.RFC3339Nano),
		"source": source, "data": json.RawMessage(raw)}
	if id != "" {
		env["id"] = id
	}
	if customerID != "" {
		env["customer_id"] = customerID
	}
	b, err := json.Marshal(env)
	if err != nil {
		return Event{}, fmt.Errorf("marshal %s envelope: %w", t, err)
	}
	return DecodeIncoming(b, now)
}

// WithID returns the event with id set; callers assign one (a UUIDv7) when the producer
// sent none.
func (e Event) WithID(id string) Event { e.ID = id; return e }

// Encode returns the canonical envelope as compact JSON: what the stream stores.
func (e Event) Encode() ([]byte, error) {
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
	var buf bytes.Buffer
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	if err := json.Compact(&buf, b); err != nil {
		return nil, fmt.Errorf("compact event %s: %w", e.ID, err)
	}
	return buf.Bytes(), nil
}

// strictUnmarshal decodes JSON and turns the decoder's errors into ValidationErrors that
// name the field (prefix is the path of raw within the envelope, e.g. "data").
func strictUnmarshal(raw []byte, v any, prefix string) error {
	if err := json.Unmarshal(raw, v); err != nil {
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

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// checkID validates an identifier: present (when required), at most MaxIDBytes, valid
// UTF-8 and free of control characters (the views use NUL as a key separator).
func checkID(field, s string, required bool) error {
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

func checkText(field, s string, max int) error {
	if len(s) > max {
		return invalid(field, "is %d bytes, more than the %d allowed", len(s), max)
	}
	if !utf8.ValidString(s) {
		return invalid(field, "is not valid UTF-8")
	}
	return nil
}
