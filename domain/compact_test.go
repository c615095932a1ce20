package domain

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestHasInsignificantSpace(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{`{"a":"b c"}`, false},
		{`{"a": "b"}`, true},
		{"{\"a\":\"b\"\n}", true},
		{`{"a":"x\" y"}`, false},
		{`{"a":"x\\" ,"b":1}`, true},
		{`{"a":["b","c"]}`, false},
		{"{\"a\":\t1}", true},
		{`{}`, false},
	}
	for _, tt := range tests {
		if got := hasInsignificantSpace([]byte(tt.in)); got != tt.want {
			t.Errorf("hasInsignificantSpace(%s) = %v, want %v", tt.in, got, tt.want)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, []byte(tt.in)); err == nil && !tt.want && buf.String() != tt.in {
			t.Errorf("%s reported compact but json.Compact changes it to %s", tt.in, buf.String())
		}
	}
}
