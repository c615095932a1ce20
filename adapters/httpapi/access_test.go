package httpapi_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/httpapi/apitest"
)

// The contact centre of the role table: team t1 (ann, bob, nope; managed by boss), team t2
// (cat), an administrator (root) whose profile has queue sales and flow voice only, and
// nope, whose profile has no history access.
func directoryFixture() []map[string]any {
	return []map[string]any{
		apitest.Event("directory.profile", "", 600, map[string]any{"profile_id": "p-sales", "queues": []string{"sales"}, "flows": []string{"voice", "email", "whatsapp"}, "history_access": true}),
		apitest.Event("directory.profile", "", 600, map[string]any{"profile_id": "p-admin", "queues": []string{"sales"}, "flows": []string{"voice"}, "history_access": true}),
		apitest.Event("directory.profile", "", 600, map[string]any{"profile_id": "p-none", "queues": []string{"sales"}, "flows": []string{"voice"}, "history_access": false}),
		apitest.Event("directory.team", "", 600, map[string]any{"team_id": "t1", "manager_ids": []string{"boss"}}),
		apitest.Event("directory.team", "", 600, map[string]any{"team_id": "t2", "manager_ids": []string{"other-boss"}}),
		apitest.Event("directory.agent", "", 600, map[string]any{"agent_id": "ann", "role": "collaborator", "team_id": "t1", "active_profile_id": "p-sales"}),
		apitest.Event("directory.agent", "", 600, map[string]any{"agent_id": "bob", "role": "collaborator", "team_id": "t1", "active_profile_id": "p-sales"}),
		apitest.Event("directory.agent", "", 600, map[string]any{"agent_id": "nope", "role": "collaborator", "team_id": "t1", "active_profile_id": "p-none"}),
		apitest.Event("directory.agent", "", 600, map[string]any{"agent_id": "cat", "role": "collaborator", "team_id": "t2", "active_profile_id": "p-sales"}),
		apitest.Event("directory.agent", "", 600, map[string]any{"agent_id": "boss", "role": "manager", "active_profile_id": "p-sales"}),
		apitest.Event("directory.agent", "", 600, map[string]any{"agent_id": "root", "role": "administrator", "active_profile_id": "p-admin"}),
	}
}

// interaction is one interaction of the fixture and its timeline kind.
type interaction struct {
	id, kind, flow, routing, queue, agent string
}

var fixtureInteractions = []interaction{
	{"call-ann", "call", "voice", "direct", "", "ann"},              // ann's own
	{"chat-ann", "chat", "whatsapp", "direct", "", "ann"},           // ann's own, a chat
	{"mail-ann", "email", "email", "direct", "", "ann"},             // ann's own, an email
	{"call-bob", "call", "voice", "direct", "", "bob"},              // ann's team-mate's
	{"call-cat", "call", "voice", "direct", "", "cat"},              // another team's, direct
	{"chat-support", "chat", "whatsapp", "smart", "support", "cat"}, // another team's, a queue of no profile
	{"mail-sales", "email", "email", "smart", "sales", "cat"},       // another team's, smart through sales
	{"sms-nope", "sms", "sms", "direct", "", "nope"},                // the agent without history access
}

// cardFixture is customer cus-1's card: every interaction above plus one item of every
// other kind.
func cardFixture() []map[string]any {
	c := "cus-1"
	var evs []map[string]any
	for i, in := range fixtureInteractions {
		d := map[string]any{"interaction_id": in.id, "flow": in.flow, "direction": "outgoing", "routing": in.routing, "agent_id": in.agent}
		if in.queue != "" {
			d["queue_id"] = in.queue
		}
		evs = append(evs, apitest.Event("interaction.started", c, 100-i, d))
	}
	return append(evs,
		apitest.Event("interaction.message", c, 90, map[string]any{"interaction_id": "chat-support", "direction": "incoming"}),
		apitest.Event("order.created", c, 80, map[string]any{"order_id": "o-1", "status": "new"}),
		apitest.Event("segment.joined", c, 79, map[string]any{"segment_id": "vip", "name": "VIP"}),
		apitest.Event("task.created", c, 78, map[string]any{"task_id": "t-1", "title": "Call back"}),
		apitest.Event("note.added", c, 77, map[string]any{"note_id": "n-1", "text": "called"}),
		apitest.Event("file.attached", c, 76, map[string]any{"file_id": "f-1", "name": "a.pdf"}),
		apitest.Event("visit.recorded", c, 75, map[string]any{"visit_id": "v-1", "source": "google"}),
		apitest.Event("customer.updated", c, 74, map[string]any{"changes": map[string]any{"city": map[string]any{"from": "Lyon", "to": "Paris"}}}),
	)
}

