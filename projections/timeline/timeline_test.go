package timeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
)

func TestEveryKindEndToEnd(t *testing.T) {
	h := newHarness(t)
	due := h.at(-60).Format(time.RFC3339)
	tests := []struct {
		name   string
		events func(cust string) []domain.Event
		kind   Kind
		want   map[string]any // JSON fields of the one item
		absent []string       // JSON fields that must not be there
	}{
		{"voice is a call", func(c string) []domain.Event {
			return []domain.Event{
				h.ev(c+"s", domain.TypeInteractionStarted, h.at(10), c, started("call-1", "voice", "incoming")),
				h.ev(c+"e", domain.TypeInteractionEnded, h.at(5), c, map[string]any{"interaction_id": "call-1", "status": "dissuaded", "reason": "closed"}),
			}
		}, KindCall, map[string]any{"interaction_id": "call-1", "flow": "voice", "direction": "incoming", "status": "dissuaded",
			"reason": "closed", "agent_id": "ag-1", "ended_at": h.at(5).Format(time.RFC3339), "occurred_at": h.at(10).Format(time.RFC3339)},
			[]string{"opened_at", "message_count"}},
		{"email has opened_at null until opened", func(c string) []domain.Event {
			return []domain.Event{h.ev(c+"s", domain.TypeInteractionStarted, h.at(10), c, started("mail-1", "email", "outgoing"))}
		}, KindEmail, map[string]any{"interaction_id": "mail-1", "flow": "email", "opened_at": nil, "open_count": 0.0,
			"clicked_at": nil, "click_count": 0.0}, []string{"ended_at"}},
		{"sms", func(c string) []domain.Event {
			return []domain.Event{h.ev(c+"s", domain.TypeInteractionStarted, h.at(10), c, started("sms-1", "sms", "outgoing")),
				h.ev(c+"e", domain.TypeInteractionEnded, h.at(9), c, ended("sms-1", "delivered"))}
		}, KindSMS, map[string]any{"interaction_id": "sms-1", "flow": "sms", "status": "delivered"}, []string{"opened_at"}},
		{"whatsapp is a chat", func(c string) []domain.Event {
			return []domain.Event{h.ev(c+"s", domain.TypeInteractionStarted, h.at(10), c, started("wa-1", "whatsapp", "incoming")),
				h.ev(c+"m1", domain.TypeInteractionMessage, h.at(9), c, message("wa-1", "incoming")),
				h.ev(c+"m2", domain.TypeInteractionMessage, h.at(8), c, message("wa-1", "outgoing"))}
		}, KindChat, map[string]any{"interaction_id": "wa-1", "flow": "whatsapp", "message_count": 2.0}, nil},
		{"messenger is a chat with zero messages written", func(c string) []domain.Event {
			return []domain.Event{h.ev(c+"s", domain.TypeInteractionStarted, h.at(10), c, started("fb-1", "messenger", "incoming"))}
		}, KindChat, map[string]any{"flow": "messenger", "message_count": 0.0}, nil},
		{"order", func(c string) []domain.Event {
			return []domain.Event{h.ev(c+"o", domain.TypeOrderUpdated, h.at(10), c, map[string]any{"order_id": "o-1", "status": "paid",
				"total": "12.50", "currency": "EUR", "changes": map[string]any{"status": map[string]any{"from": "new", "to": "paid"}}})}
		}, KindOrder, map[string]any{"order_id": "o-1", "status": "paid", "total": 12.5, "currency": "EUR", "action": "updated",
			"changes": map[string]any{"status": map[string]any{"from": "new", "to": "paid"}}}, nil},
		{"segment", func(c string) []domain.Event {
			return []domain.Event{h.ev(c+"g", domain.TypeSegmentLeft, h.at(10), c, map[string]any{"segment_id": "vip", "name": "VIP"})}
		}, KindSegment, map[string]any{"segment_id": "vip", "name": "VIP", "action": "left"}, nil},
		{"task", func(c string) []domain.Event {
			return []domain.Event{h.ev(c+"t", domain.TypeTaskCreated, h.at(10), c, map[string]any{"task_id": "t-1", "title": "Call back",
				"due_at": due, "assignee_id": "ag-2"})}
		}, KindTask, map[string]any{"task_id": "t-1", "title": "Call back", "status": "pending", "action": "created", "due_at": due, "assignee_id": "ag-2"}, nil},
		{"note", func(c string) []domain.Event {
			return []domain.Event{h.ev(c+"n", domain.TypeNoteAdded, h.at(10), c, map[string]any{"note_id": "n-1", "text": "likes tea", "author_id": "ag-1"})}
		}, KindNote, map[string]any{"note_id": "n-1", "text": "likes tea", "author_id": "ag-1"}, nil},
		{"file", func(c string) []domain.Event {
			return []domain.Event{h.ev(c+"f", domain.TypeFileAttached, h.at(10), c, map[string]any{"file_id": "f-1", "name": "id.pdf", "size": 1234,
				"content_type": "application/pdf", "url": "https://files.example/f-1"})}
		}, KindFile, map[string]any{"file_id": "f-1", "name": "id.pdf", "size": 1234.0, "content_type": "application/pdf", "url": "https://files.example/f-1"}, nil},
		{"visit", func(c string) []domain.Event {
			return []domain.Event{h.ev(c+"v", domain.TypeVisitRecorded, h.at(10), c, map[string]any{"visit_id": "v-1", "source": "google",
				"channel": "search", "duration_s": 95, "pages": []string{"/a", "/b", "/c"}})}
		}, KindVisit, map[string]any{"visit_id": "v-1", "source": "google", "channel": "search", "duration_s": 95.0, "pages": 3.0}, nil},
		{"card change", func(c string) []domain.Event {
			return []domain.Event{h.ev(c+"d", domain.TypeCustomerUpdated, h.at(10), c, map[string]any{"changes": map[string]any{"city": map[string]any{"from": "Lyon", "to": "Paris"}}})}
		}, KindCard, map[string]any{"changes": map[string]any{"city": map[string]any{"from": "Lyon", "to": "Paris"}}}, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cust := fmt.Sprintf("cust-kind-%d", i)
			h.apply(tt.events(cust)...)
			items := h.timeline(cust)
			if len(items) != 1 {
				t.Fatalf("got %d items, want 1: %+v", len(items), items)
			}
			if got := items[0].Kind; got != string(tt.kind) {
				t.Errorf("kind: got %q, want %q", got, tt.kind)
			}
			raw, err := json.Marshal(items[0])
			must(t, err)
			// The page's wire form writes the same bytes as the item's MarshalJSON.
			page := Page{Items: items, NextCursor: "c"}
			pageRaw, err := json.Marshal(page.JSON())
			must(t, err)
			if want := `{"items":[` + string(raw) + `],"next_cursor":"c"}`; string(pageRaw) != want {
				t.Errorf("page JSON:\n got %s\nwant %s", pageRaw, want)
			}
			var got map[string]any
			must(t, json.Unmarshal(raw, &got))
			if got["kind"] != string(tt.kind) {
				t.Errorf("json kind: got %v, want %s", got["kind"], tt.kind)
			}
			for k, want := range tt.want {
				g, ok := got[k]
				if !ok {
					t.Errorf("%s: missing in %s", k, raw)
					continue
				}
				if fmt.Sprint(g) != fmt.Sprint(want) {
					t.Errorf("%s: got %v, want %v", k, g, want)
				}
			}
			for _, k := range tt.absent {
				if _, ok := got[k]; ok {
					t.Errorf("%s: should be absent from %s", k, raw)
				}
			}
			card, err := h.v.Card(cust, nil)
			must(t, err)
			if card.Counts[string(tt.kind)] != 1 {
				t.Errorf("counts: got %v, want 1 %s", card.Counts, tt.kind)
			}
			// The kind filter finds it; another kind does not.
			if n := len(h.timeline(cust, tt.kind)); n != 1 {
				t.Errorf("filter %s: got %d items, want 1", tt.kind, n)
			}
			other := KindCard
			if tt.kind == KindCard {
				other = KindCall
			}
			if n := len(h.timeline(cust, other)); n != 0 {
				t.Errorf("filter %s: got %d items, want 0", other, n)
			}
		})
	}
}

