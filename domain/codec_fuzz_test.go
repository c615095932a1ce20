package domain_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/domain/scenario"
)

// FuzzDecodeDifferential: DecodeIncoming and DecodeStored, whose JSON is read by the fast
// codec, give exactly what encoding/json alone gives: the same acceptance, the same
// error (text, field, cause), the same Event; and an accepted event encodes to the same
// bytes by Event.Encode and by encoding/json.
//
//	go test -run '^$' -fuzz=FuzzDecodeDifferential -fuzztime=1m ./domain/
func FuzzDecodeDifferential(f *testing.F) {
	for _, raw := range domain.DecodeSeeds() {
		f.Add(raw)
	}
	for _, raw := range scenarioEnvelopes(f, domain.FixedNow()) {
		f.Add(raw)
	}
	now := domain.FixedNow()
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, stored := range []bool{false, true} {
			decode := domain.DecodeIncoming
			if stored {
				decode = domain.DecodeStored
			}
			got, gotErr := decode(raw, now)
			want, wantErr := domain.DecodeReference(raw, now, stored)
			if (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("stored=%v: error = %v, reference error = %v\nraw: %q", stored, gotErr, wantErr, raw)
			}
			if gotErr != nil {
				if gotErr.Error() != wantErr.Error() || !reflect.DeepEqual(gotErr, wantErr) {
					t.Fatalf("stored=%v: error = %#v\nreference  %#v\nraw: %q", stored, gotErr, wantErr, raw)
				}
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("stored=%v: event differs\n got %#v\nwant %#v\nraw: %q", stored, got, want, raw)
			}
			if got.ID == "" {
				got = got.WithID("0193a5b2-7c1e-7f00-9a4b-3c2d1e0f5a6b")
			}
			sameEncoding(t, got)
		}
	})
}

// FuzzEncodeDifferential: Event.Encode writes the bytes encoding/json writes, or fails
// with the same error, for any field values, including those no decoder would accept
// (invalid UTF-8, control characters, Data that is not compact or not JSON at all).
//
//	go test -run '^$' -fuzz=FuzzEncodeDifferential -fuzztime=1m ./domain/
func FuzzEncodeDifferential(f *testing.F) {
	f.Add("0193a5b2-7c1e-7f00-9a4b-3c2d1e0f5a6b", uint8(0), int64(1763716443512000000), "cust-42", "pbx-paris", []byte(`{"interaction_id":"m"}`))
	f.Add("x", uint8(3), int64(0), "a\x00\b\f\n\r\t\x1f\x7f\"\\<>&", "\u2028\u2029\xff\xc3", []byte(` { "a" : [1, 2.5, "<&>"] } `))
	f.Add("", uint8(7), int64(-1), "", "", []byte(nil))
	f.Add("id", uint8(9), int64(1), "c", "s", []byte(`{"a":`))
	f.Add("id", uint8(27), int64(-62135596800000000), "c", "s", []byte(`"text"`))
	f.Add("id", uint8(12), int64(1<<62), "zoë", "日本 🙂", []byte("{\"k\":\"\xff\"}"))
	types := domain.EventTypes()
	f.Fuzz(func(t *testing.T, id string, typ uint8, at int64, cust, source string, data []byte) {
		ev := domain.Event{ID: id, Type: types[int(typ)%len(types)], OccurredAt: time.Unix(0, at).In(time.FixedZone("", 3600)),
			CustomerID: cust, Source: source, Data: data}
		sameEncoding(t, ev)
	})
}

// sameEncoding fails t unless ev.Encode() and encoding/json's encoding agree.
func sameEncoding(t *testing.T, ev domain.Event) {
	t.Helper()
	got, gotErr := ev.Encode()
	want, wantErr := domain.EncodeReference(ev)
	if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
		t.Fatalf("Encode error = %v, reference error = %v\nevent: %#v", gotErr, wantErr, ev)
	}
	var ve *domain.ValidationError
	if errors.As(gotErr, &ve) != errors.As(wantErr, &ve) {
		t.Fatalf("Encode error = %#v, reference error = %#v", gotErr, wantErr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode =\n%q\nreference\n%q", got, want)
	}
}

// scenarioEnvelopes returns a few stored envelopes of every type the scenario generator
// produces (directory records included), as the stream holds them.
func scenarioEnvelopes(tb testing.TB, now time.Time) [][]byte {
	tb.Helper()
	s, err := scenario.New(scenario.Config{Seed: 1, Now: now, Interactions: 60})
	if err != nil {
		tb.Fatal(err)
	}
	const perType = 4
	seen := map[domain.EventType]int{}
	var out [][]byte
	add := func(ev domain.Event) {
		if seen[ev.Type] >= perType {
			return
		}
		seen[ev.Type]++
		raw, err := ev.Encode()
		if err != nil {
			tb.Fatalf("Encode %s: %v", ev.Type, err)
		}
		out = append(out, raw)
	}
	for _, ev := range s.Directory() {
		add(ev)
	}
	for ev := range s.Events {
		add(ev)
	}
	if len(seen) < 10 {
		tb.Fatalf("the scenario gave only %d event types", len(seen))
	}
	return out
}
