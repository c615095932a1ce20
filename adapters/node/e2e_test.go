package node

import (
	"net/url"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/auth"
)

// theFixture is built once, so that posting it again sends the same event ids.
var theFixture = sync.OnceValue(fixture)

// fixture is a small contact centre whose visibility answers are worked out by hand
// from CONTRACT.md §3.
func fixture() []map[string]any {
	return []map[string]any{
		ev("directory.profile", "", 600, map[string]any{"profile_id": "p-sales", "queues": []string{"sales"}, "flows": []string{"voice", "email", "chat"}, "history_access": true}),
		ev("directory.profile", "", 600, map[string]any{"profile_id": "p-admin", "queues": []string{"sales", "support"}, "flows": []string{"voice"}, "history_access": true}),
		ev("directory.profile", "", 600, map[string]any{"profile_id": "p-none", "queues": []string{"sales"}, "history_access": false}),
		ev("directory.team", "", 600, map[string]any{"team_id": "t1", "manager_ids": []string{"boss"}}),
		ev("directory.team", "", 600, map[string]any{"team_id": "t2", "manager_ids": []string{"other-boss"}}),
		ev("directory.agent", "", 600, map[string]any{"agent_id": "ann", "role": "collaborator", "team_id": "t1", "active_profile_id": "p-sales"}),
		ev("directory.agent", "", 600, map[string]any{"agent_id": "bob", "role": "collaborator", "team_id": "t1", "active_profile_id": "p-sales"}),
		ev("directory.agent", "", 600, map[string]any{"agent_id": "cat", "role": "collaborator", "team_id": "t2", "active_profile_id": "p-sales"}),
		ev("directory.agent", "", 600, map[string]any{"agent_id": "boss", "role": "manager", "active_profile_id": "p-sales"}),
		ev("directory.agent", "", 600, map[string]any{"agent_id": "root", "role": "administrator", "active_profile_id": "p-admin"}),
		ev("directory.agent", "", 600, map[string]any{"agent_id": "nope", "role": "collaborator", "team_id": "t1", "active_profile_id": "p-none"}),

		ev("interaction.started", "cus-1", 50, map[string]any{"interaction_id": "call-1", "flow": "voice", "direction": "incoming", "routing": "smart", "queue_id": "sales", "agent_id": "ann", "contact": map[string]any{"phone": "+1 415 555 0100"}}),
		ev("interaction.ended", "cus-1", 45, map[string]any{"interaction_id": "call-1", "status": "processed"}),
		// call-2 is transferred from bob (queue support) to cat, directly.
		ev("interaction.routed", "cus-2", 38, map[string]any{"interaction_id": "call-2", "routing": "direct", "agent_id": "cat", "sr_data": map[string]any{"reason": "expert"}}),
		ev("interaction.started", "cus-2", 40, map[string]any{"interaction_id": "call-2", "flow": "voice", "direction": "incoming", "routing": "smart", "queue_id": "support", "agent_id": "bob", "contact": map[string]any{"phone": "(415) 555-0199"}}),
		ev("interaction.ended", "cus-2", 30, map[string]any{"interaction_id": "call-2", "status": "dissuaded", "reason": "queue closed"}),
		ev("interaction.started", "cus-1", 20, map[string]any{"interaction_id": "mail-1", "flow": "email", "direction": "outgoing", "routing": "direct", "agent_id": "cat", "contact": map[string]any{"email": "C@Example.com"}}),
		ev("interaction.started", "cus-3", 15, map[string]any{"interaction_id": "chat-1", "flow": "chat", "direction": "incoming", "routing": "smart", "queue_id": "support", "agent_id": "cat"}),
		ev("interaction.message", "cus-3", 14, map[string]any{"interaction_id": "chat-1", "direction": "incoming"}),
		ev("interaction.started", "cus-4", 10, map[string]any{"interaction_id": "call-3", "flow": "voice", "direction": "outgoing", "routing": "direct", "agent_id": "dan"}),
	}
}

func window() string {
	now := time.Now().UTC()
	v := url.Values{"from": {now.Add(-3 * time.Hour).Format(time.RFC3339)}, "to": {now.Add(time.Hour).Format(time.RFC3339)}}
	return v.Encode()
}

func listVisible(t *testing.T, in *instance, agent string) (int, []string) {
	t.Helper()
	var p listPage
	code := in.do("GET", "/v1/interactions?"+window(), token(t, agent, auth.ScopeHistoryRead), nil, &p)
	ids := p.IDs()
	sort.Strings(ids)
	return code, ids
}

var wantVisible = map[string][]string{
	"ann":  {"call-1"},
	"bob":  {"call-2"}, // handled before the transfer
	"cat":  {"call-2", "chat-1", "mail-1"},
	"boss": {"call-1", "call-2"},                     // team t1's agents, and smart through sales
	"root": {"call-1", "call-2", "call-3", "mail-1"}, // smart voice through sales/support, all direct
}

func postFixture(t *testing.T, in *instance) {
	t.Helper()
	var resp struct {
		Accepted, Duplicates, Rejected int
	}
	if code := in.do("POST", "/v1/events", token(t, "svc", auth.ScopeIngest), theFixture(), &resp); code != 200 || resp.Accepted != len(theFixture()) {
		t.Fatalf("POST fixture = %d %+v", code, resp)
	}
}

func waitVisible(t *testing.T, in *instance) {
	t.Helper()
	for agent, want := range wantVisible {
		eventually(t, "list for "+agent, func() (bool, string) {
			code, got := listVisible(t, in, agent)
			return code == 200 && slices.Equal(got, want), fmtIDs(got)
		})
	}
}