func TestInteractionIsOneItemWhateverTheOrder(t *testing.T) {
	h := newHarness(t)
	c := "cust-1"
	// Events of one call arrive backwards: the item appears once the flow is known, at
	// the start, and is updated in place.
	h.apply(h.ev("e", domain.TypeInteractionEnded, h.at(5), c, ended("call-9", "processed")))
	if n := len(h.timeline(c)); n != 0 {
		t.Fatalf("before started: got %d items, want 0 (no flow, no kind)", n)
	}
	h.apply(h.ev("r", domain.TypeInteractionRouted, h.at(8), c, map[string]any{"interaction_id": "call-9", "routing": "smart", "agent_id": "ag-7"}))
	h.apply(h.ev("s", domain.TypeInteractionStarted, h.at(10), c, started("call-9", "voice", "incoming")))
	items := h.timeline(c)
	if len(items) != 1 {
		t.Fatalf("got %d items, want 1", len(items))
	}
	it := items[0]
	if !it.OccurredAt.Equal(h.at(10)) || it.Status != "processed" || it.AgentID != "ag-7" || it.EndedAt == nil {
		t.Errorf("got %+v, want start %v, processed, ag-7, ended", it, h.at(10))
	}
	card, err := h.v.Card(c, nil)
	must(t, err)
	if card.Counts["call"] != 1 {
		t.Errorf("count: got %d, want 1", card.Counts["call"])
	}
}

// TestEmailClicked: an e-mail's item carries its first click and the number of clicks,
// whatever the order of the clicks and of the e-mail's own events, each counted once.
func TestEmailClicked(t *testing.T) {
	h := newHarness(t)
	evs := func(c string) []domain.Event {
		return []domain.Event{
			h.ev(c+"s", domain.TypeInteractionStarted, h.at(100), c, started(c+"-mail", "email", "outgoing")),
			h.ev(c+"o", domain.TypeEmailOpened, h.at(80), c, map[string]any{"interaction_id": c + "-mail"}),
			h.ev(c+"k2", domain.TypeEmailClicked, h.at(50), c, map[string]any{"interaction_id": c + "-mail", "url": "https://example.com/b"}),
			h.ev(c+"k1", domain.TypeEmailClicked, h.at(79), c, map[string]any{"interaction_id": c + "-mail"}),
		}
	}
	for _, tc := range []struct {
		name, cust string
		order      []int
	}{
		{"in order", "cust-click-1", []int{0, 1, 2, 3}},
		{"clicks first, twice", "cust-click-2", []int{3, 2, 3, 1, 2, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cust
			all := evs(c)
			for _, i := range tc.order {
				h.apply(all[i])
			}
			items := h.timeline(c, KindEmail)
			if len(items) != 1 {
				t.Fatalf("got %d items, want 1: %+v", len(items), items)
			}
			it := items[0]
			if it.ClickedAt == nil || !it.ClickedAt.Equal(h.at(79)) || it.ClickCount != 2 {
				t.Errorf("got clicked_at %v, click_count %d; want %v (the first click), 2", it.ClickedAt, it.ClickCount, h.at(79))
			}
			if it.OpenedAt == nil || !it.OpenedAt.Equal(h.at(80)) || it.OpenCount != 1 {
				t.Errorf("got opened_at %v, open_count %d; want %v, 1", it.OpenedAt, it.OpenCount, h.at(80))
			}
			if !it.OccurredAt.Equal(h.at(100)) {
				t.Errorf("got occurred_at %v, want the started's %v", it.OccurredAt, h.at(100))
			}
		})
	}
}

func TestEmailOpened(t *testing.T) {
	h := newHarness(t)
	c := "cust-mail"
	card, err := h.v.Card(c, nil)
	must(t, err)
	if card.LastEmail != nil || card.LastEmailOpened {
		t.Fatalf("empty card: got %+v", card)
	}
	h.apply(
		h.ev("m1", domain.TypeInteractionStarted, h.at(100), c, started("mail-1", "email", "outgoing")),
		h.ev("o2", domain.TypeEmailOpened, h.at(50), c, map[string]any{"interaction_id": "mail-1"}),
		h.ev("o1", domain.TypeEmailOpened, h.at(90), c, map[string]any{"interaction_id": "mail-1"}), // earlier, arrives later
		h.ev("o1", domain.TypeEmailOpened, h.at(90), c, map[string]any{"interaction_id": "mail-1"}), // duplicate
	)
	items := h.timeline(c, KindEmail)
	if len(items) != 1 || items[0].OpenedAt == nil || !items[0].OpenedAt.Equal(h.at(90)) || items[0].OpenCount != 2 {
		t.Fatalf("got %+v, want opened_at %v (the first open), open_count 2", items, h.at(90))
	}
	card, err = h.v.Card(c, nil)
	must(t, err)
	if card.LastEmail == nil || card.LastEmail.InteractionID != "mail-1" || !card.LastEmailOpened {
		t.Fatalf("got %+v, want last email mail-1, opened", card)
	}
	// A newer email sent and not opened: the last email is no longer opened. A newer
	// incoming email changes nothing (it was not sent to the customer).
	h.apply(h.ev("m2", domain.TypeInteractionStarted, h.at(40), c, started("mail-2", "email", "outgoing")),
		h.ev("m3", domain.TypeInteractionStarted, h.at(30), c, started("mail-3", "email", "incoming")))
	card, err = h.v.Card(c, nil)
	must(t, err)
	if card.LastEmail == nil || card.LastEmail.InteractionID != "mail-2" || card.LastEmailOpened {
		t.Fatalf("got %+v, want last email mail-2, not opened", card)
	}
	raw, err := json.Marshal(card)
	must(t, err)
	if !bytes.Contains(raw, []byte(`"opened_at":null`)) || !bytes.Contains(raw, []byte(`"last_email_opened":false`)) {
		t.Errorf("card JSON %s: want opened_at null and last_email_opened false", raw)
	}
	if card.Counts["email"] != 3 {
		t.Errorf("email count: got %d, want 3", card.Counts["email"])
	}
}

