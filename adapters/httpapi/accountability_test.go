package httpapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/httpapi/apitest"
)

type reason struct {
	Rule, Agent, Team, Queue, Profile string
	Since                             *time.Time
}

type explained struct {
	InteractionID  string   `json:"interaction_id"`
	AgentID        string   `json:"agent_id"`
	VisibleBecause []reason `json:"visible_because"`
	Events         []struct{ ID string }
}

// accountabilityFixture: call-x, smart through sales, taken by ann 30 minutes ago and
// transferred to bob 20 minutes ago, for customer cus-9.
func accountabilityFixture(t *testing.T, a *api) (started, transferred time.Time) {
	t.Helper()
	a.post(t, directoryFixture()...)
	s := ev("interaction.started", "cus-9", 30, map[string]any{"interaction_id": "call-x", "flow": "voice",
		"direction": "incoming", "routing": "smart", "queue_id": "sales", "agent_id": "ann"})
	r := ev("interaction.routed", "cus-9", 20, map[string]any{"interaction_id": "call-x", "routing": "smart", "queue_id": "sales", "agent_id": "bob"})
	a.post(t, s, r)
	a.caughtUp(t)
	return parseTime(t, s["occurred_at"]), parseTime(t, r["occurred_at"])
}

func parseTime(t *testing.T, v any) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, v.(string))
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// TestVisibleBecauseAPI: the detail says why each reader sees it, and the list says so
// when asked (explain=1), from the same rule that let them see it.
func TestVisibleBecauseAPI(t *testing.T) {
	a := startAPI(t)
	t0, t1 := accountabilityFixture(t, a)
	tests := []struct {
		agent string
		want  []reason
	}{
		{"ann", []reason{{Rule: "before_transfer", Agent: "ann", Since: &t0}}},
		{"bob", []reason{{Rule: "own", Agent: "bob", Since: &t1}}},
		{"boss", []reason{{Rule: "team", Agent: "ann", Team: "t1", Since: &t0}, {Rule: "team", Agent: "bob", Team: "t1", Since: &t1},
			{Rule: "queue", Queue: "sales", Profile: "p-sales"}}},
	}
	for _, tc := range tests {
		t.Run(tc.agent, func(t *testing.T) {
			tok := token(t, tc.agent, auth.ScopeHistoryRead)
			var d explained
			if code := a.do(t, "GET", "/v1/interactions/call-x", tok, "", "", &d); code != 200 {
				t.Fatalf("detail = %d", code)
			}
			if got, want := fmt.Sprint(d.VisibleBecause), fmt.Sprint(tc.want); got != want {
				t.Errorf("detail visible_because = %s, want %s", got, want)
			}
			var list struct{ Items []explained }
			if code := a.do(t, "GET", "/v1/interactions?explain=1", tok, "", "", &list); code != 200 || len(list.Items) != 1 {
				t.Fatalf("list = %d %+v", code, list)
			}
			if n := len(list.Items[0].VisibleBecause); n != len(tc.want) || list.Items[0].VisibleBecause[0].Rule != tc.want[0].Rule {
				t.Errorf("list visible_because = %+v, want the rules of %+v", list.Items[0].VisibleBecause, tc.want)
			}
			var plain struct{ Items []explained }
			if code := a.do(t, "GET", "/v1/interactions", tok, "", "", &plain); code != 200 || len(plain.Items) != 1 || plain.Items[0].VisibleBecause != nil {
				t.Errorf("list without explain = %d %+v, want one item without visible_because", code, plain.Items)
			}
		})
	}
	if code := a.do(t, "GET", "/v1/interactions?explain=maybe", token(t, "ann", auth.ScopeHistoryRead), "", "", nil); code != 400 {
		t.Errorf("explain=maybe = %d, want 400", code)
	}
}

// TestAsOf: the detail as it stood before the transfer shows ann and one event; after it,
// bob and both; before anything, 404; a bad time is 400 naming as_of.
func TestAsOf(t *testing.T) {
	a := startAPI(t)
	t0, t1 := accountabilityFixture(t, a)
	tok := token(t, "boss", auth.ScopeHistoryRead)
	tests := []struct {
		name   string
		asOf   string
		code   int
		agent  string
		events int
	}{
		{"before it started", t0.Add(-time.Minute).Format(time.RFC3339Nano), 404, "", 0},
		{"between start and transfer", t0.Add(time.Minute).Format(time.RFC3339Nano), 200, "ann", 1},
		{"after the transfer", t1.Add(time.Second).Format(time.RFC3339Nano), 200, "bob", 2},
		{"not a time", "yesterday", 400, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d explained
			code := a.do(t, "GET", "/v1/interactions/call-x?as_of="+url.QueryEscape(tc.asOf), tok, "", "", &d)
			if code != tc.code {
				t.Fatalf("as_of %s = %d, want %d", tc.asOf, code, tc.code)
			}
			if code == 200 && (d.AgentID != tc.agent || len(d.Events) != tc.events) {
				t.Errorf("as_of %s: agent %q with %d events, want %q with %d", tc.asOf, d.AgentID, len(d.Events), tc.agent, tc.events)
			}
		})
	}
}

