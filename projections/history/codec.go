package history

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/interaction-ledger/ledger/domain"
)

// The stored interaction (bucket details, after the 8-byte start): a version byte, then
// every field of domain.Interaction in declaration order, strings and byte strings
// length-prefixed, times as unix seconds and nanoseconds, enums by their contract names.
// Surveys and invoices (rare, with nested json.Number) stay JSON inside it.
//
// Why not JSON: encoding/json was the largest single cost of Apply (reflection, quoting,
// RFC 3339 times, re-validating every event's raw data) and the decode of a stored
// interaction the largest cost of applying a later event of it; this codec is several
// times faster both ways and about half the bytes. A value starting with '{' is the
// former JSON form and is still read.
//
// TestDetailCodecCoversInteraction fails when domain.Interaction (or a struct inside it)
// gains a field this codec does not know, so that no field is silently dropped.
//
// Version 2 appends the customers the interaction ever carried (item 9 of issue 11:
// erasing one of them must find it). The writer stores in Events only a stub of the
// earliest event (id and time: what the fold reads of them), the events themselves
// being entries of their own (events.go); the codec writes whatever Events it is given.
// Version 3 appends an e-mail's first click and click count (email.clicked).
const (
	detailV1 = 1
	detailV2 = 2
	detailV3 = 3
)

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrs(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendStr(b, s)
	}
	return b
}

func appendStamp(b []byte, s domain.Stamp) []byte {
	return appendStr(appendTime(b, s.At), s.ID)
}

func appendLinks(b []byte, ls []domain.Link) []byte {
	b = binary.AppendUvarint(b, uint64(len(ls)))
	for _, l := range ls {
		b = appendStr(b, l.ID)
		if l.Assigned {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		b = appendStamp(b, l.Stamp)
	}
	return b
}

// appendJSON writes v as JSON when n > 0, else nothing (a zero length).
func appendJSON(b []byte, n int, v any) ([]byte, error) {
	if n == 0 {
		return append(b, 0), nil
	}
	js, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return appendBytes(b, js), nil
}

// encodeDetail appends the stored form of in, and of the customers it carried, to b.
func encodeDetail(b []byte, in *domain.Interaction, customers []string) ([]byte, error) {
	b = append(b, detailV3)
	b = appendStr(b, in.ID)
	b = appendStr(b, in.CustomerID)
	b = appendTime(b, in.StartAt)
	b = appendTime(b, in.EndAt)
	b = appendStr(b, in.Flow.String())
	b = appendStr(b, in.Status.String())
	b = appendStr(b, in.Reason)
	b = appendStr(b, in.Direction.String())
	b = appendStr(b, in.OriginalRouting.String())
	b = appendStr(b, in.CurrentRouting.String())
	b = appendStr(b, in.AgentID)
	b = appendStr(b, in.QueueID)
	b = appendStrs(b, in.Agents)
	b = appendStrs(b, in.Queues)
	b = appendStr(b, in.Contact.Phone)
	b = appendStr(b, in.Contact.Email)
	b = appendStr(b, in.VoiceCampaign)
	b = appendStr(b, in.Template)
	b = binary.AppendUvarint(b, uint64(len(in.Participants)))
	for _, p := range in.Participants {
		b = appendStr(appendStr(appendStr(b, p.Role), p.ID), p.Name)
	}
	b = appendBytes(b, in.SRData)
	b = appendStr(b, in.CRMRecord)
	b = appendStr(b, in.Case)
	b = appendLinks(b, in.CRMLinks)
	b = appendLinks(b, in.CaseLinks)
	b = appendStrs(b, in.Qualifications)
	var err error
	if b, err = appendJSON(b, len(in.Surveys), in.Surveys); err != nil {
		return nil, err
	}
	if b, err = appendJSON(b, len(in.Invoices), in.Invoices); err != nil {
		return nil, err
	}
	b = binary.AppendVarint(b, int64(in.MessageCount))
	b = appendTime(b, in.OpenedAt)
	b = binary.AppendVarint(b, int64(in.OpenCount))
	b = binary.AppendUvarint(b, uint64(len(in.Events)))
	for _, e := range in.Events {
		b = appendStr(b, e.ID)
		b = appendStr(b, e.Type)
		b = appendTime(b, e.OccurredAt)
		b = appendStr(b, e.Source)
		b = appendBytes(b, e.Data)
	}
	st := &in.Stamps
	for _, s := range [...]domain.Stamp{st.Started, st.Current, st.Ended, st.Customer, st.SRData, st.Qualified} {
		b = appendStamp(b, s)
	}
	b = appendStrs(b, customers)
	b = appendTime(b, in.ClickedAt)
	return binary.AppendVarint(b, int64(in.ClickCount)), nil
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	return advance(d, n, v)
}

func (d *decoder) time() time.Time {
	s := d.varint()
	ns := d.uvarint()
	if ns >= 1e9 {
		d.err = errCorrupt
		return time.Time{}
	}
	return time.Unix(s, int64(ns)).UTC()
}

// bytes returns a copy of a length-prefixed byte string (nil when empty): the caller may
// keep it beyond the transaction.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		d.b = nil
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]byte, n)
	copy(out, d.b)
	d.b = d.b[n:]
	return out
}

