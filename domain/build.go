package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// NewEvent builds an event from a typed payload: how the producers inside the ledger
// (webhook adapters, commands, the scenario generator) make events. It validates exactly
// as DecodeIncoming would at now (the payload is checked by the decoder's own rules, on
// the one encoding that becomes Event.Data), so an event built here and one decoded from
// the same JSON are equal. The payload must be the data of t (a *TaskData for task.*, …);
// a nil payload is allowed for the types whose data may be empty (customer.erased).
// ext are the producer's own extra fields, written after the payload's (see Extension).
func NewEvent(id string, t EventType, occurredAt time.Time, customerID, source string, p Payload, now time.Time, ext ...Extension) (Event, error) {
	ev := Event{Type: t, OccurredAt: occurredAt.UTC(), CustomerID: customerID, Source: source}
	if id != "" {
		u, err := uuid.Parse(id)
		if err != nil {
			return Event{}, invalid("id", "%q is not a UUID", Clip(id))
		}
		ev.ID = u.String()
	}
	if t.IsZero() {
		return Event{}, invalid("type", "is required")
	}
	if err := CheckWindow(ev.OccurredAt, now); err != nil {
		return Event{}, err
	}
	if t.IsDirectory() {
		if customerID != "" {
			return Event{}, invalid("customer_id", "must be absent for %s (directory records are not customer-scoped)", t)
		}
	} else if err := checkID("customer_id", customerID, true); err != nil {
		return Event{}, err
	}
	if err := checkText("source", source, MaxTextBytes); err != nil {
		return Event{}, err
	}
	if p == nil {
		if t != TypeCustomerErased {
			return Event{}, invalid("data", "is required for %s", t)
		}
		p = &ErasedData{}
	}
	if !fits(t, p) {
		return Event{}, invalid("data", "a %T is not the data of %s", p, t)
	}
	w := p.wire()
	data, err := json.Marshal(&w)
	if err != nil {
		// Only an sr_data or a change that is not JSON gets here.
		return Event{}, invalid("data", "cannot be encoded: %v", err)
	}
	if len(ext) > 0 {
		if data, err = appendExtensions(data, ext); err != nil {
			return Event{}, err
		}
	}
	// Checked on its encoding by the decoder itself: the rules are one piece of code, and
	// the payload kept is what a replay of Data will read (e.g. DueAt in UTC).
	if ev.Payload, err = (codec{}).decodePayload(t, data, customerID); err != nil {
		return Event{}, err
	}
	// The payload's strings may point into data (see codec.unmarshal): the event gets a
	// copy of its own, which its holder may write to.
	ev.Data = bytes.Clone(data)
	if err := checkSize(ev); err != nil {
		return Event{}, err
	}
	return ev, nil
}

// Extension is a field a producer adds to an event's data beside the catalog's (a
// provider's own status, a conversation id): CONTRACT.md lets producers extend the data,
// the ledger keeps such fields in Event.Data and no view reads them.
type Extension struct {
	Key   string
	Value any // marshalled with encoding/json
}

