package domain

import (
	"encoding/json"
	"reflect"
	"sync"
	"time"

	fastjson "github.com/segmentio/encoding/json"
)

// Why a second JSON library in domain: decoding the envelope is the largest single cost
// of ingest and of every view's replay (each event is decoded at ingest and again by the
// views), and encoding/json's reflection-driven decoder is most of it.
// github.com/segmentio/encoding/json reads JSON by encoding/json's rules (field names
// matched case-insensitively, the last of duplicate keys wins, RawMessage kept verbatim,
// the same type rules) several times faster, can leave strings in the input rather than
// copy each one, and does no I/O. It only runs on the success path: its errors differ in
// wording and offsets, so when it rejects, encoding/json decodes again and its error
// becomes the ValidationError, exactly as before. FuzzDecodeDifferential and
// FuzzEncodeDifferential hold the two paths to the same answers.

// codec chooses how envelopes are read and written. The zero value is the production
// codec; reference is encoding/json alone, what the fast path must agree with (tests).
type codec struct{ reference bool }

// unmarshal decodes raw into v (a wire struct from newWireEnvelope or newWireData) as
// encoding/json.Unmarshal would, returning encoding/json's own error when raw is rejected. The fast path does
// not copy: decoded strings, and RawMessages too when shareRaw is set, point into raw,
// which must therefore be the decoder's private copy that nobody writes to again.
func (c codec) unmarshal(raw []byte, v any, shareRaw bool) error {
	if !c.reference {
		flags := fastjson.DontCopyString
		if shareRaw {
			flags |= fastjson.DontCopyRawMessage
		}
		rest, err := fastjson.Parse(raw, v, flags)
		if err == nil && len(rest) == 0 {
			return nil
		}
		// Rejections are rare: start again from zero so that nothing the fast decoder
		// wrote before it stopped survives, and let encoding/json tell why.
		reflect.ValueOf(v).Elem().SetZero()
	}
	return json.Unmarshal(raw, v)
}

// encode writes e as encodeStd does, but by appending its six members in place: the
// envelope's shape is fixed, so the reflection of a general encoder is pure cost.
// Strings are escaped as encoding/json escapes them without HTML escaping (the
// differential fuzz tests hold the two to the same bytes).
func (c codec) encode(e Event) ([]byte, error) {
	if e.ID == "" {
		return nil, invalid("id", "is required to encode an event")
	}
	// encoding/json compacts a RawMessage and reports one that is not valid JSON; Data
	// as decode and NewEvent build it is already valid and compact, which the checks
	// below confirm. Anything else takes encoding/json's path and gets its error.
	if c.reference || len(e.Data) == 0 || !fastjson.Valid(e.Data) || hasInsignificantSpace(e.Data) {
		return e.encodeStd()
	}
	b := make([]byte, 0, len(`{"id":"","type":"","occurred_at":"","customer_id":"","source":"","data":}`)+
		len(e.ID)+len(e.Type.s)+len(time.RFC3339Nano)+len(e.CustomerID)+len(e.Source)+len(e.Data)+8)
	b = append(b, `{"id":`...)
	b = fastjson.AppendEscape(b, e.ID, 0)
	b = append(b, `,"type":`...)
	b = fastjson.AppendEscape(b, e.Type.s, 0)
	// A formatted time holds only digits, '-', '+', ':', '.', 'T' and 'Z': nothing to escape.
	b = append(b, `,"occurred_at":"`...)
	b = e.OccurredAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if e.CustomerID != "" {
		b = append(b, `,"customer_id":`...)
		b = fastjson.AppendEscape(b, e.CustomerID, 0)
	}
	if e.Source != "" {
		b = append(b, `,"source":`...)
		b = fastjson.AppendEscape(b, e.Source, 0)
	}
	b = append(b, `,"data":`...)
	b = append(b, e.Data...)
	return append(b, '}'), nil
}

// The wire structs read every member into a pointer field. encoding/json (and the fast
// decoder, which follows it) decodes a member into the value its pointer already points
// to, allocating only for a nil pointer, and sets the pointer to nil for a JSON null.
// Every reader treats a nil pointer and a pointer to a zero value alike (absent, null
// and "" are one case everywhere), so the fast path points each field at a slot of one
// block before decoding: one allocation, where each member present cost one. The
// reference codec starts from nil pointers, so the differential fuzz tests check that
// the two starts decode alike.

type presetEnvelope struct {
	w    wireEnvelope
	strs [5]string
}

func (c codec) newWireEnvelope() *wireEnvelope {
	if c.reference {
		return new(wireEnvelope)
	}
	p := new(presetEnvelope)
	w := &p.w
	for i, f := range [...]**string{&w.ID, &w.Type, &w.OccurredAt, &w.CustomerID, &w.Source} {
		*f = &p.strs[i]
	}
	return w
}

type presetData struct {
	w       wireData
	strs    [39]string // one per *string field of wireData (newWireData lists them)
	ints    [2]int64
	bools   [2]bool
	contact Contact
}

func (c codec) newWireData() *wireData {
	if c.reference {
		return new(wireData)
	}
	return new(presetData).preset()
}

// preset zeroes p and points every pointer of its wire struct at p's own slots.
func (p *presetData) preset() *wireData {
	*p = presetData{}
	w := &p.w
	for i, f := range [...]**string{&w.InteractionID, &w.Flow, &w.Direction, &w.Routing, &w.QueueID,
		&w.AgentID, &w.VoiceCampaign, &w.Template, &w.MessageID, &w.Status, &w.Reason, &w.Action,
		&w.CRMRecordID, &w.CaseID, &w.SurveyID, &w.InvoiceID, &w.Currency, &w.Reference, &w.OrderID,
		&w.SegmentID, &w.Name, &w.TaskID, &w.Title, &w.DueAt, &w.AssigneeID, &w.NoteID, &w.Text,
		&w.AuthorID, &w.FileID, &w.ContentType, &w.URL, &w.VisitID, &w.Source, &w.Channel,
		&w.FromCustomerID, &w.Role, &w.TeamID, &w.ActiveProfile, &w.ProfileID} {
		*f = &p.strs[i]
	}
	w.Size, w.DurationS = &p.ints[0], &p.ints[1]
	w.HistoryAccess, w.Inferred = &p.bools[0], &p.bools[1]
	w.Contact = &p.contact
	return w
}

// presetPool recycles the payload's wire struct (1.4 KB): decodePayload copies every
// value out of it before it returns (strings point into the envelope, lists were allocated
// by the decoder), and a fresh one per event was a tenth of the bytes a replay allocated.
var presetPool = sync.Pool{New: func() any { return new(presetData) }}