func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) { // every element takes at least one byte
		d.err = errCorrupt
		d.b = nil
		return 0
	}
	return int(n)
}

func (d *decoder) stamp() domain.Stamp {
	at := d.time()
	return domain.Stamp{At: at, ID: d.str()}
}

func (d *decoder) links() []domain.Link {
	n := d.count()
	if n == 0 {
		return nil
	}
	out := make([]domain.Link, n)
	for i := range out {
		out[i].ID = d.str()
		if len(d.b) == 0 {
			d.err = errCorrupt
			return nil
		}
		out[i].Assigned = d.b[0] == 1
		d.b = d.b[1:]
		out[i].Stamp = d.stamp()
	}
	return out
}

func enumOf[T any](d *decoder, byName map[string]T) T {
	s := d.raw()
	if len(s) == 0 {
		var zero T
		return zero
	}
	v, ok := byName[string(s)]
	if !ok {
		d.err = errCorrupt
	}
	return v
}

// raw returns a length-prefixed byte string without copying.
func (d *decoder) raw() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		d.b = nil
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

// eventTypes interns the event type names (one string per type, not one per event).
var eventTypes = func() map[string]string {
	m := map[string]string{}
	for _, t := range domain.EventTypes() {
		m[t.String()] = t.String()
	}
	return m
}()

func (d *decoder) eventType() string {
	s := d.raw()
	if t, ok := eventTypes[string(s)]; ok {
		return t
	}
	return string(s)
}

// decodeDetail reads a stored interaction (the value after its 8-byte start prefix) and
// the customers it carried (nil in the forms before version 2, which did not keep them).
func decodeDetail(val []byte, in *domain.Interaction) ([]string, error) {
	if len(val) > 0 && val[0] == '{' {
		return nil, json.Unmarshal(val, in) // the former JSON form
	}
	if len(val) == 0 || val[0] < detailV1 || val[0] > detailV3 {
		return nil, errCorrupt
	}
	d := decoder{b: val[1:]}
	in.ID = d.str()
	in.CustomerID = d.str()
	in.StartAt = d.time()
	in.EndAt = d.time()
	in.Flow = enumOf(&d, flowByName)
	in.Status = enumOf(&d, statusByName)
	in.Reason = d.str()
	in.Direction = enumOf(&d, directionByName)
	in.OriginalRouting = enumOf(&d, routingByName)
	in.CurrentRouting = enumOf(&d, routingByName)
	in.AgentID = d.str()
	in.QueueID = d.str()
	in.Agents = d.strs()
	in.Queues = d.strs()
	in.Contact.Phone = d.str()
	in.Contact.Email = d.str()
	in.VoiceCampaign = d.str()
	in.Template = d.str()
	if n := d.count(); n > 0 {
		in.Participants = make([]domain.Participant, n)
		for i := range in.Participants {
			p := &in.Participants[i]
			p.Role, p.ID, p.Name = d.str(), d.str(), d.str()
		}
	}
	in.SRData = d.bytes()
	in.CRMRecord = d.str()
	in.Case = d.str()
	in.CRMLinks = d.links()
	in.CaseLinks = d.links()
	in.Qualifications = d.strs()
	if js := d.raw(); len(js) > 0 && d.err == nil {
		if err := json.Unmarshal(js, &in.Surveys); err != nil {
			return nil, fmt.Errorf("surveys: %w", err)
		}
	}
	if js := d.raw(); len(js) > 0 && d.err == nil {
		if err := json.Unmarshal(js, &in.Invoices); err != nil {
			return nil, fmt.Errorf("invoices: %w", err)
		}
	}
	in.MessageCount = int(d.varint())
	in.OpenedAt = d.time()
	in.OpenCount = int(d.varint())
	if n := d.count(); n > 0 {
		in.Events = make([]domain.EventRecord, n)
		for i := range in.Events {
			e := &in.Events[i]
			e.ID = d.str()
			e.Type = d.eventType()
			e.OccurredAt = d.time()
			e.Source = d.str()
			e.Data = d.bytes()
		}
	}
	st := &in.Stamps
	for _, s := range [...]*domain.Stamp{&st.Started, &st.Current, &st.Ended, &st.Customer, &st.SRData, &st.Qualified} {
		*s = d.stamp()
	}
	var customers []string
	if val[0] >= detailV2 {
		customers = d.strs()
	}
	if val[0] >= detailV3 {
		in.ClickedAt = d.time()
		in.ClickCount = int(d.varint())
	}
	if d.err == nil && len(d.b) != 0 {
		return nil, errCorrupt
	}
	return customers, d.err
}