func TestChatsTab(t *testing.T) {
	h := newHarness(t)
	c := "cust-chat"
	h.apply(
		h.ev("w", domain.TypeInteractionStarted, h.at(100), c, started("wa-1", "whatsapp", "incoming")),
		h.ev("w1", domain.TypeInteractionMessage, h.at(99), c, message("wa-1", "incoming")),
		h.ev("w2", domain.TypeInteractionMessage, h.at(98), c, message("wa-1", "outgoing")),
		h.ev("w3", domain.TypeInteractionMessage, h.at(97), c, message("wa-1", "incoming")),
		h.ev("w3", domain.TypeInteractionMessage, h.at(97), c, message("wa-1", "incoming")), // duplicate
		h.ev("we", domain.TypeInteractionEnded, h.at(90), c, ended("wa-1", "processed")),
		h.ev("tg1", domain.TypeInteractionMessage, h.at(49), c, message("tg-1", "incoming")), // before its start event
		h.ev("tg", domain.TypeInteractionStarted, h.at(50), c, started("tg-1", "telegram", "incoming")),
		h.ev("call", domain.TypeInteractionStarted, h.at(40), c, started("call-1", "voice", "incoming")),
		h.ev("site", domain.TypeInteractionStarted, h.at(30), c, started("web-1", "chat", "incoming")),
	)
	got, err := h.chats(c)
	must(t, err)
	want := []Chat{
		{InteractionID: "web-1", StartedAt: h.at(30), Status: "open", MessageCount: 0, Channel: "chat"},
		{InteractionID: "tg-1", StartedAt: h.at(50), Status: "open", MessageCount: 1, Channel: "telegram"},
		{InteractionID: "wa-1", StartedAt: h.at(100), Status: "processed", MessageCount: 3, Channel: "whatsapp"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("chats:\n got %+v\nwant %+v", got, want)
	}
}

func TestTasks(t *testing.T) {
	h := newHarness(t)
	c := "cust-task"
	state := func(tid string) (domain.TaskState, Task) {
		t.Helper()
		st, tk, err := h.v.Task(c, tid)
		must(t, err)
		return st, tk
	}
	if st, _ := state("t-1"); st != domain.TaskAbsent {
		t.Fatalf("unknown task: got %s, want absent", st)
	}
	due := h.at(-600).Truncate(time.Second)
	steps := []struct {
		name      string
		ev        domain.Event
		plain     bool // published straight to NATS, on the plain subject
		wantState domain.TaskState
		wantTitle string
		wantSeq   bool // LastSeq moves to this event's sequence
	}{
		{"create", h.ev("c", domain.TypeTaskCreated, h.at(50), c, map[string]any{"task_id": "t-1", "title": "Call back", "due_at": due.Format(time.RFC3339), "assignee_id": "ag-1"}), false, domain.TaskPending, "Call back", true},
		{"update title", h.ev("u", domain.TypeTaskUpdated, h.at(40), c, task("t-1", "Call back today")), false, domain.TaskPending, "Call back today", true},
		{"complete", h.ev("d", domain.TypeTaskCompleted, h.at(30), c, task("t-1", "")), false, domain.TaskCompleted, "Call back today", true},
		{"reopen from a producer (plain subject)", h.ev("r", domain.TypeTaskReopened, h.at(20), c, task("t-1", "")), true, domain.TaskPending, "Call back today", false},
		{"complete again", h.ev("d2", domain.TypeTaskCompleted, h.at(10), c, task("t-1", "")), false, domain.TaskCompleted, "Call back today", true},
	}
	var wantSeq uint64
	for _, s := range steps {
		var seq uint64
		if s.plain {
			seq = h.applyOn("ledger.events."+s.ev.Type.String(), s.ev)
		} else {
			seq = h.apply(s.ev)
		}
		if s.wantSeq {
			wantSeq = seq
		}
		st, tk := state("t-1")
		if st != s.wantState || tk.Title != s.wantTitle || tk.LastSeq != wantSeq {
			t.Errorf("%s: got %s %q seq %d, want %s %q seq %d", s.name, st, tk.Title, tk.LastSeq, s.wantState, s.wantTitle, wantSeq)
		}
		if tk.DueAt == nil || !tk.DueAt.Equal(due) || tk.AssigneeID != "ag-1" {
			t.Errorf("%s: due/assignee: got %v %q", s.name, tk.DueAt, tk.AssigneeID)
		}
		if !tk.CreatedAt.Equal(h.at(50)) || !tk.UpdatedAt.Equal(s.ev.OccurredAt) {
			t.Errorf("%s: created/updated: got %v %v", s.name, tk.CreatedAt, tk.UpdatedAt)
		}
	}
	// The card's rules, checked against this state.
	st, _ := state("t-1")
	if _, err := domain.DecideTask(st, domain.TaskEdit); err == nil {
		t.Errorf("editing a completed task: want an InvalidTransitionError")
	}
	// A duplicate of an old event changes nothing (not even LastSeq: same event id, but a
	// new sequence would be a new message; the view keeps the maximum).
	before := h.snapshot(c, "t-1")
	h.applyOn("ledger.events.task.updated", h.ev("u", domain.TypeTaskUpdated, h.at(40), c, task("t-1", "Call back today")))
	if after := h.snapshot(c, "t-1"); after != before {
		t.Errorf("duplicate on the plain subject changed the view:\n%s\n%s", before, after)
	}
	if _, tk := state("t-1"); tk.LastSeq != wantSeq {
		t.Errorf("duplicate on the plain subject: LastSeq %d, want %d", tk.LastSeq, wantSeq)
	}
	tasks, err := h.tasks(c)
	must(t, err)
	if len(tasks) != 1 || tasks[0].Status != "completed" {
		t.Fatalf("tasks tab: got %+v, want t-1 completed", tasks)
	}
	raw, err := json.Marshal(tasks[0])
	must(t, err)
	for _, f := range []string{`"task_id":"t-1"`, `"status":"completed"`, `"due_at":`, `"assignee_id":"ag-1"`} {
		if !bytes.Contains(raw, []byte(f)) {
			t.Errorf("task JSON %s: missing %s", raw, f)
		}
	}
	if bytes.Contains(raw, []byte("seq")) {
		t.Errorf("task JSON %s: LastSeq must not be written", raw)
	}
	// Delete: gone from the tab, TaskDeleted for commands.
	delSeq := h.apply(h.ev("x", domain.TypeTaskDeleted, h.at(5), c, task("t-1", "")))
	if st, tk := state("t-1"); st != domain.TaskDeleted || tk.LastSeq != delSeq {
		t.Errorf("after delete: got %s seq %d, want deleted seq %d", st, tk.LastSeq, delSeq)
	}
	tasks, err = h.tasks(c)
	must(t, err)
	if len(tasks) != 0 {
		t.Errorf("tasks tab after delete: got %+v, want none", tasks)
	}
	// The timeline shows every task event.
	items := h.timeline(c, KindTask)
	var actions []string
	for _, it := range items {
		actions = append(actions, it.Action+"/"+it.Status)
	}
	want := []string{"deleted/deleted", "completed/completed", "reopened/pending", "completed/completed", "updated/pending", "created/pending"}
	if !slices.Equal(actions, want) {
		t.Errorf("task items: got %v, want %v", actions, want)
	}
	// A task known only from the plain subject has LastSeq 0.
	h.applyOn("ledger.events.task.created", h.ev("p", domain.TypeTaskCreated, h.at(5), c, task("t-2", "From a producer")))
	if st, tk := state("t-2"); st != domain.TaskPending || tk.LastSeq != 0 {
		t.Errorf("plain-subject task: got %s seq %d, want pending seq 0", st, tk.LastSeq)
	}
}

func TestIsKeyedTaskSubject(t *testing.T) {
	tests := []struct {
		subject string
		want    bool
	}{
		{"ledger.events.task.created.k0123456789abcdef0123456789abcdef", true},
		{"ledger.events.task.created", false},
		{"ledger.events.note.added", false},
		{"ledger.events.task.created.x0123", false},
		{"ledger.events.task.created.k0123.more", false},
	}
	for _, tt := range tests {
		if got := isKeyedTaskSubject(tt.subject); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.subject, got, tt.want)
		}
	}
}

