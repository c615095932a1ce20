package domain

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeIncoming: DecodeIncoming never panics; a rejection is always a
// *ValidationError that names a field; an accepted envelope encodes, and reads back from
// the stream as the very same event, whose encoding is a fixed point.
//
//	go test -fuzz=FuzzDecodeIncoming -fuzztime=30s ./domain/
func FuzzDecodeIncoming(f *testing.F) {
	for _, raw := range decodeSeeds() {
		if len(raw) < 4<<10 {
			f.Add(raw)
		}
	}

	f.Fuzz(func(t *testing.T, raw []byte) {
		_, _ = DecodeStored(raw, testNow) // must not panic either
		ev, err := DecodeIncoming(raw, testNow)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("rejection is %T %v, want a *ValidationError", err, err)
			}
			if ve.Field == "" || ve.Problem == "" {
				t.Fatalf("rejection %#v does not name its field and problem", ve)
			}
			if !reflect.DeepEqual(ev, Event{}) {
				t.Fatalf("rejection returned an event %#v", ev)
			}
			return
		}
		if ev.Payload == nil || ev.Type.IsZero() || ev.OccurredAt.IsZero() {
			t.Fatalf("accepted an incomplete event %#v", ev)
		}
		if !utf8.Valid(raw) {
			t.Fatalf("accepted invalid UTF-8: %q", raw)
		}
		if ev.ID == "" {
			ev = ev.WithID(testID)
		}
		b, err := ev.Encode()
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		back, err := DecodeStored(b, testNow)
		if err != nil {
			t.Fatalf("DecodeStored(Encode(ev)) = %v\nencoded: %q\nraw:     %q", err, b, raw)
		}
		if !reflect.DeepEqual(back, ev) {
			t.Fatalf("round trip differs\n got %#v\nwant %#v\nencoded: %q", back, ev, b)
		}
		again, err := back.Encode()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("Encode is not a fixed point: %q, %v; want %q", again, err, b)
		}
	})
}

// decodeSeeds returns every envelope of the decode tests (valid, accepted at an edge,
// rejected, invalid UTF-8) and a few odd ones: the seed corpus of the decode fuzzers.
func decodeSeeds() [][]byte {
	var out [][]byte
	for _, tc := range validCases() {
		out = append(out, rawEnvelope(tc.typ, tc.data))
	}
	for _, tc := range acceptCases() {
		out = append(out, tc.raw)
	}
	for _, tc := range invalidCases() {
		out = append(out, tc.raw)
	}
	for _, tc := range invalidUTF8Cases() {
		out = append(out, tc.raw)
	}
	return append(out,
		startedEnvelope,
		[]byte(`{"type":"customer.erased","occurred_at":"2026-11-21T09:14:03Z","customer_id":"c"}`),
		[]byte(`{"type":"visit.recorded","occurred_at":"2026-11-21T09:14:03Z","customer_id":"c","data":{"visit_id":"v","pages":3}}`),
		[]byte(`{"type":"invoice.issued","occurred_at":"2026-11-21T09:14:03Z","customer_id":"c","data":{"interaction_id":"i","invoice_id":"v","amount":"1e3","currency":"EUR"}}`),
		[]byte(`{"ID":"`+testID+`","Type":"email.opened","OCCURRED_AT":"2026-11-21T09:14:03+14:00","customer_id":"c","data":{"interaction_id":"i","interaction_id":"j"}}`),
		[]byte("{\"type\":\"note.added\",\"occurred_at\":\"2026-11-21T09:14:03Z\",\"customer_id\":\"c\",\"data\":{\"note_id\":\"n\",\"text\":\"a\xffb\",\"x\":[\"\xc3\"]}}"),
		[]byte(` { "type" : "note.added" , "occurred_at" : "2026-11-21T09:14:03.123456789-12:00" , "customer_id" : "c" , "data" : { "note_id" : "n" , "text" : "<b>\u2028</b>" } } `),
	)
}
