package node

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/interaction-ledger/ledger/adapters/auth"
)

type timelineItem map[string]any

func (in *instance) timeline(t *testing.T, customer, query string) []timelineItem {
	t.Helper()
	return in.timelineAs(t, "ann", customer, query)
}

// timelineAs reads the timeline as agent: it shows only what agent may see in the history.
func (in *instance) timelineAs(t *testing.T, agent, customer, query string) []timelineItem {
	t.Helper()
	var p struct {
		Items []timelineItem `json:"items"`
	}
	if code := in.do("GET", "/v1/customers/"+customer+"/timeline"+query, token(t, agent, auth.ScopeHistoryRead), nil, &p); code != 200 {
		t.Fatalf("timeline %s%s = %d", customer, query, code)
	}
	return p.Items
}

func kinds(items []timelineItem) map[string]int {
	m := map[string]int{}
	for _, it := range items {
		m[it["kind"].(string)]++
	}
	return m
}

// seedCardReader puts ann in the directory as a manager whose profile has history access
// through queue q: card reads and task commands need an agent the directory knows
// (CONTRACT §3), and ann then sees every interaction these tests post.
func seedCardReader(t *testing.T, in *instance) {
	t.Helper()
	dir := []map[string]any{
		ev("directory.profile", "", 60, map[string]any{"profile_id": "card-p", "queues": []string{"q"}, "flows": []string{"voice", "email", "sms", "whatsapp", "whatsapp_campaign", "telegram", "chat", "messenger"}, "history_access": true}),
		ev("directory.agent", "", 60, map[string]any{"agent_id": "ann", "role": "manager", "active_profile_id": "card-p"}),
	}
	if code := in.do("POST", "/v1/events", token(t, "svc", auth.ScopeDirectoryWrite), dir, nil); code != 200 {
		t.Fatalf("post directory = %d", code)
	}
	eventually(t, "ann is in the directory", func() (bool, string) {
		code := in.do("GET", "/v1/customers/nobody/timeline", token(t, "ann", auth.ScopeHistoryRead), nil, nil)
		return code == 200, fmt.Sprint(code)
	})
}