func TestVisitsAndSegments(t *testing.T) {
	h := newHarness(t)
	c := "cust-web"
	h.apply(
		h.ev("v1", domain.TypeVisitRecorded, h.at(100), c, map[string]any{"visit_id": "v-1", "source": "google", "channel": "search", "duration_s": 30, "pages": 4}),
		h.ev("v2", domain.TypeVisitRecorded, h.at(50), c, map[string]any{"visit_id": "v-2", "source": "newsletter", "channel": "email", "duration_s": 300, "pages": []string{"/x"}}),
		// v-1 again, later: the visit is replaced, not repeated.
		h.ev("v1b", domain.TypeVisitRecorded, h.at(90), c, map[string]any{"visit_id": "v-1", "source": "google", "channel": "search", "duration_s": 45, "pages": 5}),
		h.ev("g1", domain.TypeSegmentJoined, h.at(80), c, map[string]any{"segment_id": "vip", "name": "VIP"}),
		h.ev("g2", domain.TypeSegmentLeft, h.at(20), c, map[string]any{"segment_id": "vip", "name": "VIP"}),
		h.ev("g3", domain.TypeSegmentJoined, h.at(10), c, map[string]any{"segment_id": "churn", "name": "At risk"}),
	)
	visits, err := h.visits(c)
	must(t, err)
	wantV := []Visit{
		{VisitID: "v-2", Source: "newsletter", Channel: "email", DurationS: 300, Pages: 1, OccurredAt: h.at(50)},
		{VisitID: "v-1", Source: "google", Channel: "search", DurationS: 45, Pages: 5, OccurredAt: h.at(90)},
	}
	if fmt.Sprint(visits) != fmt.Sprint(wantV) {
		t.Errorf("visits:\n got %+v\nwant %+v", visits, wantV)
	}
	segs, err := h.segments(c)
	must(t, err)
	wantS := []SegmentChange{
		{SegmentID: "churn", Name: "At risk", Action: "joined", OccurredAt: h.at(10)},
		{SegmentID: "vip", Name: "VIP", Action: "left", OccurredAt: h.at(20)},
		{SegmentID: "vip", Name: "VIP", Action: "joined", OccurredAt: h.at(80)},
	}
	if fmt.Sprint(segs) != fmt.Sprint(wantS) {
		t.Errorf("segments:\n got %+v\nwant %+v", segs, wantS)
	}
	card, err := h.v.Card(c, nil)
	must(t, err)
	if card.Counts["visit"] != 2 || card.Counts["segment"] != 3 {
		t.Errorf("counts: got %v", card.Counts)
	}
}

// mixedEvents returns n events of every kind for cust, some sharing an occurred_at.
func mixedEvents(h *harness, cust string, n int) []domain.Event {
	var evs []domain.Event
	for i := range n {
		at := h.at(1000 - (i/3)*3) // three events per instant: ties are broken by key
		name := fmt.Sprintf("%s-%d", cust, i)
		switch i % 7 {
		case 0:
			evs = append(evs, h.ev(name, domain.TypeInteractionStarted, at, cust, started("i-"+name, []string{"voice", "email", "sms", "whatsapp"}[i%4], "outgoing")))
		case 1:
			evs = append(evs, h.ev(name, domain.TypeNoteAdded, at, cust, map[string]any{"note_id": name, "text": "note " + name}))
		case 2:
			evs = append(evs, h.ev(name, domain.TypeOrderCreated, at, cust, map[string]any{"order_id": name}))
		case 3:
			evs = append(evs, h.ev(name, domain.TypeTaskCreated, at, cust, task(name, "task "+name)))
		case 4:
			evs = append(evs, h.ev(name, domain.TypeVisitRecorded, at, cust, map[string]any{"visit_id": name}))
		case 5:
			evs = append(evs, h.ev(name, domain.TypeSegmentJoined, at, cust, map[string]any{"segment_id": name}))
		case 6:
			evs = append(evs, h.ev(name, domain.TypeFileAttached, at, cust, map[string]any{"file_id": name, "name": name + ".txt"}))
		}
	}
	return evs
}

