package jsonhttp

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// serve runs h behind a real loopback server and returns the answer's status, content
// type and body, and the status the recorder saw.
func serve(t *testing.T, h func(w http.ResponseWriter)) (code int, ctype string, body []byte, recorded int) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		rec := NewStatusRecorder(w)
		h(rec)
		recorded = rec.Status()
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body, recorded
}

func TestAnswers(t *testing.T) {
	tests := []struct {
		name     string
		h        func(w http.ResponseWriter)
		code     int
		body     string
		recorded int
	}{
		{"json, HTML kept", func(w http.ResponseWriter) { Write(w, http.StatusCreated, map[string]string{"note": "<b>"}) },
			http.StatusCreated, `{"note":"<b>"}` + "\n", http.StatusCreated},
		{"error with extra fields", func(w http.ResponseWriter) {
			Error(w, http.StatusConflict, "cannot complete", map[string]any{"state": "completed", "error": "shadowed"})
		}, http.StatusConflict, `{"error":"cannot complete","state":"completed"}` + "\n", http.StatusConflict},
		{"first status wins", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusAccepted)
			w.WriteHeader(http.StatusTeapot)
		}, http.StatusAccepted, "", http.StatusAccepted},
		{"implicit 200 on write", func(w http.ResponseWriter) { _, _ = w.Write([]byte("x")) }, http.StatusOK, "x", http.StatusOK},
		{"nothing written", func(http.ResponseWriter) {}, http.StatusOK, "", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body, recorded := serve(t, tc.h)
			if code != tc.code || recorded != tc.recorded {
				t.Errorf("status = %d, recorded %d; want %d, %d", code, recorded, tc.code, tc.recorded)
			}
			if string(body) != tc.body {
				t.Errorf("body = %q, want %q", body, tc.body)
			}
		})
	}
}

// TestUnwrap: http.ResponseController reaches the real writer through the recorder (the
// live update stream flushes through it).
func TestUnwrap(t *testing.T) {
	code, _, _, _ := serve(t, func(w http.ResponseWriter) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush through the recorder: %v", err)
		}
	})
	if code != http.StatusOK {
		t.Errorf("status = %d", code)
	}
}

func TestContentType(t *testing.T) {
	_, ctype, _, _ := serve(t, func(w http.ResponseWriter) { Write(w, http.StatusOK, 1) })
	if ctype != "application/json" {
		t.Errorf("Content-Type = %q", ctype)
	}
}

// TestWriteIsEncodingJSON: Write's encoder writes, byte for byte, what encoding/json
// writes with HTML left as it is, for the kinds of values the answers hold. The one
// difference: a json.RawMessage is checked but written with its own spacing, where
// encoding/json compacts it (the same JSON either way).
func TestWriteIsEncodingJSON(t *testing.T) {
	type inner struct {
		At    *time.Time      `json:"at,omitempty"`
		N     int             `json:"n,omitempty"`
		Raw   json.RawMessage `json:"raw,omitempty"`
		Total json.Number     `json:"total,omitempty"`
	}
	at := time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.FixedZone("x", 3600))
	values := []any{
		map[string]any{"note": "<b>&amp;</b> \u2028\u2029 \x01 \"q\" \\ é 😀", "bad": "a\xffb", "z": 1, "a": []int{}},
		[]float64{0, 0.1, 1e-7, 1e20, 1e21, 123456789.125, -2.5e-300},
		[]any{nil, true, int64(-1 << 62), uint64(1 << 63), "", at},
		inner{At: &at, N: 3, Raw: json.RawMessage(`{"b":[1,2],"a":"<x>"}`), Total: "12.50"},
		inner{},
		struct {
			Items      []inner `json:"items"`
			NextCursor string  `json:"next_cursor"`
		}{Items: []inner{{N: 1}, {}}},
	}
	for i, v := range values {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		_, _, body, _ := serve(t, func(w http.ResponseWriter) { Write(w, http.StatusOK, v) })
		if string(body) != want.String() {
			t.Errorf("value %d:\n got %q\nwant %q", i, body, want.String())
		}
	}
}