// TestCardEveryKindThroughTheAPI posts one event of every customer-card kind, some out
// of order, and reads them back through the timeline and the tabs.
func TestCardEveryKindThroughTheAPI(t *testing.T) {
	in := startLedger(t, "")
	seedCardReader(t, in)
	c := "cus-card"
	evs := []map[string]any{
		// out of order: the email's open and end arrive before it starts
		ev("email.opened", c, 5, map[string]any{"interaction_id": "m-1"}),
		ev("interaction.ended", c, 9, map[string]any{"interaction_id": "m-1", "status": "delivered"}),
		ev("interaction.started", c, 10, map[string]any{"interaction_id": "m-1", "flow": "email", "direction": "outgoing", "routing": "direct", "agent_id": "ann", "contact": map[string]any{"email": "x@example.com"}}),
		ev("email.opened", c, 4, map[string]any{"interaction_id": "m-1"}),
		ev("interaction.started", c, 30, map[string]any{"interaction_id": "v-1", "flow": "voice", "direction": "incoming", "routing": "direct", "agent_id": "ann"}),
		ev("interaction.started", c, 29, map[string]any{"interaction_id": "s-1", "flow": "sms", "direction": "outgoing", "routing": "direct", "agent_id": "ann"}),
		ev("interaction.started", c, 28, map[string]any{"interaction_id": "w-1", "flow": "whatsapp", "direction": "incoming", "routing": "smart", "queue_id": "q"}),
		ev("interaction.message", c, 27, map[string]any{"interaction_id": "w-1", "direction": "incoming"}),
		ev("interaction.message", c, 26, map[string]any{"interaction_id": "w-1", "direction": "outgoing"}),
		ev("order.created", c, 25, map[string]any{"order_id": "o-1", "status": "new", "total": "99.90", "currency": "EUR"}),
		ev("order.updated", c, 24, map[string]any{"order_id": "o-1", "status": "paid", "changes": map[string]any{"status": map[string]any{"from": "new", "to": "paid"}}}),
		ev("segment.joined", c, 23, map[string]any{"segment_id": "vip", "name": "VIP"}),
		ev("segment.left", c, 3, map[string]any{"segment_id": "vip", "name": "VIP"}),
		ev("note.added", c, 22, map[string]any{"note_id": "n-1", "text": "called back", "author_id": "ann"}),
		ev("file.attached", c, 21, map[string]any{"file_id": "f-1", "name": "invoice.pdf", "size": 1234, "content_type": "application/pdf"}),
		ev("visit.recorded", c, 20, map[string]any{"visit_id": "vis-1", "source": "google", "channel": "search", "duration_s": 120, "pages": []string{"/", "/shoes"}}),
		ev("customer.updated", c, 19, map[string]any{"changes": map[string]any{"city": map[string]any{"from": "Lyon", "to": "Paris"}}}),
		ev("task.created", c, 18, map[string]any{"task_id": "t-1", "title": "Call back"}),
	}
	if code := in.do("POST", "/v1/events", token(t, "svc", auth.ScopeIngest, auth.ScopeDirectoryWrite, auth.ScopeErase), evs, nil); code != 200 {
		t.Fatalf("post = %d", code)
	}
	want := map[string]int{"call": 1, "email": 1, "sms": 1, "chat": 1, "order": 2, "segment": 2, "note": 1, "file": 1, "visit": 1, "card": 1, "task": 1}
	eventually(t, "every kind on the timeline", func() (bool, string) {
		got := kinds(in.timeline(t, c, ""))
		return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprint(got)
	})
	items := in.timeline(t, c, "")
	for k := 1; k < len(items); k++ {
		if items[k-1]["occurred_at"].(string) < items[k]["occurred_at"].(string) {
			t.Errorf("timeline not newest first at %d", k)
		}
	}
	emails := in.timeline(t, c, "?kind=email")
	if len(emails) != 1 || emails[0]["opened_at"] == nil || emails[0]["open_count"] != float64(2) || emails[0]["interaction_id"] != "m-1" {
		t.Errorf("email item = %v", emails)
	}
	if got := kinds(in.timeline(t, c, "?kind=order&kind=note")); got["order"] != 2 || got["note"] != 1 || len(got) != 2 {
		t.Errorf("kind=order&kind=note gave %v", got)
	}
	var card struct {
		LastEmailOpened bool `json:"last_email_opened"`
	}
	in.do("GET", "/v1/customers/"+c+"/card", token(t, "ann", auth.ScopeHistoryRead), nil, &card)
	if !card.LastEmailOpened {
		t.Errorf("card says the last email was not opened")
	}
	tabs := map[string]func([]map[string]any) bool{
		"chats": func(it []map[string]any) bool {
			return len(it) == 1 && it[0]["message_count"] == float64(2) && it[0]["channel"] == "whatsapp"
		},
		"tasks": func(it []map[string]any) bool { return len(it) == 1 && it[0]["status"] == "pending" },
		"visits": func(it []map[string]any) bool {
			return len(it) == 1 && it[0]["source"] == "google" && it[0]["duration_s"] == float64(120)
		},
		"segments": func(it []map[string]any) bool {
			return len(it) == 2 && it[0]["action"] == "left" && it[1]["action"] == "joined"
		},
	}
	for tab, ok := range tabs {
		var p struct{ Items []map[string]any }
		if code := in.do("GET", "/v1/customers/"+c+"/"+tab, token(t, "ann", auth.ScopeHistoryRead), nil, &p); code != 200 || !ok(p.Items) {
			t.Errorf("tab %s = %d %v", tab, code, p.Items)
		}
	}
	if code := in.do("GET", "/v1/customers/"+c+"/timeline?kind=bogus", token(t, "ann", auth.ScopeHistoryRead), nil, nil); code != 400 {
		t.Errorf("unknown kind: %d, want 400", code)
	}
}