func itemID(it Item) string {
	return it.Kind + ":" + it.InteractionID + it.NoteID + it.OrderID + it.TaskID + it.VisitID + it.SegmentID + it.FileID
}

func TestPaging(t *testing.T) {
	h := newHarness(t)
	c := "cust-page"
	h.apply(mixedEvents(h, c, 200)...)
	h.apply(mixedEvents(h, "cust-other", 30)...) // a neighbour that must not leak in
	tests := []struct {
		name  string
		kinds []Kind
		limit int
	}{
		{"all, 7 per page", nil, 7},
		{"all, 1 per page", nil, 1},
		{"all, one page", nil, 500},
		{"notes and orders", []Kind{KindNote, KindOrder}, 9},
		{"repeated kind", []Kind{KindVisit, KindVisit}, 4},
		{"calls and chats", []Kind{KindCall, KindChat}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all := h.timeline(c, tt.kinds...)
			var paged []Item
			cur := ""
			for pages := 0; ; pages++ {
				if pages > 300 {
					t.Fatal("paging does not end")
				}
				p, err := h.v.Timeline(c, tt.kinds, tt.limit, cur)
				must(t, err)
				if len(p.Items) > tt.limit {
					t.Fatalf("page of %d items, limit %d", len(p.Items), tt.limit)
				}
				paged = append(paged, p.Items...)
				if p.NextCursor == "" {
					break
				}
				cur = p.NextCursor
				// Newer items arriving between pages do not shift the next page.
				if pages == 2 {
					h.apply(h.ev(fmt.Sprintf("late-%s", tt.name), domain.TypeNoteAdded, h.at(0), c, map[string]any{"note_id": "late-" + tt.name, "text": "x"}))
				}
			}
			if len(paged) != len(all) {
				t.Fatalf("paged %d items, want %d", len(paged), len(all))
			}
			seen := map[string]bool{}
			for i := range paged {
				id := itemID(paged[i])
				if seen[id] {
					t.Errorf("duplicate %s", id)
				}
				seen[id] = true
				if itemID(paged[i]) != itemID(all[i]) {
					t.Errorf("item %d: paged %s, want %s", i, itemID(paged[i]), itemID(all[i]))
				}
				if i > 0 && paged[i].OccurredAt.After(paged[i-1].OccurredAt) {
					t.Errorf("item %d is newer than item %d", i, i-1)
				}
				if tt.kinds != nil && !slices.Contains(tt.kinds, Kind(paged[i].Kind)) {
					t.Errorf("item %d of kind %s, filtered on %v", i, paged[i].Kind, tt.kinds)
				}
			}
		})
	}
}

func TestTimelineErrors(t *testing.T) {
	h := newHarness(t)
	for _, cur := range []string{"!!!", "AAAA", "AAAAAAAAAAAAAA"} {
		if _, err := h.v.Timeline("c", nil, 10, cur); !errors.Is(err, ErrBadCursor) {
			t.Errorf("cursor %q: got %v, want ErrBadCursor", cur, err)
		}
	}
	_, err := ParseKind("fax")
	var ke *KindError
	if !errors.As(err, &ke) || !strings.Contains(err.Error(), `"fax"`) {
		t.Errorf("ParseKind(fax): got %v, want a KindError naming fax", err)
	}
	for _, k := range Kinds() {
		if got, err := ParseKind(string(k)); err != nil || got != k {
			t.Errorf("ParseKind(%s): got %v %v", k, got, err)
		}
	}
	p, err := h.v.Timeline("nobody", nil, 0, "")
	must(t, err)
	if p.Items == nil || len(p.Items) != 0 || p.NextCursor != "" {
		t.Errorf("empty timeline: got %+v, want [] and no cursor", p)
	}
}

// cardEvents is a customer's history with every kind, repeats of ids and several events
// per interaction and task.
func cardEvents(h *harness, c string) []domain.Event {
	return []domain.Event{
		h.ev(c+"s", domain.TypeInteractionStarted, h.at(100), c, started("call-"+c, "voice", "incoming")),
		h.ev(c+"r", domain.TypeInteractionRouted, h.at(99), c, map[string]any{"interaction_id": "call-" + c, "routing": "smart", "agent_id": "ag-2"}),
		h.ev(c+"e", domain.TypeInteractionEnded, h.at(95), c, ended("call-"+c, "processed")),
		h.ev(c+"ms", domain.TypeInteractionStarted, h.at(90), c, started("mail-"+c, "email", "outgoing")),
		h.ev(c+"mo", domain.TypeEmailOpened, h.at(80), c, map[string]any{"interaction_id": "mail-" + c}),
		h.ev(c+"mo2", domain.TypeEmailOpened, h.at(85), c, map[string]any{"interaction_id": "mail-" + c}),
		h.ev(c+"ws", domain.TypeInteractionStarted, h.at(70), c, started("wa-"+c, "whatsapp", "incoming")),
		h.ev(c+"w1", domain.TypeInteractionMessage, h.at(69), c, message("wa-"+c, "incoming")),
		h.ev(c+"w2", domain.TypeInteractionMessage, h.at(68), c, message("wa-"+c, "outgoing")),
		h.ev(c+"tc", domain.TypeTaskCreated, h.at(60), c, task("t-"+c, "first")),
		h.ev(c+"tu", domain.TypeTaskUpdated, h.at(55), c, task("t-"+c, "second")),
		h.ev(c+"td", domain.TypeTaskCompleted, h.at(50), c, task("t-"+c, "")),
		h.ev(c+"n1", domain.TypeNoteAdded, h.at(45), c, map[string]any{"note_id": "n-" + c, "text": "old text"}),
		h.ev(c+"n2", domain.TypeNoteAdded, h.at(44), c, map[string]any{"note_id": "n-" + c, "text": "new text"}),
		h.ev(c+"v", domain.TypeVisitRecorded, h.at(40), c, map[string]any{"visit_id": "v-" + c, "pages": 2}),
		h.ev(c+"g", domain.TypeSegmentJoined, h.at(30), c, map[string]any{"segment_id": "vip"}),
		h.ev(c+"o", domain.TypeOrderCreated, h.at(20), c, map[string]any{"order_id": "o-" + c, "total": 10}),
		h.ev(c+"f", domain.TypeFileAttached, h.at(10), c, map[string]any{"file_id": "f-" + c, "name": "a.pdf"}),
		h.ev(c+"d", domain.TypeCustomerUpdated, h.at(5), c, map[string]any{"changes": map[string]any{"name": map[string]any{"from": "A", "to": "B"}}}),
	}
}

