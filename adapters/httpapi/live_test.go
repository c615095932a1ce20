package httpapi_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/httpapi"
	"github.com/interaction-ledger/ledger/projections/history"
)

// sseEvent is one Server-Sent Event as a client dispatches it.
type sseEvent struct{ name, id, data string }

// openLive opens GET /v1/interactions/live?query as tok, from lastID when not "", and
// returns its events as they arrive; the stream closes with the test.
func (a *api) openLive(t testing.TB, query url.Values, tok, lastID string) <-chan sseEvent {
	t.Helper()
	h := http.Header{"Authorization": {"Bearer " + tok}}
	if lastID != "" {
		h.Set("Last-Event-ID", lastID)
	}
	return openSSE(t, a.url+"/v1/interactions/live?"+query.Encode(), h)
}

// openSSE opens an event stream at url with the headers h and returns its events (those
// with data) as they arrive; the channel closes when the server ends the stream, and the
// stream closes with the test.
func openSSE(t testing.TB, url string, h http.Header) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("live: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	out := make(chan sseEvent, 64)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var e sseEvent
		for sc.Scan() {
			line := sc.Text()
			field, val, _ := strings.Cut(line, ":")
			val = strings.TrimPrefix(val, " ")
			switch field {
			case "":
				if line == "" && e.data != "" {
					select {
					case out <- e:
					case <-ctx.Done():
						return
					}
				}
				if line == "" {
					e = sseEvent{}
				}
			case "event":
				e.name = val
			case "id":
				e.id = val
			case "data":
				e.data += val
			}
		}
	}()
	return out
}

// nextUpsert returns the next event of the stream, failing after a generous bound (a
// liveness guard, not a timing assertion).
func nextUpsert(t *testing.T, events <-chan sseEvent) (sseEvent, history.Item) {
	t.Helper()
	select {
	case e, ok := <-events:
		if !ok {
			t.Fatal("live stream closed")
		}
		if e.name != "upsert" {
			t.Fatalf("event %q, want upsert", e.name)
		}
		var it history.Item
		if err := json.Unmarshal([]byte(e.data), &it); err != nil {
			t.Fatalf("upsert data %q: %v", e.data, err)
		}
		return e, it
	case <-time.After(20 * time.Second):
		t.Fatal("no live event within 20 s")
	}
	panic("unreachable")
}

func started(id, agent, flow string) map[string]any {
	d := map[string]any{"interaction_id": id, "flow": flow, "direction": "incoming", "routing": "direct", "agent_id": agent}
	if flow == "email" {
		d["contact"] = map[string]any{"email": id + "@example.com"}
	}
	return ev("interaction.started", "c-"+id, 1, d)
}

// TestLiveInteractions: the live list sends what enters the reader's filtered, visible
// list and nothing else, in position order (the rows that must not appear are posted
// first, so they would arrive first), and resumes from Last-Event-ID without a gap or a
// repeat.
func TestLiveInteractions(t *testing.T) {
	a := startAPI(t)
	directoryFixtureAPI(t, a)
	a.caughtUp(t)
	now := time.Now().UTC()
	query := url.Values{"flow": {"voice"}, "from": {now.Add(-2 * time.Hour).Format(time.RFC3339)}, "to": {now.Add(2 * time.Hour).Format(time.RFC3339)}}
	tok := token(t, "ann", auth.ScopeHistoryRead)
	events := a.openLive(t, query, tok, "")

	a.post(t, started("someone-elses", "bob", "voice"), started("anns-email", "ann", "email"))
	a.post(t, started("anns-call", "ann", "voice"))
	first, it := nextUpsert(t, events)
	if it.InteractionID != "anns-call" || it.AgentID != "ann" || it.Flow != "voice" {
		t.Fatalf("first live item %+v, want anns-call (the others are not in ann's filtered list)", it)
	}

	// A dropped connection: what arrives meanwhile is sent on resume, once.
	a.post(t, started("while-away", "ann", "voice"))
	a.caughtUp(t)
	resumed := a.openLive(t, query, tok, first.id)
	if _, it := nextUpsert(t, resumed); it.InteractionID != "while-away" {
		t.Fatalf("after resume from %s: %s, want while-away", first.id, it.InteractionID)
	}
	// A change to a listed row is sent again with its new state.
	a.post(t, ev("interaction.ended", "c-anns-call", 0, map[string]any{"interaction_id": "anns-call", "status": "processed"}))
	if _, it := nextUpsert(t, resumed); it.InteractionID != "anns-call" || it.Status != "processed" {
		t.Fatalf("change: %+v, want anns-call processed", it)
	}
}