// TestTaskCommands runs every command against every state through the API.
func TestTaskCommands(t *testing.T) {
	in := startLedger(t, "")
	seedCardReader(t, in)
	tok := token(t, "ann", auth.ScopeHistoryRead, auth.ScopeTasksWrite)
	n := 0
	// reach brings a fresh task to state and returns its id.
	reach := func(state string) string {
		n++
		id := fmt.Sprintf("task-%d", n)
		if state == "absent" {
			return id
		}
		if code := in.do("POST", "/v1/customers/cus-t/tasks", tok, map[string]any{"task_id": id, "title": "T"}, nil); code != 201 {
			t.Fatalf("create %s = %d", id, code)
		}
		switch state {
		case "completed":
			in.do("POST", "/v1/customers/cus-t/tasks/"+id+"/complete", tok, nil, nil)
		case "deleted":
			in.do("DELETE", "/v1/customers/cus-t/tasks/"+id, tok, nil, nil)
		}
		return id
	}
	send := func(cmd, id string) int {
		switch cmd {
		case "create":
			return in.do("POST", "/v1/customers/cus-t/tasks", tok, map[string]any{"task_id": id, "title": "T"}, nil)
		case "edit":
			return in.do("PATCH", "/v1/customers/cus-t/tasks/"+id, tok, map[string]any{"title": "T2"}, nil)
		case "complete", "reopen":
			return in.do("POST", "/v1/customers/cus-t/tasks/"+id+"/"+cmd, tok, nil, nil)
		case "delete":
			return in.do("DELETE", "/v1/customers/cus-t/tasks/"+id, tok, nil, nil)
		}
		return 0
	}
	want := map[string]map[string]int{
		"absent":    {"create": 201, "edit": 404, "complete": 404, "reopen": 404, "delete": 404},
		"pending":   {"create": 409, "edit": 200, "complete": 200, "reopen": 409, "delete": 200},
		"completed": {"create": 409, "edit": 409, "complete": 409, "reopen": 200, "delete": 200},
		"deleted":   {"create": 409, "edit": 409, "complete": 409, "reopen": 409, "delete": 409},
	}
	for state, cmds := range want {
		for cmd, code := range cmds {
			t.Run(state+"/"+cmd, func(t *testing.T) {
				id := reach(state)
				if got := send(cmd, id); got != code {
					t.Errorf("%s on a %s task = %d, want %d", cmd, state, got, code)
				}
			})
		}
	}
	// A refused command appends nothing: the task keeps its state and title.
	id := reach("completed")
	send("edit", id)
	var tasks struct{ Items []map[string]any }
	in.do("GET", "/v1/customers/cus-t/tasks", tok, nil, &tasks)
	for _, it := range tasks.Items {
		if it["task_id"] == id && (it["status"] != "completed" || it["title"] != "T") {
			t.Errorf("refused edit changed the task: %v", it)
		}
	}
	if code := in.do("POST", "/v1/customers/cus-t/tasks", token(t, "ann", auth.ScopeHistoryRead), map[string]any{"title": "x"}, nil); code != 403 {
		t.Errorf("task command without tasks:write = %d, want 403", code)
	}
}

// TestConcurrentTaskCommands: of many concurrent completions of one pending task,
// exactly one succeeds (complete on a completed task is refused, so a second success
// would mean two commands acted on the same state).
func TestConcurrentTaskCommands(t *testing.T) {
	in := startLedger(t, "")
	seedCardReader(t, in)
	tok := token(t, "ann", auth.ScopeHistoryRead, auth.ScopeTasksWrite)
	for round := 0; round < 5; round++ {
		id := fmt.Sprintf("race-%d", round)
		if code := in.do("POST", "/v1/customers/cus-r/tasks", tok, map[string]any{"task_id": id, "title": "T"}, nil); code != 201 {
			t.Fatalf("create = %d", code)
		}
		var wg sync.WaitGroup
		codes := make([]int, 8)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = in.do(http.MethodPost, "/v1/customers/cus-r/tasks/"+id+"/complete", tok, nil, nil)
			}()
		}
		wg.Wait()
		ok := 0
		for _, c := range codes {
			switch c {
			case 200:
				ok++
			case 409:
			default:
				t.Errorf("unexpected code %d", c)
			}
		}
		if ok != 1 {
			t.Errorf("round %d: %d commands succeeded on one pending task, want exactly 1 (codes %v)", round, ok, codes)
		}
	}
}

// TestMergeMovesTheCard: customer.merged moves the merged customer's timeline and the
// history shows the surviving customer.
func TestMergeMovesTheCard(t *testing.T) {
	in := startLedger(t, "")
	postFixture(t, in)
	waitVisible(t, in)
	merge := []map[string]any{
		ev("note.added", "tel:+14155550199", 2, map[string]any{"note_id": "n-dup", "text": "from the duplicate"}),
		ev("customer.merged", "cus-1", 1, map[string]any{"from_customer_id": "cus-2"}),
	}
	if code := in.do("POST", "/v1/events", token(t, "svc", auth.ScopeIngest, auth.ScopeDirectoryWrite, auth.ScopeErase), merge, nil); code != 200 {
		t.Fatalf("post merge = %d", code)
	}
	eventually(t, "call-2 under cus-1", func() (bool, string) {
		items := in.timelineAs(t, "boss", "cus-1", "?kind=call") // boss sees call-1 and call-2
		ids := map[string]bool{}
		for _, it := range items {
			ids[it["interaction_id"].(string)] = true
		}
		return ids["call-1"] && ids["call-2"], fmt.Sprint(items)
	})
	// The history is a view of its own: it applies the merge at its own pace.
	eventually(t, "the history shows call-2 under the surviving cus-1", func() (bool, string) {
		var d struct {
			CustomerID string `json:"customer_id"`
		}
		in.do("GET", "/v1/interactions/call-2", token(t, "boss", auth.ScopeHistoryRead), nil, &d)
		return d.CustomerID == "cus-1", d.CustomerID
	})
}