func TestOutOfOrderAndDuplicatesGiveTheSameView(t *testing.T) {
	ref := newHarness(t)
	c := "cust-ooo"
	evs := cardEvents(ref, c)
	ref.apply(evs...)
	want := ref.snapshot(c, "t-"+c)
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 8 {
		h := newHarness(t)
		h.now = ref.now
		shuffled := slices.Clone(evs)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		// Every event again, some in the same batch, some in later ones.
		shuffled = append(shuffled, evs[round%len(evs)])
		dups := slices.Clone(evs)
		rng.Shuffle(len(dups), func(i, j int) { dups[i], dups[j] = dups[j], dups[i] })
		for i := 0; i < len(shuffled); i += 3 {
			h.apply(shuffled[i:min(i+3, len(shuffled))]...)
		}
		h.apply(evs...)
		h.apply(dups...)
		if got := h.snapshot(c, "t-"+c); got != want {
			t.Fatalf("round %d: view differs:\n got %s\nwant %s", round, got, want)
		}
	}
}

func TestMerge(t *testing.T) {
	h := newHarness(t)
	a, b, c := "cust-a", "cust-b", "cust-c"
	h.apply(cardEvents(h, a)...)
	h.apply(cardEvents(h, b)...)
	// The same note id and the same task id under both: the latest wins when they meet.
	h.apply(h.ev("a-shared", domain.TypeNoteAdded, h.at(3), a, map[string]any{"note_id": "shared", "text": "from a, newer"}),
		h.ev("b-shared", domain.TypeNoteAdded, h.at(4), b, map[string]any{"note_id": "shared", "text": "from b, older"}),
		h.ev("a-shared-task", domain.TypeTaskCreated, h.at(3), a, task("shared-task", "a's")))
	nA, nB := len(h.timeline(a)), len(h.timeline(b))
	cardA, err := h.v.Card(a, nil)
	must(t, err)

	h.apply(h.ev("merge", domain.TypeCustomerMerged, h.at(1), b, map[string]any{"from_customer_id": a}))
	items := h.timeline(b)
	if len(items) != nA+nB-1 { // the shared note is one item
		t.Fatalf("after merge: survivor has %d items, want %d", len(items), nA+nB-1)
	}
	notes := h.timeline(b, KindNote)
	if !slices.ContainsFunc(notes, func(it Item) bool { return it.NoteID == "shared" && it.Text == "from a, newer" }) ||
		slices.ContainsFunc(notes, func(it Item) bool { return it.Text == "from b, older" }) {
		t.Errorf("shared note: got %+v", notes)
	}
	// The merged id answers for the survivor.
	if got := len(h.timeline(a)); got != len(items) {
		t.Errorf("merged id: got %d items, want the survivor's %d", got, len(items))
	}
	card, err := h.v.Card(b, nil)
	must(t, err)
	if !slices.Equal(card.MergedFrom, []string{a}) || card.CustomerID != b {
		t.Errorf("card: got %+v, want merged_from [%s]", card, a)
	}
	if card.Counts["call"] != 2 || card.Counts["note"] != cardA.Counts["note"]*2-1 {
		t.Errorf("counts: got %v (a had %v)", card.Counts, cardA.Counts)
	}
	// a's task lives under b now; commands addressed to either id see it, each with the
	// sequence of its own keyed subject.
	st, tk, err := h.v.Task(b, "t-"+a)
	must(t, err)
	if st != domain.TaskCompleted || tk.LastSeq != 0 {
		t.Errorf("moved task via survivor: got %s seq %d, want completed seq 0 (no event on b's subject)", st, tk.LastSeq)
	}
	st, tk, err = h.v.Task(a, "t-"+a)
	must(t, err)
	if st != domain.TaskCompleted || tk.LastSeq == 0 {
		t.Errorf("moved task via merged id: got %s seq %d, want completed with a's sequence", st, tk.LastSeq)
	}
	// Later events addressed to the merged id land under the survivor.
	h.apply(h.ev("late-a", domain.TypeNoteAdded, h.at(0), a, map[string]any{"note_id": "late", "text": "after merge"}))
	if got := h.timeline(b, KindNote)[0]; got.NoteID != "late" {
		t.Errorf("late event to merged id: newest note %+v", got)
	}
	// An interaction event of a's call, after the merge, updates the one item.
	h.apply(h.ev("late-q", domain.TypeInteractionEnded, h.at(0), a, ended("call-"+a, "aborted")))
	calls := h.timeline(b, KindCall)
	if len(calls) != 2 || !slices.ContainsFunc(calls, func(it Item) bool { return it.InteractionID == "call-"+a && it.Status == "aborted" }) {
		t.Errorf("calls after late event: %+v", calls)
	}
	// b merged into c: a's alias follows.
	h.apply(h.ev("merge2", domain.TypeCustomerMerged, h.at(0), c, map[string]any{"from_customer_id": b}))
	if got := len(h.timeline(a)); got != len(h.timeline(c)) || got == 0 {
		t.Errorf("chain: a answers %d items, c has %d", got, len(h.timeline(c)))
	}
	card, err = h.v.Card(c, nil)
	must(t, err)
	if !slices.Equal(card.MergedFrom, []string{a, b}) {
		t.Errorf("chain: merged_from %v, want [%s %s]", card.MergedFrom, a, b)
	}
	for _, old := range []string{a, b} {
		var n int
		must(t, h.db.View(func(tx *bolt.Tx) error {
			for _, bk := range [][]byte{bItems, bCounts, bRefs, bTasks, bOwned} {
				n += len(prefixKeys(tx.Bucket(bk), custPrefix(old)))
			}
			return nil
		}))
		if n != 0 {
			t.Errorf("%s still has %d keys after merging away", old, n)
		}
	}
}