// TestLiveRefusals: the live list takes the list's filters and auth, and a position.
func TestLiveRefusals(t *testing.T) {
	a := startAPI(t)
	directoryFixtureAPI(t, a)
	a.caughtUp(t)
	tests := []struct {
		name, path, tok string
		hdr             map[string]string
		want            int
	}{
		{"no token", "/v1/interactions/live", "", nil, http.StatusUnauthorized},
		{"no history access", "/v1/interactions/live", token(t, "nope", auth.ScopeHistoryRead), nil, http.StatusForbidden},
		{"bad filter", "/v1/interactions/live?flow=fax", token(t, "ann", auth.ScopeHistoryRead), nil, http.StatusBadRequest},
		{"bad Last-Event-ID", "/v1/interactions/live", token(t, "ann", auth.ScopeHistoryRead), map[string]string{"Last-Event-ID": "yesterday"}, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := a.send(t, "GET", tc.path, tc.tok, "", tc.hdr) // unread: a wrongly accepted stream would not end
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("got %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

// TestExportCSV: Accept: text/csv answers the whole range (past one page of the list),
// only what the reader may see, with a BOM and the contract's header, row for row what
// the JSON list answers page by page.
func TestExportCSV(t *testing.T) {
	a := startAPI(t)
	directoryFixtureAPI(t, a)
	var evs []map[string]any
	for i := range history.MaxLimit + 20 {
		evs = append(evs, started(fmt.Sprintf("call-%04d", i), "ann", "voice"))
	}
	evs = append(evs, started("not-anns", "bob", "voice"),
		ev("interaction.started", "c-x", 1, map[string]any{"interaction_id": "formula", "flow": "voice", "direction": "incoming",
			"routing": "direct", "agent_id": "ann", "template": "=HYPERLINK(\"x\")"}))
	a.post(t, evs...)
	a.caughtUp(t)
	tok := token(t, "ann", auth.ScopeHistoryRead)
	now := time.Now().UTC()
	query := "from=" + url.QueryEscape(now.Add(-3*time.Hour).Format(time.RFC3339)) + "&to=" + url.QueryEscape(now.Add(time.Hour).Format(time.RFC3339)) + "&sort=interaction_id&order=asc"

	var want [][]string
	for cursor := ""; ; {
		var page history.Page
		if code := a.do(t, "GET", "/v1/interactions?limit=100&"+query+"&cursor="+cursor, tok, "", "", &page); code != http.StatusOK {
			t.Fatalf("list: %d", code)
		}
		for _, it := range page.Items {
			end := ""
			if it.EndAt != nil {
				end = it.EndAt.UTC().Format(time.RFC3339Nano)
			}
			tpl := it.Template
			if strings.HasPrefix(tpl, "=") {
				tpl = "'" + tpl
			}
			want = append(want, []string{it.InteractionID, it.StartAt.UTC().Format(time.RFC3339Nano), end, it.Flow, it.Status, it.Reason,
				it.Direction, it.OriginalRouting, it.CurrentRouting, it.AgentID, it.QueueID, it.Contact, it.VoiceCampaign, tpl, it.CustomerID})
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if len(want) != history.MaxLimit+21 {
		t.Fatalf("the list has %d rows, want %d", len(want), history.MaxLimit+21)
	}

	code, hdr, body := a.request(t, "GET", "/v1/interactions?"+query+"&limit=3", tok, "", map[string]string{"Accept": "text/csv"})
	if code != http.StatusOK || hdr.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("export: %d %s", code, hdr.Get("Content-Type"))
	}
	if !strings.HasPrefix(string(body), "\uFEFF") {
		t.Fatalf("export does not start with a byte-order mark: %q", body[:min(len(body), 10)])
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(body), "\uFEFF"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], httpapi.CSVColumns) {
		t.Errorf("header %v, want %v", rows[0], httpapi.CSVColumns)
	}
	got := rows[1:]
	if len(got) != len(want) {
		t.Fatalf("export has %d rows, the list %d", len(got), len(want))
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("row %d: export %v, list %v", i, got[i], want[i])
		}
	}
}

// TestLiveSlowClientResumes: a stream that falls Buffer batches behind the shared reader
// (here its client's writes are held back) is closed rather than holding the reader up,
// and the client's resume from its Last-Event-ID sends every row it had not received,
// once each.
func TestLiveSlowClientResumes(t *testing.T) {
	a := startAPI(t)
	directoryFixtureAPI(t, a)
	a.caughtUp(t)
	live := &httpapi.Live{History: a.hist, HistoryDB: a.views[history.Name], Directory: a.dir, Buffer: 1,
		Logger: slog.New(slog.DiscardHandler)}
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		after, ok, err := httpapi.LastEventID(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if !ok {
			after = live.Position()
		}
		live.Serve(w, r, "ann", history.Query{}, after, func(it history.Item) ([]byte, error) {
			<-release // a client that does not read: the stream's writes wait
			return json.Marshal(it)
		})
	}))
	t.Cleanup(srv.Close)

	slow := openSSE(t, srv.URL, http.Header{})
	var posted []string
	post := func() {
		id := fmt.Sprintf("slow-%d", len(posted))
		a.post(t, started(id, "ann", "voice"))
		a.caughtUp(t)
		posted = append(posted, id)
	}
	post()
	// Each post is a batch; the stream is stuck on the first, so the reader drops it
	// once a second waits in its queue of one.
	for live.Streams() > 0 {
		if len(posted) > 200 {
			t.Fatal("the reader never dropped the stuck stream")
		}
		post()
	}
	once.Do(func() { close(release) })
	var got []string
	lastID := ""
	for e := range slow { // closes: the server ended the dropped stream
		var it history.Item
		if err := json.Unmarshal([]byte(e.data), &it); err != nil {
			t.Fatalf("upsert data %q: %v", e.data, err)
		}
		got, lastID = append(got, it.InteractionID), e.id
	}
	if len(got) == len(posted) {
		t.Fatalf("the dropped stream sent all %d rows; the test needs some left for the resume", len(got))
	}
	resumed := openSSE(t, srv.URL, http.Header{"Last-Event-ID": {lastID}})
	for len(got) < len(posted) {
		_, it := nextUpsert(t, resumed)
		got = append(got, it.InteractionID)
	}
	slices.Sort(got)
	want := slices.Clone(posted)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("rows received before and after the resume %v, want each of %v once", got, want)
	}
}
