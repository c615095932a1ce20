package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/httpapi"
)

// TestReadYourWrites: ingest answers the highest stream position of the request; a read
// naming it sees the write at once, one naming a position the views have not applied
// answers 503 with the lag, and a malformed position is a 400 naming the header.
func TestReadYourWrites(t *testing.T) {
	a := startAPIWith(t, apiOptions{tune: func(c *httpapi.Config) { c.PositionWait = 200 * time.Millisecond }})
	directoryFixtureAPI(t, a)
	a.caughtUp(t)
	producer := token(t, "producer", auth.ScopeIngest)
	reader := token(t, "root", auth.ScopeHistoryRead)

	evs := []map[string]any{
		ev("note.added", "cus-ryw", 5, map[string]any{"note_id": "n1", "text": "first"}),
		ev("note.added", "cus-ryw", 4, map[string]any{"note_id": "n2", "text": "second"}),
	}
	code, hdr, body := a.request(t, "POST", "/v1/events", producer, mustJSON(t, evs), map[string]string{"Content-Type": "application/json"})
	if code != http.StatusOK {
		t.Fatalf("post: %d %s", code, body)
	}
	pos, err := strconv.ParseUint(hdr.Get(httpapi.HeaderPosition), 10, 64)
	if err != nil {
		t.Fatalf("post: %s %q: %v", httpapi.HeaderPosition, hdr.Get(httpapi.HeaderPosition), err)
	}
	var out struct{ Results []struct{ Seq uint64 } }
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if want := max(out.Results[0].Seq, out.Results[1].Seq); pos != want {
		t.Errorf("%s: got %d, want the request's highest seq %d", httpapi.HeaderPosition, pos, want)
	}

	tests := []struct {
		name     string
		min      string
		want     int
		wantBody string
	}{
		{"the write's position: waits, then shows it", strconv.FormatUint(pos, 10), http.StatusOK, `"n2"`},
		{"no header", "", http.StatusOK, ""},
		{"beyond the stream: 503 with the lag", strconv.FormatUint(pos+1000, 10), http.StatusServiceUnavailable, `"lag":1000`},
		{"not a number", "abc", http.StatusBadRequest, httpapi.HeaderMinPosition},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.min != "" {
				h[httpapi.HeaderMinPosition] = tc.min
			}
			code, hdr, body := a.request(t, "GET", "/v1/customers/cus-ryw/timeline", reader, "", h)
			if code != tc.want {
				t.Fatalf("got %d %s, want %d", code, body, tc.want)
			}
			if !strings.Contains(string(body), tc.wantBody) {
				t.Errorf("body %s: want it to hold %s", body, tc.wantBody)
			}
			if code == http.StatusServiceUnavailable && hdr.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
		})
	}
}
