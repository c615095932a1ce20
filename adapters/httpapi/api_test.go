package httpapi_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/interaction-ledger/ledger/adapters/auth"
)

// directoryFixture: root administrator (history access), ann a collaborator of team t1,
// nope whose profile has no history access.
func directoryFixtureAPI(t testing.TB, a *api) {
	t.Helper()
	a.post(t,
		ev("directory.profile", "", 60, map[string]any{"profile_id": "p-all", "queues": []string{"sales"}, "flows": []string{"voice"}, "history_access": true}),
		ev("directory.profile", "", 60, map[string]any{"profile_id": "p-none", "queues": []string{"sales"}, "history_access": false}),
		ev("directory.team", "", 60, map[string]any{"team_id": "t1", "manager_ids": []string{}}),
		ev("directory.agent", "", 60, map[string]any{"agent_id": "root", "role": "administrator", "active_profile_id": "p-all"}),
		ev("directory.agent", "", 60, map[string]any{"agent_id": "ann", "role": "collaborator", "team_id": "t1", "active_profile_id": "p-all"}),
		ev("directory.agent", "", 60, map[string]any{"agent_id": "nope", "role": "collaborator", "team_id": "t1", "active_profile_id": "p-none"}),
	)
}

// TestAuth: every door checks the token, its scope and, for history, the directory.
func TestAuth(t *testing.T) {
	a := startAPI(t)
	directoryFixtureAPI(t, a)
	a.caughtUp(t)
	tests := []struct {
		name, method, path, tok string
		want                    int
	}{
		{"no token", "GET", "/v1/interactions", "", http.StatusUnauthorized},
		{"bad signature", "GET", "/v1/interactions", "e30.e30.e30", http.StatusUnauthorized},
		{"missing scope", "GET", "/v1/interactions", token(t, "root", auth.ScopeIngest), http.StatusForbidden},
		{"agent not in directory", "GET", "/v1/interactions", token(t, "ghost", auth.ScopeHistoryRead), http.StatusForbidden},
		{"profile without history access", "GET", "/v1/interactions", token(t, "nope", auth.ScopeHistoryRead), http.StatusForbidden},
		{"history reader", "GET", "/v1/interactions", token(t, "root", auth.ScopeHistoryRead), http.StatusOK},
		{"ingest without its scope", "POST", "/v1/events", token(t, "root", auth.ScopeHistoryRead), http.StatusForbidden},
		{"task command without its scope", "POST", "/v1/customers/c1/tasks", token(t, "root", auth.ScopeHistoryRead), http.StatusForbidden},
		{"ops without its scope", "GET", "/v1/admin/status", token(t, "root", auth.ScopeHistoryRead), http.StatusForbidden},
		{"ops", "GET", "/v1/admin/status", token(t, "root", auth.ScopeOps), http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := a.do(t, tc.method, tc.path, tc.tok, "application/json", "{}", nil); got != tc.want {
				t.Errorf("%s %s: got %d, want %d", tc.method, tc.path, got, tc.want)
			}
		})
	}
}

