package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// readAll drains b: the envelopes read and the error that ended the reading (nil at EOF).
func readAll(t testing.TB, b *Body) ([][]byte, error) {
	t.Helper()
	var raws [][]byte
	for {
		raw, err := b.Next()
		if err == io.EOF {
			return raws, nil
		}
		if err != nil {
			return raws, err
		}
		raws = append(raws, raw)
	}
}

func TestBody(t *testing.T) {
	many := func(n int, elem string) string {
		return "[" + strings.TrimSuffix(strings.Repeat(elem+",", n), ",") + "]"
	}
	big := `{"a":"` + strings.Repeat("x", MaxElementBytes) + `"}`
	tests := []struct {
		name, body string
		ndjson     bool
		n          int // envelopes read before the end or the error
		single     bool
		err        string // substring of the error; "" for none
		tooLarge   bool   // the error matches ErrTooLarge
	}{
		{name: "one object", body: ` {"a":1} `, n: 1, single: true},
		{name: "one object, trailing data left to domain", body: `{"a":1} x`, n: 1, single: true},
		{name: "array", body: ` [{"a":1},{"b":2}] `, n: 2},
		{name: "empty array", body: `[]`, n: 0},
		{name: "array of scalars", body: `[1,"x",null]`, n: 3},
		{name: "ndjson", body: "{\"a\":1}\n\n{\"b\":2}\n", ndjson: true, n: 2},
		{name: "ndjson with CRLF and no final newline", body: "{\"a\":1}\r\n{\"b\":2}", ndjson: true, n: 2},
		{name: "empty", body: "  ", err: "empty"},
		{name: "scalar", body: `42`, err: "must be a JSON object"},
		{name: "broken array", body: `[{"a":1},`, n: 1, err: "malformed JSON array"},
		{name: "missing comma", body: `[{"a":1} {"b":2}]`, n: 1, err: "malformed JSON array"},
		{name: "trailing comma", body: `[{"a":1},]`, n: 1, err: "malformed JSON array"},
		{name: "data after the array", body: `[{"a":1}] {}`, n: 1, err: "data after the array"},
		{name: "malformed element", body: `[{"a":1},{"b":}]`, n: 1, err: "malformed JSON array at byte"},
		{name: "as many as allowed", body: many(MaxEventsPerBody, "1"), n: MaxEventsPerBody},
		{name: "one too many", body: many(MaxEventsPerBody+1, "1"), n: MaxEventsPerBody, err: "more than 10000 envelopes", tooLarge: true},
		{name: "ndjson one too many", body: strings.Repeat("1\n", MaxEventsPerBody+1), ndjson: true, n: MaxEventsPerBody, err: "more than 10000", tooLarge: true},
		{name: "element over the cap", body: `[{"a":1},` + big + `,{"b":2}]`, n: 1, err: "envelope 1 is larger than", tooLarge: true},
		{name: "line over the cap", body: "{\"a\":1}\n" + big + "\n{\"b\":2}\n", ndjson: true, n: 1, err: "line 2 is longer than", tooLarge: true},
		{name: "object over the cap", body: big, single: true, err: "larger than", tooLarge: true},
		{name: "element under the cap left to domain", body: `[` + big[:MaxElementBytes-10] + `"}]`, n: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBody(strings.NewReader(tt.body), tt.ndjson)
			raws, err := readAll(t, b)
			if len(raws) != tt.n || b.Single() != tt.single {
				t.Errorf("read %d envelopes, single %v; want %d, %v", len(raws), b.Single(), tt.n, tt.single)
			}
			if tt.err == "" {
				if err != nil {
					t.Fatalf("error %v, want none", err)
				}
				return
			}
			var be *BodyError
			if !errors.As(err, &be) || !strings.Contains(err.Error(), tt.err) || be.Index != tt.n {
				t.Fatalf("error %v, want a *BodyError at index %d mentioning %q", err, tt.n, tt.err)
			}
			if errors.Is(err, ErrTooLarge) != tt.tooLarge {
				t.Errorf("errors.Is(%v, ErrTooLarge) = %v, want %v", err, !tt.tooLarge, tt.tooLarge)
			}
			if _, again := b.Next(); again != err {
				t.Errorf("Next after the error: %v, want the same error", again)
			}
		})
	}
}

// TestBodyReaderErrorPassesThrough: the caller's reader error (the HTTP total size limit)
// ends the reading and stays matchable.
func TestBodyReaderErrorPassesThrough(t *testing.T) {
	errLimit := errors.New("limit")
	for _, ndjson := range []bool{false, true} {
		body := "[" + `{"a":1},` + strings.Repeat(`{"a":1},`, 5000)
		if ndjson {
			body = strings.Repeat("{\"a\":1}\n", 5000)
		}
		b := NewBody(io.MultiReader(strings.NewReader(body), iotestErrReader{errLimit}), ndjson)
		raws, err := readAll(t, b)
		if !errors.Is(err, errLimit) || len(raws) == 0 {
			t.Errorf("ndjson %v: read %d, error %v; want some envelopes, then the reader's error", ndjson, len(raws), err)
		}
	}
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

// FuzzBody: a body comes from outside. Reading never panics; every array element is
// valid JSON; and where the old splitter (decode it all at once) accepted a body within
// the limits, the stream yields the same envelopes.
func FuzzBody(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[{"a":1},{"b":2}]`, "{\"a\":1}\n{\"b\":2}", "[", "", "\n\n", `[1,"x",null]`,
		`[{"a":[1,{"b":"]"}]}, "\"]" ]`, "[\xff]", `[]  `, `[{"a":1}]]`} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, body string, ndjson bool) {
		raws, err := readAll(t, NewBody(strings.NewReader(body), ndjson))
		// JSON's white space only: bytes.TrimSpace would also take "\f" off "[]\f", which
		// the whole-body decode then accepts and the stream rightly does not.
		trimmed := bytes.Trim([]byte(body), " \t\r\n")
		if ndjson {
			var want [][]byte
			for line := range bytes.SplitSeq([]byte(body), []byte("\n")) {
				if l := bytes.TrimSpace(line); len(l) > 0 {
					want = append(want, l)
				}
			}
			if err == nil && !equalRaws(raws, want) {
				t.Fatalf("ndjson %q: got %q, want %q", body, raws, want)
			}
			return
		}
		if len(trimmed) == 0 || trimmed[0] != '[' {
			return
		}
		for _, r := range raws {
			if !json.Valid(r) {
				t.Fatalf("array element %q is not valid JSON", r)
			}
		}
		var old []json.RawMessage
		oldErr := json.Unmarshal(trimmed, &old)
		if (oldErr == nil) != (err == nil) {
			t.Fatalf("body %q: stream error %v, whole-body error %v", body, err, oldErr)
		}
		if err == nil {
			want := make([][]byte, len(old))
			for i, o := range old {
				want[i] = o
			}
			if !equalRaws(raws, want) {
				t.Fatalf("body %q: got %q, want %q", body, raws, want)
			}
		}
	})
}

func equalRaws(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