// TestRoleTable runs every read endpoint and the task command for every kind of reader:
// an agent's own interactions, a team-mate's, another team's (as a collaborator, a
// manager and an administrator), an agent the directory does not know and one whose
// profile has no history access. It asserts the code of each, and that no interaction
// the reader may not open in the history appears in a list, a page of the timeline, the
// chats tab or a count of the card.
func TestRoleTable(t *testing.T) {
	n := startNode(t)
	code, res := n.post(token(t, "svc", auth.ScopeIngest, auth.ScopeDirectoryWrite), append(directoryFixture(), cardFixture()...)...)
	if code != 200 {
		t.Fatalf("post fixture = %d %+v", code, res)
	}
	n.settle(res)
	apitest.Eventually(t, "directory applied", func() (bool, string) {
		_, ok, err := n.dir.Agent("root")
		return err == nil && ok, fmt.Sprint(ok, err)
	})

	visible := map[string][]string{
		"ann":  {"call-ann", "chat-ann", "mail-ann"},
		"bob":  {"call-bob"},
		"cat":  {"call-cat", "chat-support", "mail-sales"},
		"boss": {"call-ann", "chat-ann", "mail-ann", "call-bob", "mail-sales", "sms-nope"},
		"root": {"call-ann", "chat-ann", "mail-ann", "call-bob", "call-cat", "sms-nope"},
	}
	readers := []struct {
		name, agent string
		code        int // of every endpoint; 200: see visible
	}{
		{"collaborator, own", "ann", 200},
		{"collaborator, team-mate of ann", "bob", 200},
		{"collaborator, another team", "cat", 200},
		{"manager of ann's team", "boss", 200},
		{"administrator", "root", 200},
		{"agent unknown to the directory", "ghost", 403},
		{"profile without history access", "nope", 403},
	}
	kindOf := map[string]string{}
	for _, in := range fixtureInteractions {
		kindOf[in.id] = in.kind
	}
	window := "from=" + time.Now().Add(-24*time.Hour).UTC().Format(time.RFC3339) + "&to=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			read := token(t, rd.agent, auth.ScopeHistoryRead)
			want := visible[rd.agent]
			slices.Sort(want)

			var list struct {
				Items []struct {
					InteractionID string `json:"interaction_id"`
				}
			}
			if code := n.do("GET", "/v1/interactions?"+window, read, nil, &list); code != rd.code {
				t.Fatalf("list = %d, want %d", code, rd.code)
			}
			for _, in := range fixtureInteractions {
				wantCode := rd.code
				if rd.code == 200 && !slices.Contains(want, in.id) {
					wantCode = 404
				}
				if code := n.do("GET", "/v1/interactions/"+in.id, read, nil, nil); code != wantCode {
					t.Errorf("detail %s = %d, want %d", in.id, code, wantCode)
				}
			}
			for _, tab := range []string{"timeline", "card", "chats", "tasks", "visits", "segments"} {
				if code := n.do("GET", "/v1/customers/cus-1/"+tab, read, nil, nil); code != rd.code {
					t.Errorf("%s = %d, want %d", tab, code, rd.code)
				}
			}
			create := map[string]any{"title": "Follow up"}
			wantCreate := rd.code
			if wantCreate == 200 {
				wantCreate = 201
			}
			if code := n.do("POST", "/v1/customers/cus-1/tasks", token(t, rd.agent, auth.ScopeTasksWrite), create, nil); code != wantCreate {
				t.Errorf("create task = %d, want %d", code, wantCreate)
			}
			if rd.code != 200 {
				return
			}

			var got []string
			for _, it := range list.Items {
				got = append(got, it.InteractionID)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("list = %v, want %v", got, want)
			}

			// The timeline, paged two by two: exactly the visible interactions, every
			// other item, full pages.
			got = nil
			others := 0
			cur := ""
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatal("timeline cursor does not advance")
				}
				var p struct {
					Items []struct {
						Kind          string `json:"kind"`
						InteractionID string `json:"interaction_id"`
						AgentID       string `json:"agent_id"`
					}
					NextCursor string `json:"next_cursor"`
				}
				if code := n.do("GET", "/v1/customers/cus-1/timeline?limit=2&cursor="+cur, read, nil, &p); code != 200 {
					t.Fatalf("timeline page %d = %d", pages, code)
				}
				for _, it := range p.Items {
					if it.InteractionID != "" {
						got = append(got, it.InteractionID)
					} else {
						others++
					}
				}
				if p.NextCursor == "" {
					break
				}
				if len(p.Items) != 2 {
					t.Errorf("timeline page %d has %d items and a next cursor", pages, len(p.Items))
				}
				cur = p.NextCursor
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("timeline interactions = %v, want %v", got, want)
			}
			if others < 7 {
				t.Errorf("timeline shows %d items that are not interactions, want at least the 7 of the fixture", others)
			}

			var chats struct {
				Items []struct {
					InteractionID string `json:"interaction_id"`
				}
			}
			n.do("GET", "/v1/customers/cus-1/chats", read, nil, &chats)
			var gotChats, wantChats []string
			for _, c := range chats.Items {
				gotChats = append(gotChats, c.InteractionID)
			}
			for _, id := range want {
				if kindOf[id] == "chat" {
					wantChats = append(wantChats, id)
				}
			}
			slices.Sort(gotChats)
			if !slices.Equal(gotChats, wantChats) {
				t.Errorf("chats tab = %v, want %v", gotChats, wantChats)
			}

			var card struct {
				Counts    map[string]int `json:"counts"`
				LastEmail *struct {
					InteractionID string `json:"interaction_id"`
				} `json:"last_email"`
			}
			n.do("GET", "/v1/customers/cus-1/card", read, nil, &card)
			wantCounts := map[string]int{}
			for _, id := range want {
				wantCounts[kindOf[id]]++
			}
			for _, k := range []string{"call", "email", "sms", "chat"} {
				if card.Counts[k] != wantCounts[k] {
					t.Errorf("card count %s = %d, want %d", k, card.Counts[k], wantCounts[k])
				}
			}
			// mail-sales is newer than mail-ann: it is the last email only for who sees it.
			wantLast := ""
			for _, id := range []string{"mail-sales", "mail-ann"} {
				if slices.Contains(want, id) {
					wantLast = id
					break
				}
			}
			gotLast := ""
			if card.LastEmail != nil {
				gotLast = card.LastEmail.InteractionID
			}
			if gotLast != wantLast {
				t.Errorf("card last email = %q, want %q", gotLast, wantLast)
			}
		})
	}

	t.Run("tabs page", func(t *testing.T) {
		read := token(t, "ann", auth.ScopeHistoryRead)
		// t-1 and one task created by each of the five readers with access.
		var got []string
		cur := ""
		for pages := 0; pages < 2; pages++ {
			var p struct {
				Items []struct {
					TaskID string `json:"task_id"`
				}
				NextCursor string `json:"next_cursor"`
			}
			if code := n.do("GET", "/v1/customers/cus-1/tasks?limit=4&cursor="+cur, read, nil, &p); code != 200 {
				t.Fatalf("tasks page %d = %d", pages, code)
			}
			if wantLen := []int{4, 2}[pages]; len(p.Items) != wantLen || (pages == 0) != (p.NextCursor != "") {
				t.Fatalf("tasks page %d: %d items, next %q; want %d items", pages, len(p.Items), p.NextCursor, wantLen)
			}
			for _, it := range p.Items {
				got = append(got, it.TaskID)
			}
			cur = p.NextCursor
		}
		if slices.Sort(got); len(slices.Compact(got)) != 6 {
			t.Errorf("tasks over two pages = %v, want 6 different", got)
		}
		for _, q := range []string{"visits?limit=0", "segments?cursor=**", "chats?kind=call", "timeline?cursor=AAAA"} {
			if code := n.do("GET", "/v1/customers/cus-1/"+q, read, nil, nil); code != 400 {
				t.Errorf("%s = %d, want 400", q, code)
			}
		}
	})
	t.Run("token without exp", func(t *testing.T) {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "ann", "scope": auth.ScopeHistoryRead}).SignedString([]byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/v1/interactions", "/v1/customers/cus-1/timeline"} {
			if code := n.do("GET", path, tok, nil, nil); code != 401 {
				t.Errorf("%s = %d, want 401", path, code)
			}
		}
	})
	t.Run("missing scope", func(t *testing.T) {
		for _, path := range []string{"/v1/interactions", "/v1/customers/cus-1/timeline", "/v1/customers/cus-1/card", "/v1/customers/cus-1/tasks"} {
			if code := n.do("GET", path, token(t, "ann", auth.ScopeTasksWrite, auth.ScopeIngest), nil, nil); code != 403 {
				t.Errorf("%s without history:read = %d, want 403", path, code)
			}
		}
		if code := n.do("POST", "/v1/customers/cus-1/tasks", token(t, "ann", auth.ScopeHistoryRead), map[string]any{"title": "x"}, nil); code != 403 {
			t.Errorf("task command without tasks:write = %d, want 403", code)
		}
	})
}