// TestPostEvents: one object, an array and NDJSON are each judged per event.
func TestPostEvents(t *testing.T) {
	a := startAPI(t)
	tok := token(t, "producer", auth.ScopeIngest)
	good := func() string {
		return mustJSON(t, ev("note.added", "c1", 1, map[string]any{"note_id": "n", "text": "hi"}))
	}
	bad := mustJSON(t, ev("note.added", "c1", 1, map[string]any{"note_id": "n"}))
	type result struct {
		Status, Field string
	}
	tests := []struct {
		name, contentType, body string
		wantCode                int
		want                    []result
	}{
		{"one object", "application/json", good(), http.StatusAccepted, []result{{"accepted", ""}}},
		{"one invalid object", "application/json", bad, http.StatusBadRequest, []result{{"rejected", "data.text"}}},
		{"array", "application/json", "[" + good() + "," + bad + "]", http.StatusMultiStatus, []result{{"accepted", ""}, {"rejected", "data.text"}}},
		{"ndjson", "application/x-ndjson", good() + "\n" + good() + "\n", http.StatusOK, []result{{"accepted", ""}, {"accepted", ""}}},
		{"not json", "application/json", "{", http.StatusBadRequest, []result{{"rejected", "envelope"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out struct{ Results []result }
			if got := a.do(t, "POST", "/v1/events", tok, tc.contentType, tc.body, &out); got != tc.wantCode {
				t.Fatalf("code: got %d, want %d", got, tc.wantCode)
			}
			if !slices.Equal(out.Results, tc.want) {
				t.Errorf("results: got %+v, want %+v", out.Results, tc.want)
			}
		})
	}
}

// TestHistory: the list and the detail answer from the view, by the directory's rule.
func TestHistory(t *testing.T) {
	a := startAPI(t)
	directoryFixtureAPI(t, a)
	a.post(t,
		ev("interaction.started", "c1", 30, map[string]any{"interaction_id": "call-1", "flow": "voice", "direction": "incoming", "routing": "smart", "queue_id": "sales", "agent_id": "ann"}),
		ev("interaction.ended", "c1", 25, map[string]any{"interaction_id": "call-1", "status": "processed"}),
		ev("interaction.started", "c2", 20, map[string]any{"interaction_id": "call-2", "flow": "voice", "direction": "incoming", "routing": "smart", "queue_id": "sales", "agent_id": "someone-else"}),
	)
	a.caughtUp(t)
	list := func(agent string) []string {
		t.Helper()
		var page struct {
			Items []struct {
				InteractionID string `json:"interaction_id"`
			}
		}
		if code := a.do(t, "GET", "/v1/interactions?sort=start_at", token(t, agent, auth.ScopeHistoryRead), "", "", &page); code != http.StatusOK {
			t.Fatalf("list as %s: code %d", agent, code)
		}
		var ids []string
		for _, it := range page.Items {
			ids = append(ids, it.InteractionID)
		}
		slices.Sort(ids)
		return ids
	}
	if got, want := list("root"), []string{"call-1", "call-2"}; !slices.Equal(got, want) {
		t.Errorf("administrator sees %v, want %v", got, want)
	}
	if got, want := list("ann"), []string{"call-1"}; !slices.Equal(got, want) {
		t.Errorf("collaborator sees %v, want %v", got, want)
	}
	var detail struct {
		Status string `json:"status"`
	}
	if code := a.do(t, "GET", "/v1/interactions/call-1", token(t, "ann", auth.ScopeHistoryRead), "", "", &detail); code != http.StatusOK || detail.Status != "processed" {
		t.Errorf("detail of call-1 as ann: code %d, status %q; want 200, processed", code, detail.Status)
	}
	if code := a.do(t, "GET", "/v1/interactions/call-2", token(t, "ann", auth.ScopeHistoryRead), "", "", nil); code != http.StatusNotFound {
		t.Errorf("detail of another's call as ann: code %d, want 404", code)
	}
	if code := a.do(t, "GET", "/v1/interactions/nope", token(t, "root", auth.ScopeHistoryRead), "", "", nil); code != http.StatusNotFound {
		t.Errorf("detail of an unknown id: code %d, want 404", code)
	}
}

// TestCardAndTasks: task commands follow the card's rules (409 on a refused transition)
// and the card endpoints show their result.
func TestCardAndTasks(t *testing.T) {
	a := startAPI(t)
	directoryFixtureAPI(t, a) // card commands need an agent the directory knows
	a.post(t, ev("note.added", "c1", 5, map[string]any{"note_id": "n1", "text": "called back"}))
	a.caughtUp(t)
	write := token(t, "ann", auth.ScopeTasksWrite)
	read := token(t, "ann", auth.ScopeHistoryRead)
	var created struct {
		TaskID string `json:"task_id"`
		State  string `json:"state"`
	}
	if code := a.do(t, "POST", "/v1/customers/c1/tasks", write, "application/json", `{"title":"Call back"}`, &created); code != http.StatusCreated || created.State != "pending" {
		t.Fatalf("create: code %d, state %q; want 201, pending", code, created.State)
	}
	path := "/v1/customers/c1/tasks/" + created.TaskID
	steps := []struct {
		name, method, path, body string
		want                     int
	}{
		{"complete a pending task", "POST", path + "/complete", "{}", http.StatusOK},
		{"complete it again", "POST", path + "/complete", "{}", http.StatusConflict},
		{"reopen it", "POST", path + "/reopen", "{}", http.StatusOK},
		{"delete it", "DELETE", path, "{}", http.StatusOK},
		{"edit a deleted task", "PATCH", path, `{"title":"Edited"}`, http.StatusConflict},
		{"complete an unknown task", "POST", "/v1/customers/c1/tasks/none/complete", "{}", http.StatusNotFound},
		{"create without title", "POST", "/v1/customers/c1/tasks", "{}", http.StatusBadRequest},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if got := a.do(t, st.method, st.path, write, "application/json", st.body, nil); got != st.want {
				t.Errorf("%s %s: got %d, want %d", st.method, st.path, got, st.want)
			}
		})
	}
	a.caughtUp(t)
	for _, p := range []string{"timeline", "card", "tasks", "chats", "visits", "segments"} {
		if code := a.do(t, "GET", "/v1/customers/c1/"+p, read, "", "", nil); code != http.StatusOK {
			t.Errorf("GET %s: code %d, want 200", p, code)
		}
	}
	var tl struct {
		Items []struct{ Kind string }
	}
	a.do(t, "GET", "/v1/customers/c1/timeline", read, "", "", &tl)
	var kinds []string
	for _, it := range tl.Items {
		kinds = append(kinds, it.Kind)
	}
	if !slices.Contains(kinds, "note") {
		t.Errorf("timeline kinds %v: want the note", kinds)
	}
}

// TestOps: the ops endpoints pass their parameters on and check them.
func TestOps(t *testing.T) {
	a := startAPI(t)
	tok := token(t, "root", auth.ScopeOps)
	tests := []struct {
		name, method, path string
		want               int
	}{
		{"status", "GET", "/v1/admin/status", http.StatusOK},
		{"dead letters", "GET", "/v1/admin/deadletters?limit=5", http.StatusOK},
		{"dead letters, bad limit", "GET", "/v1/admin/deadletters?limit=x", http.StatusBadRequest},
		{"rebuild", "POST", "/v1/admin/views/history/rebuild", http.StatusAccepted},
		{"health", "GET", "/healthz", http.StatusOK},
		{"ready", "GET", "/readyz", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := a.do(t, tc.method, tc.path, tok, "", "", nil); got != tc.want {
				t.Errorf("%s %s: got %d, want %d", tc.method, tc.path, got, tc.want)
			}
		})
	}
}