type accessEntry struct {
	Seq            uint64
	At             time.Time
	AgentID        string   `json:"agent_id"`
	Role           string   `json:"role"`
	Profile        string   `json:"profile"`
	Action         string   `json:"action"`
	Query          string   `json:"query"`
	CustomerID     string   `json:"customer_id"`
	InteractionIDs []string `json:"interaction_ids"`
	Rows           int      `json:"rows"`
	RequestID      string   `json:"request_id"`
	ClientAddr     string   `json:"client_addr"`
}

// TestReadAudit: every read of personal data is in the access logs, by customer and by
// agent, with who, what and from where, a searched contact only as its hash; the logs
// need scope audit.
func TestReadAudit(t *testing.T) {
	a := startAPI(t)
	accountabilityFixture(t, a)
	ann := token(t, "ann", auth.ScopeHistoryRead)
	reads := []struct{ path, action string }{
		{"/v1/interactions?q=%2B33612345678", "list"},
		{"/v1/interactions/call-x", "detail"},
		{"/v1/customers/cus-9/card", "card"},
		{"/v1/customers/cus-9/timeline", "timeline"},
		{"/v1/customers/cus-9/chats", "chats"},
		{"/v1/customers/cus-9/tasks", "tasks"},
	}
	for i, rd := range reads {
		req, err := http.NewRequest("GET", a.url+rd.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+ann)
		req.Header.Set("X-Request-Id", fmt.Sprintf("req-%d", i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s = %d", rd.path, resp.StatusCode)
		}
	}
	auditor := token(t, "dpo", auth.ScopeAudit)
	sum := sha256.Sum256([]byte("+33612345678"))
	searched := hex.EncodeToString(sum[:8])
	var log struct {
		Items []accessEntry
	}
	apitest.Eventually(t, "ann's reads in her access log", func() (bool, string) {
		code := a.do(t, "GET", "/v1/agents/ann/access-log", auditor, "", "", &log)
		return code == 200 && len(log.Items) == len(reads), fmt.Sprintf("%d %d entries", code, len(log.Items))
	})
	for i, e := range log.Items {
		want := reads[i]
		wantQuery := want.path
		if i == 0 {
			wantQuery = "/v1/interactions?q=sha256%3A" + searched
		}
		if e.Action != want.action || e.Query != wantQuery || e.AgentID != "ann" || e.Role != "collaborator" ||
			e.Profile != "p-sales" || e.RequestID != fmt.Sprintf("req-%d", i) || e.ClientAddr != "127.0.0.1" || e.At.IsZero() {
			t.Errorf("entry %d = %+v, want %s of %s by ann from 127.0.0.1, request req-%d", i, e, want.action, want.path, i)
		}
	}
	// The list searched a phone number that matched nothing: recorded without a customer.
	if e := log.Items[0]; e.CustomerID != "" || e.Rows != 0 {
		t.Errorf("empty list entry = %+v, want no customer, 0 rows", e)
	}
	if e := log.Items[1]; e.CustomerID != "cus-9" || !slices.Equal(e.InteractionIDs, []string{"call-x"}) || e.Rows != 1 {
		t.Errorf("detail entry = %+v, want cus-9, [call-x], 1 row", e)
	}
	// The customer's log, two by two: five reads of cus-9's data (all but the list).
	var all []accessEntry
	after := ""
	for page := 0; page < 5; page++ {
		var p struct {
			Items []accessEntry
			Next  string `json:"next_cursor"`
		}
		if code := a.do(t, "GET", "/v1/customers/cus-9/access-log?limit=2&cursor="+after, auditor, "", "", &p); code != 200 || len(p.Items) > 2 {
			t.Fatalf("customer access log after %q = %d %+v, want at most 2 entries", after, code, p)
		}
		all = append(all, p.Items...)
		if after = p.Next; after == "" {
			break
		}
	}
	var got []string
	for _, e := range all {
		got = append(got, e.RequestID)
	}
	if want := []string{"req-1", "req-2", "req-3", "req-4", "req-5"}; !slices.Equal(got, want) {
		t.Errorf("customer access log, paged = %v, want %v", got, want)
	}
	for _, e := range all {
		if e.CustomerID != "cus-9" || strings.Contains(e.Query, "33612345678") {
			t.Errorf("customer log holds %+v, another read", e)
		}
	}
	for _, tc := range []struct {
		name, path, tok string
		code            int
	}{
		{"no audit scope", "/v1/customers/cus-9/access-log", ann, 403},
		{"no token", "/v1/agents/ann/access-log", "", 401},
		{"bad cursor", "/v1/agents/ann/access-log?cursor=x", auditor, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code := a.do(t, "GET", tc.path, tc.tok, "", "", nil); code != tc.code {
				t.Errorf("%s = %d, want %d", tc.path, code, tc.code)
			}
		})
	}
}