func TestEndToEndRoles(t *testing.T) {
	in := startLedger(t, "")
	postFixture(t, in)
	waitVisible(t, in)

	if code, _ := listVisible(t, in, "nope"); code != 403 {
		t.Errorf("agent without history access: %d, want 403", code)
	}
	if code, _ := listVisible(t, in, "stranger"); code != 403 {
		t.Errorf("agent unknown to the directory: %d, want 403", code)
	}
	if code := in.do("GET", "/v1/interactions", "", nil, nil); code != 401 {
		t.Errorf("no token: %d, want 401", code)
	}
	if code := in.do("GET", "/v1/interactions", token(t, "ann", auth.ScopeIngest), nil, nil); code != 403 {
		t.Errorf("token without history:read: %d, want 403", code)
	}

	// The detail: visible ones answer with their events oldest first; others are 404.
	var d struct {
		Status          string           `json:"status"`
		Reason          string           `json:"reason"`
		OriginalRouting string           `json:"original_routing"`
		CurrentRouting  string           `json:"current_routing"`
		AgentID         string           `json:"agent_id"`
		Events          []map[string]any `json:"events"`
	}
	if code := in.do("GET", "/v1/interactions/call-2", token(t, "boss", auth.ScopeHistoryRead), nil, &d); code != 200 {
		t.Fatalf("boss reads call-2: %d", code)
	}
	if d.Status != "dissuaded" || d.Reason != "queue closed" || d.OriginalRouting != "smart" || d.CurrentRouting != "direct" || d.AgentID != "cat" {
		t.Errorf("call-2 detail = %+v", d)
	}
	if len(d.Events) != 3 || d.Events[0]["type"] != "interaction.started" || d.Events[2]["type"] != "interaction.ended" {
		t.Errorf("call-2 events not oldest first: %v", d.Events)
	}
	for _, c := range []struct {
		agent, id string
		code      int
	}{
		{"ann", "call-1", 200}, {"ann", "call-2", 404}, {"ann", "missing", 404},
		{"bob", "call-2", 200}, {"cat", "call-1", 404}, {"root", "chat-1", 404}, {"root", "mail-1", 200},
	} {
		if code := in.do("GET", "/v1/interactions/"+c.id, token(t, c.agent, auth.ScopeHistoryRead), nil, nil); code != c.code {
			t.Errorf("%s reads %s: %d, want %d", c.agent, c.id, code, c.code)
		}
	}

	// A directory change takes effect on the next request: bob moves to team t2.
	in.do("POST", "/v1/events", token(t, "svc", auth.ScopeIngest),
		ev("directory.agent", "", 1, map[string]any{"agent_id": "bob", "role": "collaborator", "team_id": "t2", "active_profile_id": "p-sales"}), nil)
	eventually(t, "boss loses bob's call after bob changes team", func() (bool, string) {
		_, got := listVisible(t, in, "boss")
		return slices.Equal(got, []string{"call-1"}), fmtIDs(got)
	})
}

func TestIngestAnswers(t *testing.T) {
	in := startLedger(t, "")
	tok := token(t, "svc", auth.ScopeIngest)
	e := ev("interaction.started", "cus-1", 1, map[string]any{"interaction_id": "x", "flow": "voice", "direction": "incoming", "routing": "direct"})
	var one map[string]any
	if code := in.do("POST", "/v1/events", tok, e, &one); code != 202 || one["status"] != "accepted" {
		t.Fatalf("first post = %d %v", code, one)
	}
	if code := in.do("POST", "/v1/events", tok, e, &one); code != 200 || one["status"] != "duplicate" {
		t.Fatalf("second post = %d %v", code, one)
	}
	bad := ev("interaction.started", "cus-1", 1, map[string]any{"interaction_id": "y", "direction": "incoming", "routing": "direct"})
	if code := in.do("POST", "/v1/events", tok, bad, &one); code != 400 || one["field"] != "data.flow" {
		t.Fatalf("bad post = %d %v", code, one)
	}
	good := ev("note.added", "cus-1", 1, map[string]any{"note_id": "n1", "text": "hello"})
	var batch struct {
		Accepted, Rejected int
		Results            []struct{ Status, Field string }
	}
	if code := in.do("POST", "/v1/events", tok, []any{good, bad}, &batch); code != 207 || batch.Accepted != 1 || batch.Rejected != 1 || batch.Results[1].Field != "data.flow" {
		t.Fatalf("mixed batch = %d %+v", code, batch)
	}
	if code := in.do("POST", "/v1/events", token(t, "svc", auth.ScopeHistoryRead), e, nil); code != 403 {
		t.Fatalf("post without ingest scope = %d", code)
	}
}

func TestRestartKeepsAnswers(t *testing.T) {
	dir := t.TempDir()
	in := startLedger(t, dir)
	postFixture(t, in)
	waitVisible(t, in)
	in.stop()

	in = startLedger(t, dir)
	waitVisible(t, in)
	// The same events again are duplicates, also after a restart.
	var resp struct{ Accepted, Duplicates int }
	if code := in.do("POST", "/v1/events", token(t, "svc", auth.ScopeIngest), theFixture()[:3], &resp); code != 200 || resp.Duplicates != 3 {
		t.Fatalf("repost = %d %+v, want 3 duplicates", code, resp)
	}
	var d struct{ Events []any }
	in.do("GET", "/v1/interactions/call-2", token(t, "boss", auth.ScopeHistoryRead), nil, &d)
	if len(d.Events) != 3 {
		t.Fatalf("after restart call-2 has %d events, want 3", len(d.Events))
	}
}
