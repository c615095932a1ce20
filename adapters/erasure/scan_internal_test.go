package erasure

import (
	"testing"
	"time"
)

func TestMatcherEnvelope(t *testing.T) {
	m := newMatcher([]string{"tel:+14155550142", "a&b<c>"})
	tests := []struct {
		name      string
		data      string
		hit       bool
		mergeTo   string
		mergeFrom string
	}{
		{"customer_id", `{"type":"note.added","customer_id":"tel:+14155550142","data":{}}`, true, "", ""},
		{"another customer", `{"type":"note.added","customer_id":"tel:+14155550143","data":{}}`, false, "", ""},
		{"a prefix of an id is not the id", `{"type":"note.added","customer_id":"tel:+1415555014","data":{}}`, false, "", ""},
		{"longer id holding the id", `{"type":"note.added","customer_id":"tel:+141555501420","data":{}}`, false, "", ""},
		{"mentioned in another customer's text only", `{"type":"note.added","customer_id":"c-9","data":{"text":"call tel:+14155550142"}}`, false, "", ""},
		{"escaped in JSON", `{"type":"note.added","customer_id":"\u0074el:+14155550142","data":{}}`, true, "", ""},
		{"HTML-escaped by encoding/json", `{"type":"note.added","customer_id":"a\u0026b\u003cc\u003e","data":{}}`, true, "", ""},
		{"merged into the customer", `{"type":"customer.merged","customer_id":"tel:+14155550142","data":{"from_customer_id":"c-7"}}`, true, "tel:+14155550142", "c-7"},
		{"the customer merged into another", `{"type":"customer.merged","customer_id":"c-8","data":{"from_customer_id":"tel:+14155550142"}}`, true, "c-8", "tel:+14155550142"},
		{"a merge of others is recorded", `{"type":"customer.merged","customer_id":"c-7","data":{"from_customer_id":"c-6"}}`, false, "c-7", "c-6"},
		{"not JSON, holding the id", `{"id":"broken","customer_id":"tel:+14155550142"`, true, "", ""},
		{"not JSON, without the id", `{"id":"broken","customer_id":"c-1"`, false, "", ""},
		{"customer_id of the wrong type, id elsewhere", `{"customer_id":42,"x":"tel:+14155550142"}`, true, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hit, e := m.envelope([]byte(tt.data))
			if hit != tt.hit || e.to != tt.mergeTo || e.from != tt.mergeFrom {
				t.Errorf("got hit %v merge %q<-%q, want %v %q<-%q", hit, e.to, e.from, tt.hit, tt.mergeTo, tt.mergeFrom)
			}
		})
	}
}

func TestBackoffDelay(t *testing.T) {
	b := backoffDelay{min: time.Second, max: time.Minute}
	for _, tt := range []struct {
		delivered uint64
		want      time.Duration
	}{{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {4, 8 * time.Second}, {7, time.Minute}, {1 << 40, time.Minute}} {
		if got := b.WaitTime(tt.delivered); got != tt.want {
			t.Errorf("WaitTime(%d): got %s, want %s", tt.delivered, got, tt.want)
		}
	}
}
