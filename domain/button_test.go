package domain

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// TestButtonTemplateValidation: templates are checked when their directory event
// arrives; every refusal names the button's field.
func TestButtonTemplateValidation(t *testing.T) {
	tests := []struct {
		name  string
		b     Button
		field string // "" : valid
	}{
		{"https with every placeholder", Button{"CRM", "https://crm.example/{crm_record}/{case}?i={interaction_id}&c={contact}&u={customer_id}&a={agent_id}&q={queue_id}#{interaction_id}"}, ""},
		{"http, no placeholder", Button{"Wiki", "http://wiki.example/"}, ""},
		{"placeholder right after the host", Button{"X", "https://x.example/{case}"}, ""},
		{"placeholder in the query only", Button{"X", "https://x.example?c={case}"}, ""},
		{"no label", Button{"", "https://x.example/"}, "data.buttons[0].label"},
		{"no url", Button{"X", ""}, "data.buttons[0].url"},
		{"javascript", Button{"X", "javascript:alert(1)"}, "data.buttons[0].url"},
		{"data", Button{"X", "data:text/html,<script>alert(1)</script>"}, "data.buttons[0].url"},
		{"ftp", Button{"X", "ftp://x.example/{case}"}, "data.buttons[0].url"},
		{"relative", Button{"X", "/records/{crm_record}"}, "data.buttons[0].url"},
		{"scheme-relative", Button{"X", "//evil.example/{case}"}, "data.buttons[0].url"},
		{"placeholder as the host", Button{"X", "https://{customer_id}/"}, "data.buttons[0].url"},
		{"placeholder in the host", Button{"X", "https://crm.{case}.example/"}, "data.buttons[0].url"},
		{"placeholder as the scheme", Button{"X", "{contact}://x.example/"}, "data.buttons[0].url"},
		{"whole URL a placeholder", Button{"X", "{contact}"}, "data.buttons[0].url"},
		{"user information", Button{"X", "https://user:pw@x.example/{case}"}, "data.buttons[0].url"},
		{"unknown placeholder", Button{"X", "https://x.example/{password}"}, "data.buttons[0].url"},
		{"unclosed placeholder", Button{"X", "https://x.example/{case"}, "data.buttons[0].url"},
		{"stray brace", Button{"X", "https://x.example/case}"}, "data.buttons[0].url"},
		{"space", Button{"X", "https://x.example/a b"}, "data.buttons[0].url"},
		{"no host", Button{"X", "https:///{case}"}, "data.buttons[0].url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckButtons("data.buttons", []Button{tt.b})
			if tt.field == "" {
				if err != nil {
					t.Fatalf("valid template refused: %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tt.field {
				t.Fatalf("got %v, want an error naming %s", err, tt.field)
			}
		})
	}
}

// TestButtonsArriveValidated: a directory record carrying a bad template is refused as a
// whole, naming the button's field, for profiles and agents alike; a good one is kept.
func TestButtonsArriveValidated(t *testing.T) {
	for _, typ := range []EventType{TypeDirectoryProfile, TypeDirectoryAgent} {
		t.Run(typ.String(), func(t *testing.T) {
			bad := with(typ, func(_, data obj) {
				data["buttons"] = []obj{{"label": "ok", "url": "https://x.example/"}, {"label": "bad", "url": "javascript:alert(1)//{case}"}}
			})
			var ve *ValidationError
			if _, err := DecodeIncoming(bad, testNow); !errors.As(err, &ve) || ve.Field != "data.buttons[1].url" {
				t.Errorf("bad template: got %v, want an error naming data.buttons[1].url", err)
			}
			good := with(typ, func(_, data obj) {
				data["buttons"] = []obj{{"label": "CRM", "url": "https://crm.example/{crm_record}"}}
			})
			ev, err := DecodeIncoming(good, testNow)
			if err != nil {
				t.Fatalf("good template refused: %v", err)
			}
			var got []Button
			switch d := ev.Payload.(type) {
			case *ProfileData:
				got = d.Buttons
			case *AgentData:
				got = d.Buttons
			}
			if len(got) != 1 || got[0] != (Button{"CRM", "https://crm.example/{crm_record}"}) {
				t.Errorf("buttons = %+v", got)
			}
			// The typed payload writes its buttons back (NewEvent's round trip).
			again, err := NewEvent(ev.ID, ev.Type, ev.OccurredAt, "", ev.Source, ev.Payload, testNow)
			if err != nil || !reflect.DeepEqual(again.Payload, ev.Payload) {
				t.Errorf("NewEvent gives %+v, %v; want %+v", again.Payload, err, ev.Payload)
			}
		})
	}
}

// TestButtonExpand: every value is escaped for its place, so that no value can leave its
// path segment, add a query parameter, or change the host.
func TestButtonExpand(t *testing.T) {
	v := ButtonValues{InteractionID: "call/1", Contact: "+33 6 12&x=1", CustomerID: "cus#1", CRMRecord: "../admin?x=1",
		Case: "a b", AgentID: "ann", QueueID: "sales"}
	tests := []struct{ tmpl, want string }{
		{"https://crm.example/records/{crm_record}/view", "https://crm.example/records/..%2Fadmin%3Fx=1/view"},
		{"https://crm.example/s?q={contact}&c={customer_id}", "https://crm.example/s?q=%2B33+6+12%26x%3D1&c=cus%231"},
		{"https://crm.example/{interaction_id}#{case}", "https://crm.example/call%2F1#a%20b"},
		{"https://crm.example/?who={agent_id}#q={queue_id}", "https://crm.example/?who=ann#q=sales"},
		{"https://crm.example/{crm_record}", "https://crm.example/..%2Fadmin%3Fx=1"},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			got, err := Button{"b", tt.tmpl}.Expand(v)
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	// An empty value leaves its place empty.
	if got, _ := (Button{"b", "https://crm.example/{crm_record}?c={case}"}).Expand(ButtonValues{}); got != "https://crm.example/?c=" {
		t.Errorf("empty values: got %q", got)
	}
	// Stored records are JSON: a button reads back as written.
	var b Button
	if err := json.Unmarshal([]byte(`{"label":"L","url":"https://x.example/{case}"}`), &b); err != nil || b.URL != "https://x.example/{case}" {
		t.Errorf("decode = %+v, %v", b, err)
	}
}
