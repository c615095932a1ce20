package httpapi

import (
	"encoding/json"
	"testing"
)

func TestSplitEnvelopes(t *testing.T) {
	tests := []struct {
		name, ct, body string
		n              int
		single, ok     bool
	}{
		{"one object", "application/json", `{"a":1}`, 1, true, true},
		{"array", "application/json", ` [{"a":1},{"b":2}] `, 2, false, true},
		{"ndjson", "application/x-ndjson", "{\"a\":1}\n\n{\"b\":2}\n", 2, false, true},
		{"ndjson with charset", "application/x-ndjson; charset=utf-8", "{\"a\":1}", 1, false, true},
		{"empty", "application/json", "  ", 0, false, false},
		{"broken array", "application/json", `[{"a":1},`, 0, false, false},
		{"scalar", "application/json", `42`, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raws, single, err := splitEnvelopes(tt.ct, []byte(tt.body))
			if (err == nil) != tt.ok || len(raws) != tt.n || single != tt.single {
				t.Fatalf("splitEnvelopes = %d, %v, %v; want %d, %v, ok=%v", len(raws), single, err, tt.n, tt.single, tt.ok)
			}
		})
	}
}

// FuzzSplitEnvelopes: the ingest body comes from outside; splitting never panics, and an
// array's elements are each valid JSON.
func FuzzSplitEnvelopes(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[{"a":1},{"b":2}]`, "{\"a\":1}\n{\"b\":2}", "[", "", "\n\n", `[1,"x",null]`} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, body string, ndjson bool) {
		ct := "application/json"
		if ndjson {
			ct = "application/x-ndjson"
		}
		raws, _, err := splitEnvelopes(ct, []byte(body))
		if err != nil {
			return
		}
		if !ndjson && len(body) > 0 && body[0] == '[' {
			for _, r := range raws {
				if !json.Valid(r) {
					t.Fatalf("array element %q is not valid JSON", r)
				}
			}
		}
	})
}