// appendExtensions writes ext into the JSON object data. A key the payload already
// wrote, or one given twice, is refused: JSON with a repeated key reads differently from
// one decoder to the next.
func appendExtensions(data []byte, ext []Extension) ([]byte, error) {
	var have map[string]json.RawMessage
	if err := json.Unmarshal(data, &have); err != nil {
		return nil, fmt.Errorf("read back encoded data: %w", err)
	}
	out := data[:len(data)-1] // without the closing brace
	for _, e := range ext {
		field := "data." + e.Key
		if err := checkID(field, e.Key, true); err != nil {
			return nil, err
		}
		if _, dup := have[e.Key]; dup {
			return nil, invalid(field, "is written twice (by the payload or another extension)")
		}
		have[e.Key] = nil
		v, err := json.Marshal(e.Value)
		if err != nil {
			return nil, invalid(field, "cannot be encoded: %v", err)
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		k, _ := json.Marshal(e.Key) // a string always marshals
		out = append(append(append(out, k...), ':'), v...)
	}
	return append(out, '}'), nil
}

// checkSize refuses an event whose envelope would be larger than DecodeIncoming accepts.
// Most events are far below the limit: only those that may be near it are encoded to
// measure (escaping can make customer_id and source up to six times longer).
func checkSize(ev Event) error {
	if len(ev.Data)+6*(len(ev.CustomerID)+len(ev.Source))+256 <= MaxEnvelopeBytes {
		return nil
	}
	if ev.ID == "" {
		ev.ID = uuid.Nil.String()
	}
	b, err := ev.Encode()
	if err != nil {
		return err
	}
	if len(b) > MaxEnvelopeBytes {
		return invalid("envelope", "is %d bytes, more than the %d allowed", len(b), MaxEnvelopeBytes)
	}
	return nil
}

// NewEventFromData builds an event from untyped data (a map, a struct with JSON tags), as
// if its envelope had come over HTTP: for tests and tools that need fields the ledger does
// not type. The producers inside the ledger use NewEvent.
func NewEventFromData(id string, t EventType, occurredAt time.Time, customerID, source string, data any, now time.Time) (Event, error) {
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

// fits reports whether p is the data of t.
func fits(t EventType, p Payload) bool {
	switch p.(type) {
	case *StartedData:
		return t == TypeInteractionStarted
	case *RoutedData:
		return t == TypeInteractionRouted
	case *MessageData:
		return t == TypeInteractionMessage
	case *EndedData:
		return t == TypeInteractionEnded
	case *LinkedData:
		return t == TypeInteractionLinked
	case *QualifiedData:
		return t == TypeInteractionQualified
	case *SurveyData:
		return t == TypeSurveyAnswered
	case *InvoiceData:
		return t == TypeInvoiceIssued
	case *OpenedData:
		return t == TypeEmailOpened
	case *ClickedData:
		return t == TypeEmailClicked
	case *OrderData:
		return t == TypeOrderCreated || t == TypeOrderUpdated
	case *SegmentData:
		return t == TypeSegmentJoined || t == TypeSegmentLeft
	case *TaskData:
		return t.IsTask()
	case *NoteData:
		return t == TypeNoteAdded
	case *FileData:
		return t == TypeFileAttached
	case *VisitData:
		return t == TypeVisitRecorded
	case *CustomerUpdatedData:
		return t == TypeCustomerUpdated
	case *MergedData:
		return t == TypeCustomerMerged
	case *ErasedData:
		return t == TypeCustomerErased
	case *AgentData:
		return t == TypeDirectoryAgent
	case *TeamData:
		return t == TypeDirectoryTeam
	case *ProfileData:
		return t == TypeDirectoryProfile
	}
	return false
}

// opt is the wire form of an optional string: absent when empty.
func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// optEnum is the wire form of a closed value: absent when zero, so that a required one
// is reported as missing.
func optEnum(e enum) *string { return opt(e.s) }

// optNumber is the wire form of a decimal kept as text: a JSON number, or, when the text
// is not one, a string that the decoder then rejects naming the field.
func optNumber(n json.Number) json.RawMessage {
	switch s := n.String(); {
	case s == "":
		return nil
	case json.Valid([]byte(s)) && s[0] != '"':
		return json.RawMessage(s)
	default:
		b, _ := json.Marshal(s) // a string always marshals
		return b
	}
}

// optList keeps an empty list absent, as the decoder reads it.
func optList[T any](vs []T) []T {
	if len(vs) == 0 {
		return nil
	}
	return vs
}

func optInt(v int64) *int64 {
	if v == 0 {
		return nil
	}
	return &v
}

func (d *StartedData) wire() wireData {
	w := wireData{InteractionID: opt(d.InteractionID), Flow: optEnum(d.Flow.enum), Direction: optEnum(d.Direction.enum),
		Routing: optEnum(d.Routing.enum), QueueID: opt(d.QueueID), AgentID: opt(d.AgentID),
		VoiceCampaign: opt(d.VoiceCampaign), Template: opt(d.Template), Participants: optList(d.Participants)}
	if d.Inferred {
		w.Inferred = &d.Inferred
	}
	if !d.Contact.IsZero() {
		c := d.Contact
		w.Contact = &c
	}
	return w
}

func (d *RoutedData) wire() wireData {
	return wireData{InteractionID: opt(d.InteractionID), Routing: optEnum(d.Routing.enum), QueueID: opt(d.QueueID),
		AgentID: opt(d.AgentID), SRData: optList(d.SRData)}
}

func (d *MessageData) wire() wireData {
	return wireData{InteractionID: opt(d.InteractionID), Direction: optEnum(d.Direction.enum), MessageID: opt(d.MessageID)}
}

func (d *EndedData) wire() wireData {
	return wireData{InteractionID: opt(d.InteractionID), Status: optEnum(d.Status.enum), Reason: opt(d.Reason)}
}

func (d *LinkedData) wire() wireData {
	return wireData{InteractionID: opt(d.InteractionID), Action: optEnum(d.Action.enum),
		CRMRecordID: opt(d.CRMRecordID), CaseID: opt(d.CaseID), AgentID: opt(d.AgentID)}
}

func (d *QualifiedData) wire() wireData {
	return wireData{InteractionID: opt(d.InteractionID), Qualifications: optList(d.Qualifications)}
}

func (d *SurveyData) wire() wireData {
	return wireData{InteractionID: opt(d.InteractionID), SurveyID: opt(d.SurveyID), Answers: optList(d.Answers)}
}

func (d *InvoiceData) wire() wireData {
	return wireData{InteractionID: opt(d.InteractionID), InvoiceID: opt(d.InvoiceID), Amount: optNumber(d.Amount),
		Currency: opt(d.Currency), Status: opt(d.Status), Reference: opt(d.Reference), AgentID: opt(d.AgentID)}
}

func (d *OpenedData) wire() wireData { return wireData{InteractionID: opt(d.InteractionID)} }

func (d *ClickedData) wire() wireData {
	return wireData{InteractionID: opt(d.InteractionID), URL: opt(d.URL)}
}

func (d *OrderData) wire() wireData {
	w := wireData{OrderID: opt(d.OrderID), Status: opt(d.Status), Total: optNumber(d.Total), Currency: opt(d.Currency)}
	if len(d.Changes) > 0 {
		w.Changes = d.Changes
	}
	return w
}

func (d *SegmentData) wire() wireData {
	return wireData{SegmentID: opt(d.SegmentID), Name: opt(d.Name)}
}

func (d *TaskData) wire() wireData {
	w := wireData{TaskID: opt(d.TaskID), Title: opt(d.Title), AssigneeID: opt(d.AssigneeID)}
	if d.DueAt != nil {
		w.DueAt = opt(d.DueAt.UTC().Format(time.RFC3339Nano))
	}
	return w
}

func (d *NoteData) wire() wireData {
	return wireData{NoteID: opt(d.NoteID), Text: opt(d.Text), AuthorID: opt(d.AuthorID)}
}

func (d *FileData) wire() wireData {
	return wireData{FileID: opt(d.FileID), Name: opt(d.Name), Size: optInt(d.Size), ContentType: opt(d.ContentType), URL: opt(d.URL)}
}

// wire writes the pages as a list when there is one, else their count: the two forms a
// producer may send. PageCount is not written beside a list (the list's length is it).
func (d *VisitData) wire() wireData {
	w := wireData{VisitID: opt(d.VisitID), Source: opt(d.Source), Channel: opt(d.Channel), DurationS: optInt(d.DurationS)}
	switch {
	case len(d.Pages) > 0:
		w.Pages, _ = json.Marshal(d.Pages) // a []string always marshals
	case d.PageCount != 0:
		w.Pages = json.RawMessage(fmt.Sprint(d.PageCount))
	}
	return w
}

func (d *CustomerUpdatedData) wire() wireData {
	if len(d.Changes) == 0 {
		return wireData{}
	}
	return wireData{Changes: d.Changes}
}

func (d *MergedData) wire() wireData { return wireData{FromCustomerID: opt(d.FromCustomerID)} }

func (*ErasedData) wire() wireData { return wireData{} }

func (d *AgentData) wire() wireData {
	return wireData{AgentID: opt(d.AgentID), Role: optEnum(d.Role.enum), Name: opt(d.Name), TeamID: opt(d.TeamID),
		ActiveProfile: opt(d.ActiveProfileID), Buttons: optList(d.Buttons)}
}

func (d *TeamData) wire() wireData {
	return wireData{TeamID: opt(d.TeamID), Name: opt(d.Name), ManagerIDs: optList(d.ManagerIDs)}
}

func (d *ProfileData) wire() wireData {
	w := wireData{ProfileID: opt(d.ProfileID), Name: opt(d.Name), Queues: optList(d.Queues), HistoryAccess: &d.HistoryAccess,
		Buttons: optList(d.Buttons)}
	for _, f := range d.Flows {
		w.Flows = append(w.Flows, f.s)
	}
	return w
}
