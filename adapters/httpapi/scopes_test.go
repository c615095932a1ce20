package httpapi_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/httpapi/apitest"
	"github.com/interaction-ledger/ledger/adapters/ingest"
)

// TestEventScopes: each event of POST /v1/events is judged by its type's scope:
// directory.* needs directory:write, customer.erased needs erase, the rest ingest. A
// refused event is stored nowhere, whatever else its batch holds.
func TestEventScopes(t *testing.T) {
	n := startNode(t)
	admin := func(agent string) map[string]any {
		return apitest.Event("directory.agent", "", 1, map[string]any{"agent_id": agent, "role": "administrator", "active_profile_id": "p"})
	}
	call := func(id string) map[string]any {
		return apitest.Event("interaction.started", "cus-keep", 2, map[string]any{"interaction_id": id, "flow": "voice", "direction": "incoming", "routing": "direct", "agent_id": "ann"})
	}
	erase := func() map[string]any { return apitest.Event("customer.erased", "cus-keep", 0, map[string]any{}) }
	ingestAndDirectory := token(t, "svc", auth.ScopeIngest, auth.ScopeDirectoryWrite)
	code, res := n.post(ingestAndDirectory, call("call-0"),
		apitest.Event("directory.profile", "", 1, map[string]any{"profile_id": "p", "history_access": true}),
		apitest.Event("directory.agent", "", 1, map[string]any{"agent_id": "ann", "role": "collaborator", "active_profile_id": "p"}))
	if code != 200 {
		t.Fatalf("post fixture = %d %+v", code, res)
	}
	tests := []struct {
		name   string
		scopes []string
		events []map[string]any
		code   int
		status []string // per event
	}{
		{"ingest posts a directory event", []string{auth.ScopeIngest}, []map[string]any{admin("mallory-1")}, 403, []string{"rejected"}},
		{"ingest posts an erasure", []string{auth.ScopeIngest}, []map[string]any{erase()}, 403, []string{"rejected"}},
		{"ingest batch with a directory event", []string{auth.ScopeIngest}, []map[string]any{call("call-1"), admin("mallory-2")}, 207, []string{"accepted", "rejected"}},
		{"directory:write posts a call", []string{auth.ScopeDirectoryWrite}, []map[string]any{call("call-2")}, 403, []string{"rejected"}},
		{"erase posts a directory event", []string{auth.ScopeErase}, []map[string]any{admin("mallory-3")}, 403, []string{"rejected"}},
		{"history:read posts anything", []string{auth.ScopeHistoryRead}, []map[string]any{call("call-3")}, 403, nil},
		{"directory:write posts a directory event", []string{auth.ScopeDirectoryWrite}, []map[string]any{admin("dora")}, 202, []string{"accepted"}},
		{"ingest and directory:write, both kinds", []string{auth.ScopeIngest, auth.ScopeDirectoryWrite}, []map[string]any{call("call-4"), admin("dora-2")}, 200, []string{"accepted", "accepted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp struct {
				Results []ingest.Outcome
			}
			var body any = tt.events
			if len(tt.events) == 1 {
				body = tt.events[0]
			}
			code := n.do("POST", "/v1/events", token(t, "svc", tt.scopes...), body, &resp)
			if code != tt.code {
				t.Fatalf("code = %d, want %d (%+v)", code, tt.code, resp.Results)
			}
			if len(resp.Results) != len(tt.status) {
				t.Fatalf("results = %+v, want %d", resp.Results, len(tt.status))
			}
			for i, o := range resp.Results {
				if o.Status != tt.status[i] {
					t.Errorf("event %d: %s (%s), want %s", i, o.Status, o.Error, tt.status[i])
				}
				if o.Status == "rejected" && (!o.Forbidden || o.Field != "type" || o.Seq != 0) {
					t.Errorf("event %d: refused as %+v; want forbidden, field type, not stored", i, o)
				}
			}
		})
	}

	// Nothing refused was stored: the directory stream is applied in order, so once dora-2
	// (posted last) is in the view, a stored mallory would be too; and once the views
	// applied an event posted after the refused erasures, cus-keep still has call-0.
	apitest.Eventually(t, "dora-2 in the directory", func() (bool, string) {
		_, ok, err := n.dir.Agent("dora-2")
		return err == nil && ok, fmt.Sprint(ok, err)
	})
	for _, m := range []string{"mallory-1", "mallory-2", "mallory-3"} {
		if _, ok, err := n.dir.Agent(m); err != nil || ok {
			t.Errorf("refused directory.agent %s is in the directory (ok=%v, err=%v)", m, ok, err)
		}
	}
	code, res = n.post(ingestAndDirectory, call("call-5"))
	if code != 200 {
		t.Fatalf("post call-5 = %d %+v", code, res)
	}
	n.settle(res)
	var p struct {
		Items []struct {
			InteractionID string `json:"interaction_id"`
		}
	}
	if code := n.do("GET", "/v1/customers/cus-keep/timeline", token(t, "ann", auth.ScopeHistoryRead), nil, &p); code != 200 {
		t.Fatalf("cus-keep's timeline = %d", code)
	}
	var ids []string
	for _, it := range p.Items {
		ids = append(ids, it.InteractionID)
	}
	if !slices.Contains(ids, "call-0") {
		t.Errorf("cus-keep's timeline = %v; call-0, stored before the refused erasures, is gone", ids)
	}
}
