package domain

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestDecodeRejectsInvalidUTF8: a string holding invalid UTF-8, anywhere in the envelope
// (a known field, a producer's extension kept verbatim in Data, a member name), is
// rejected with the field's path, by both decoders; encoding/json alone would have
// turned the bytes into U+FFFD in the decoded fields and kept them raw in Data.
func TestDecodeRejectsInvalidUTF8(t *testing.T) {
	decoders := map[string]func([]byte) (Event, error){
		"incoming": func(raw []byte) (Event, error) { return DecodeIncoming(raw, testNow) },
		"stored":   func(raw []byte) (Event, error) { return DecodeStored(raw, testNow) },
	}
	for _, tt := range invalidUTF8Cases() {
		for name, decode := range decoders {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				_, err := decode(tt.raw)
				var ve *ValidationError
				if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("decode %q: got %v, want a *ValidationError", tt.raw, err)
				}
				if ve.Field != tt.field || ve.Problem != tt.problem {
					t.Fatalf("decode %q: got %q, want %q", tt.raw, err, tt.field+": "+tt.problem)
				}
			})
		}
	}
}

// invalidUTF8Case is an envelope holding invalid UTF-8 and the rejection it must get.
type invalidUTF8Case struct {
	name, field, problem string
	raw                  []byte
}

func invalidUTF8Cases() []invalidUTF8Case {
	started := `"interaction_id":"call-1","flow":"email","direction":"incoming","routing":"smart"`
	envWith := func(field, value string) []byte {
		return fmt.Appendf(nil, `{"id":%q,"type":"interaction.started","occurred_at":%q,%q:"%s","data":{%s}}`,
			testID, testAt, field, value, started)
	}
	return []invalidUTF8Case{
		{"contact email", "data.contact.email", "invalid UTF-8",
			rawEnvelope(TypeInteractionStarted, `{`+started+`,"contact":{"phone":"+33612345678","email":"a`+"\xff"+`b@example.com"}}`)},
		{"participant name", "data.participants[1].name", "invalid UTF-8",
			rawEnvelope(TypeInteractionStarted, `{`+started+`,"participants":[{"role":"agent","name":"ok"},{"role":"customer","name":"Jos`+"\xc3"+`"}]}`)},
		{"extension kept verbatim", "data.extra.tags[2]", "invalid UTF-8",
			rawEnvelope(TypeInteractionStarted, `{`+started+`,"extra":{"n":1,"tags":["a","b","`+"\xed\xa0\x80"+`"]}}`)},
		{"note text truncated sequence", "data.text", "invalid UTF-8",
			rawEnvelope(TypeNoteAdded, `{"note_id":"n-1","text":"5 `+"\xe2\x82"+`"}`)},
		{"overlong encoding in interaction_id", "data.interaction_id", "invalid UTF-8",
			rawEnvelope(TypeEmailOpened, `{"interaction_id":"m`+"\xc0\xaf"+`"}`)},
		{"source", "source", "invalid UTF-8", envWith("source", "pbx\xfe")},
		{"customer_id", "customer_id", "invalid UTF-8", envWith("customer_id", "cust-\x80")},
		{"member name in data", "data", "a member name is invalid UTF-8",
			rawEnvelope(TypeInteractionStarted, `{`+started+`,"k`+"\xff"+`":1}`)},
		{"member name of the envelope", "envelope", "a member name is invalid UTF-8",
			append(bytes.TrimSuffix(rawEnvelope(TypeEmailOpened, `{"interaction_id":"m"}`), []byte("}")), ",\"\xff\":1}"...)},
		{"envelope is an invalid string", "envelope", "invalid UTF-8", []byte("\"\xff\"")},
	}
}

// TestDecodeKeepsValidUTF8: multi-byte text and JSON escapes (a lone surrogate escape is
// valid JSON text) pass the check, and Data keeps the producer's bytes.
func TestDecodeKeepsValidUTF8(t *testing.T) {
	data := `{"note_id":"n-1","text":"Zoë, 日本, 🙂, \u00e9, \ud800"}`
	ev, err := DecodeIncoming(rawEnvelope(TypeNoteAdded, data), testNow)
	if err != nil {
		t.Fatalf("DecodeIncoming: %v", err)
	}
	if string(ev.Data) != data {
		t.Errorf("Data = %s, want %s", ev.Data, data)
	}
	if nd, ok := ev.Payload.(*NoteData); !ok || !strings.HasPrefix(nd.Text, "Zoë, 日本, 🙂") {
		t.Errorf("Payload = %#v, want the note's text", ev.Payload)
	}
}