func TestEraseLeavesNoTrace(t *testing.T) {
	h := newHarness(t)
	c := "tel:+33612345678"
	merged := "mailto:jane.doe@example.com"
	secrets := []string{"+33612345678", "jane.doe@example.com", "Jane Doe", "she hates mondays", "jane-secret-file.pdf", "Private title"}
	start := map[string]any{"interaction_id": "call-e", "flow": "voice", "direction": "incoming", "routing": "direct",
		"contact":      map[string]any{"phone": "+33612345678", "email": "jane.doe@example.com"},
		"participants": []map[string]any{{"role": "customer", "name": "Jane Doe"}}}
	h.apply(
		h.ev("s", domain.TypeInteractionStarted, h.at(50), c, start),
		h.ev("m", domain.TypeInteractionStarted, h.at(40), merged, map[string]any{"interaction_id": "mail-e", "flow": "email", "direction": "outgoing",
			"routing": "direct", "contact": map[string]any{"email": "jane.doe@example.com"}}),
		h.ev("n", domain.TypeNoteAdded, h.at(30), merged, map[string]any{"note_id": "n", "text": "she hates mondays"}),
		h.ev("pending", domain.TypeInteractionEnded, h.at(29), c, ended("unstarted", "processed")), // no flow yet
		h.ev("merge", domain.TypeCustomerMerged, h.at(20), c, map[string]any{"from_customer_id": merged}),
		h.ev("f", domain.TypeFileAttached, h.at(10), merged, map[string]any{"file_id": "f", "name": "jane-secret-file.pdf"}),
		h.ev("t", domain.TypeTaskCreated, h.at(10), c, task("t", "Private title")),
		h.ev("u", domain.TypeCustomerUpdated, h.at(5), c, map[string]any{"changes": map[string]any{"name": map[string]any{"from": "Jane Doe", "to": "J. Doe"}}}),
	)
	h.apply(cardEvents(h, "cust-keep")...)
	keep := h.snapshot("cust-keep", "t-cust-keep")
	if n := len(h.timeline(c)); n != 6 {
		t.Fatalf("before erase: %d items, want 6", n)
	}
	h.apply(h.ev("erase", domain.TypeCustomerErased, h.at(1), c, map[string]any{}))

	must(t, h.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				for _, s := range append(secrets, c, merged, "call-e", "mail-e", "unstarted") {
					if bytes.Contains(k, []byte(s)) || bytes.Contains(v, []byte(s)) {
						t.Errorf("bucket %s still holds %q: key %q value %q", name, s, k, v)
					}
				}
				return nil
			})
		})
	}))
	if got := h.snapshot("cust-keep", "t-cust-keep"); got != keep {
		t.Errorf("erase changed another customer:\n got %s\nwant %s", got, keep)
	}
	for _, id := range []string{c, merged} {
		card, err := h.v.Card(id, nil)
		must(t, err)
		if len(h.timeline(id)) != 0 || card.MergedFrom != nil || card.LastEmail != nil {
			t.Errorf("%s after erase: card %+v", id, card)
		}
	}
}

func TestSweep(t *testing.T) {
	h := newHarness(t)
	c := "cust-old"
	h.apply(
		h.ev("old-call", domain.TypeInteractionStarted, h.at(300), c, started("call-old", "voice", "incoming")),
		h.ev("old-note", domain.TypeNoteAdded, h.at(290), c, map[string]any{"note_id": "n-old", "text": "x"}),
		h.ev("old-order", domain.TypeOrderCreated, h.at(280), c, map[string]any{"order_id": "o-old"}),
		h.ev("old-pending", domain.TypeInteractionMessage, h.at(270), c, message("never-started", "incoming")),
		h.ev("old-task", domain.TypeTaskCreated, h.at(260), c, task("t-old", "forgotten")),
		h.ev("kept-task-c", domain.TypeTaskCreated, h.at(250), c, task("t-kept", "touched")),
		h.ev("kept-task-u", domain.TypeTaskUpdated, h.at(50), c, task("t-kept", "touched again")),
		h.ev("new-call", domain.TypeInteractionStarted, h.at(40), c, started("call-new", "voice", "incoming")),
		h.ev("new-visit", domain.TypeVisitRecorded, h.at(30), c, map[string]any{"visit_id": "v-new"}),
	)
	cutoff := h.at(100)
	total := 0
	for round := 0; ; round++ {
		if round > 20 {
			t.Fatal("sweep does not end")
		}
		n, err := h.v.Sweep(cutoff, 2)
		must(t, err)
		if n > 2 {
			t.Fatalf("swept %d, max 2", n)
		}
		if n == 0 {
			break
		}
		total += n
	}
	// old call, note, order, pending interaction, old task item + record, kept task's
	// created item.
	if total != 7 {
		t.Errorf("swept %d entries, want 7", total)
	}
	var got []string
	for _, it := range h.timeline(c) {
		got = append(got, itemID(it))
	}
	want := []string{"visit:v-new", "call:call-new", "task:t-kept"}
	if !slices.Equal(got, want) {
		t.Errorf("after sweep: %v, want %v", got, want)
	}
	if st, _, err := h.v.Task(c, "t-old"); err != nil || st != domain.TaskAbsent {
		t.Errorf("t-old: got %s %v, want absent (its last event left the window)", st, err)
	}
	if st, tk, err := h.v.Task(c, "t-kept"); err != nil || st != domain.TaskPending || tk.Title != "touched again" {
		t.Errorf("t-kept: got %s %+v %v, want pending", st, tk, err)
	}
	card, err := h.v.Card(c, nil)
	must(t, err)
	want2 := map[string]int{"call": 1, "visit": 1, "task": 1}
	for k, n := range card.Counts {
		if n != want2[k] {
			t.Errorf("count %s: got %d, want %d", k, n, want2[k])
		}
	}
	must(t, h.db.View(func(tx *bolt.Tx) error {
		for _, k := range []string{"call-old", "never-started"} {
			if tx.Bucket(bInteractions).Get([]byte(k)) != nil {
				t.Errorf("interaction %s survived the sweep", k)
			}
		}
		// call-new, visit, t-kept's update item and t-kept's record.
		if n := tx.Bucket(bExpiry).Stats().KeyN; n != 4 {
			t.Errorf("expiry keys left: %d, want 4", n)
		}
		return nil
	}))
	if n, err := h.v.Sweep(cutoff, 10); err != nil || n != 0 {
		t.Errorf("second sweep: %d %v, want 0", n, err)
	}
}

