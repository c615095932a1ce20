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

// FuzzHasInsignificantSpace: on valid JSON, hasInsignificantSpace is true exactly when
// json.Compact would change the text (decode and Encode rely on it to skip Compact).
func FuzzHasInsignificantSpace(f *testing.F) {
	f.Add([]byte(`{"a":"b c"}`))
	f.Add([]byte(`{"a":"x\\" ,"b":1}`))
	f.Add([]byte(`{"a":"x\\\" y", "b" : [1, "\\\\"]}`))
	f.Add([]byte(` "\"" `))
	f.Add(startedEnvelope)
	f.Fuzz(func(t *testing.T, b []byte) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			return // only valid JSON is ever asked
		}
		if got, want := hasInsignificantSpace(b), !bytes.Equal(buf.Bytes(), b); got != want {
			t.Fatalf("hasInsignificantSpace(%q) = %v, want %v", b, got, want)
		}
	})
}

func BenchmarkHasInsignificantSpace(b *testing.B) {
	b.SetBytes(int64(len(startedEnvelope)))
	for b.Loop() {
		if hasInsignificantSpace(startedEnvelope) {
			b.Fatal("startedEnvelope is compact")
		}
	}
}