// Rebuilding the view from the same events (what `ledger replay` does) answers the same.
func TestProjectorHandleMatchesApply(t *testing.T) {
	h := newHarness(t)
	evs := cardEvents(h, "cust-r")
	var msgs []projections.Message
	for i, e := range evs {
		raw, err := e.Encode()
		must(t, err)
		msgs = append(msgs, projections.Message{Stream: "LEDGER", Seq: uint64(i + 1), Subject: subject(e), Data: raw, Published: h.now})
	}
	p, err := projections.NewProjector(projections.ProjectorConfig{View: h.v, DB: h.db, DeadLetters: noDead{t}, Now: func() time.Time { return h.now }})
	must(t, err)
	must(t, p.Handle(t.Context(), msgs))
	ref := newHarness(t)
	ref.now = h.now
	ref.apply(evs...)
	if got, want := h.snapshot("cust-r", "t-cust-r"), ref.snapshot("cust-r", "t-cust-r"); got != want {
		t.Errorf("projector vs apply:\n got %s\nwant %s", got, want)
	}
}

type noDead struct{ t *testing.T }

func (d noDead) DeadLetter(_ context.Context, m projections.Message, _, reason string) error {
	d.t.Errorf("dead letter seq %d: %s", m.Seq, reason)
	return nil
}

func TestInteractionMovesWithItsCustomer(t *testing.T) {
	h := newHarness(t)
	// Started under the contact's key, then a later event names the CRM customer: the
	// latest event's customer_id owns the interaction (domain.Interaction.Apply).
	h.apply(h.ev("s", domain.TypeInteractionStarted, h.at(10), "tel:+15550100", started("call-m", "voice", "incoming")))
	h.apply(h.ev("e", domain.TypeInteractionEnded, h.at(5), "cust-crm", ended("call-m", "processed")))
	if n := len(h.timeline("tel:+15550100")); n != 0 {
		t.Errorf("old customer still has %d items", n)
	}
	items := h.timeline("cust-crm")
	if len(items) != 1 || items[0].InteractionID != "call-m" || items[0].Status != "processed" {
		t.Fatalf("new customer: got %+v", items)
	}
	for _, c := range []string{"tel:+15550100", "cust-crm"} {
		card, err := h.v.Card(c, nil)
		must(t, err)
		want := 0
		if c == "cust-crm" {
			want = 1
		}
		if card.Counts["call"] != want {
			t.Errorf("%s: call count %d, want %d", c, card.Counts["call"], want)
		}
	}
}

func TestCodecRejectsDamagedValues(t *testing.T) {
	it := Item{Kind: "note", NoteID: "n", Text: "hello", OccurredAt: time.Unix(1700000000, 5).UTC()}
	b := encodeItem(&it)
	got, err := decodeItem(b)
	must(t, err)
	if fmt.Sprint(got) != fmt.Sprint(it) {
		t.Errorf("round trip: got %+v, want %+v", got, it)
	}
	for _, bad := range [][]byte{nil, {9}, b[:len(b)/2]} {
		if _, err := decodeItem(bad); err == nil {
			t.Errorf("decodeItem(%q): want an error", bad)
		}
	}
	if _, err := decodeTask([]byte{fmtTask, 200}); err == nil {
		t.Error("decodeTask of a damaged value: want an error")
	}
	if _, err := decodeInteraction([]byte{fmtInteraction}); err == nil {
		t.Error("decodeInteraction of a damaged value: want an error")
	}

	// An interaction's item: its visibility, then its fields.
	var f domain.Interaction
	h := newHarness(t)
	f.Apply(h.ev("vis-s", domain.TypeInteractionStarted, h.at(9), "c", map[string]any{"interaction_id": "vis",
		"flow": "email", "direction": "outgoing", "routing": "smart", "queue_id": "q-1", "agent_id": "ag-1"}))
	f.Apply(h.ev("vis-r", domain.TypeInteractionRouted, h.at(8), "c", map[string]any{"interaction_id": "vis",
		"routing": "direct", "agent_id": "ag-2"}))
	ib := encodeInteractionItem(&f, KindEmail)
	var vis domain.Visibility
	must(t, itemVisibility(ib, &vis))
	if want := f.Visibility(); !reflect.DeepEqual(vis, want) {
		t.Errorf("itemVisibility = %+v, want the fold's %+v", vis, want)
	}
	iv, err := decodeItem(ib)
	must(t, err)
	if iv.InteractionID != "vis" || iv.Kind != "email" || iv.AgentID != "ag-2" || iv.Flow != "email" || !iv.OccurredAt.Equal(h.at(9)) {
		t.Errorf("interaction item round trip: %+v", iv)
	}
	for _, bad := range [][]byte{nil, b, ib[:3], ib[:16]} { // the visibility cut short
		if err := itemVisibility(bad, &vis); err == nil {
			t.Errorf("itemVisibility(%q): want an error", bad)
		}
	}
	if _, err := decodeItem(ib[:len(ib)-2]); err == nil {
		t.Error("decodeItem of a cut interaction item: want an error")
	}
}

// TestChangedAt: a card's change position follows every event of the customer, of one
// merged into it (after and before the merge), and is gone with an erasure.
func TestChangedAt(t *testing.T) {
	h := newHarness(t)
	at := func(c string) uint64 {
		t.Helper()
		n, err := h.v.ChangedAt(c)
		must(t, err)
		return n
	}
	a, b := "cust-a", "cust-b"
	if got := at(a); got != 0 {
		t.Fatalf("unknown customer at %d, want 0", got)
	}
	s1 := h.apply(h.ev("n1", domain.TypeNoteAdded, h.at(9), a, map[string]any{"note_id": "n1", "text": "x"}))
	s2 := h.apply(h.ev("n2", domain.TypeNoteAdded, h.at(8), b, map[string]any{"note_id": "n2", "text": "y"}))
	if at(a) != s1 || at(b) != s2 {
		t.Fatalf("at(a)=%d at(b)=%d, want %d %d", at(a), at(b), s1, s2)
	}
	s3 := h.apply(h.ev("m", domain.TypeCustomerMerged, h.at(7), a, map[string]any{"from_customer_id": b}))
	if at(a) != s3 || at(b) != s3 {
		t.Errorf("after the merge: at(a)=%d at(b)=%d, want %d", at(a), at(b), s3)
	}
	s4 := h.apply(h.ev("n3", domain.TypeNoteAdded, h.at(6), b, map[string]any{"note_id": "n3", "text": "z"}))
	if at(a) != s4 {
		t.Errorf("an event of the merged customer: at(a)=%d, want %d", at(a), s4)
	}
	h.apply(h.ev("e", domain.TypeCustomerErased, h.at(5), a, map[string]any{}))
	if at(a) != 0 || at(b) != 0 {
		t.Errorf("after the erasure: at(a)=%d at(b)=%d, want 0", at(a), at(b))
	}
}
