package timeline

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/interaction-ledger/ledger/domain"
)

// collaborator is a Visible of the access rule itself: a collaborator with history
// access sees the interactions they handled. It counts the interactions it was asked
// about.
func collaborator(agent string, asked *int) Visible {
	rd := domain.Reader{AgentID: agent, Role: domain.RoleCollaborator, HistoryAccess: true}
	return func(v domain.Visibility) bool {
		*asked++
		return rd.CanSee(v)
	}
}

// label names a timeline item for comparisons.
func label(it Item) string {
	switch {
	case it.InteractionID != "":
		return it.InteractionID
	case it.NoteID != "":
		return it.NoteID
	}
	return it.Kind
}

// TestReadHidesWhatVisibleRefuses: an interaction the reader may not see appears nowhere
// (timeline at any page size, chats tab, counts, last email), pages stay full, and the
// cursor neither repeats nor skips a visible item.
func TestReadHidesWhatVisibleRefuses(t *testing.T) {
	h := newHarness(t)
	c := "cust-vis"
	var evs []domain.Event
	// Interactions i-00 … i-11, flows voice, email, sms, whatsapp in turn; only every third
	// (i-00, i-03, i-06, i-09) was handled by ag-1, the reader, one of each flow; the
	// others (-x) by ag-x. A note follows each.
	var want []string // visible labels, oldest first until reversed
	for i := range 12 {
		flow := []string{"voice", "email", "sms", "whatsapp"}[i%4]
		iid, agent := fmt.Sprintf("i-%02d", i), "ag-1"
		if i%3 != 0 {
			iid, agent = iid+"-x", "ag-x"
		}
		evs = append(evs, h.ev(iid, domain.TypeInteractionStarted, h.at(100-i*5), c, map[string]any{
			"interaction_id": iid, "flow": flow, "direction": "outgoing", "routing": "direct", "agent_id": agent}))
		if i%3 == 0 {
			want = append(want, iid)
		}
		note := fmt.Sprintf("n-%02d", i)
		evs = append(evs, h.ev(note, domain.TypeNoteAdded, h.at(98-i*5), c, map[string]any{"note_id": note, "text": "t"}))
		want = append(want, note)
	}
	// The newest email is hidden: the card's last email must be the newest visible one.
	evs = append(evs, h.ev("m-late-x", domain.TypeInteractionStarted, h.at(1), c, map[string]any{
		"interaction_id": "m-late-x", "flow": "email", "direction": "outgoing", "routing": "direct", "agent_id": "ag-x"}))
	h.apply(evs...)
	slices.Reverse(want)

	for _, limit := range []int{1, 2, 3, 5, MaxLimit} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			var asked int
			var got []string
			cur := ""
			for pages := 0; ; pages++ {
				if pages > len(want) {
					t.Fatal("the cursor does not advance")
				}
				p, err := h.v.Read(c, Query{Limit: limit, Cursor: cur, Visible: collaborator("ag-1", &asked)})
				must(t, err)
				for _, it := range p.Items {
					got = append(got, label(it))
				}
				if p.NextCursor == "" {
					break
				}
				if len(p.Items) != limit {
					t.Fatalf("page %d has %d items and a next cursor; want full pages of %d", pages, len(p.Items), limit)
				}
				cur = p.NextCursor
			}
			if !slices.Equal(got, want) {
				t.Fatalf("paged timeline:\n got %v\nwant %v", got, want)
			}
			if asked == 0 {
				t.Fatal("Visible was never asked")
			}
		})
	}

	var asked int
	chats, err := h.v.Chats(c, MaxLimit, "", collaborator("ag-1", &asked))
	must(t, err)
	var gotChats []string
	for _, ch := range chats.Items {
		gotChats = append(gotChats, ch.InteractionID)
	}
	if !slices.Equal(gotChats, []string{"i-03"}) {
		t.Errorf("chats tab = %v, want [i-03]", gotChats)
	}

	card, err := h.v.Card(c, collaborator("ag-1", &asked))
	must(t, err)
	wantCounts := map[string]int{"call": 1, "email": 1, "sms": 1, "chat": 1, "note": 12}
	for k, n := range wantCounts {
		if card.Counts[k] != n {
			t.Errorf("card count %s = %d, want %d (all counts %v)", k, card.Counts[k], n, card.Counts)
		}
	}
	// The emails are i-01-x, i-05-x, i-09 and m-late-x: i-09 is the newest visible.
	if card.LastEmail == nil || card.LastEmail.InteractionID != "i-09" {
		t.Errorf("last email = %+v, want i-09", card.LastEmail)
	}
	all, err := h.v.Card(c, nil)
	must(t, err)
	if all.Counts["email"] != 4 || all.Counts["call"] != 3 || all.LastEmail == nil || all.LastEmail.InteractionID != "m-late-x" {
		t.Errorf("unfiltered card: counts %v, last email %+v; want 3 calls, 4 emails, m-late-x", all.Counts, all.LastEmail)
	}

}

// pageAll reads every page of a tab with limit, failing on a non-full page that has a
// next cursor or on a cursor that does not advance, and returns the rows' labels.
func pageAll[T any](t *testing.T, limit int, get func(cur string) (TabPage[T], error), label func(T) string) []string {
	t.Helper()
	var got []string
	cur := ""
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("the cursor does not advance")
		}
		p, err := get(cur)
		must(t, err)
		for _, it := range p.Items {
			got = append(got, label(it))
		}
		if p.NextCursor == "" {
			return got
		}
		if len(p.Items) != limit {
			t.Fatalf("page %d has %d rows and a next cursor; want %d", pages, len(p.Items), limit)
		}
		cur = p.NextCursor
	}
}

// TestTabsPage: every tab pages with limit and cursor like the timeline, in the same
// order as one big page, and refuses a cursor it did not write.
func TestTabsPage(t *testing.T) {
	h := newHarness(t)
	c := "cust-tabs"
	var evs []domain.Event
	for i := range 7 {
		n := fmt.Sprint(i)
		evs = append(evs,
			h.ev("v"+n, domain.TypeVisitRecorded, h.at(50-i), c, map[string]any{"visit_id": "v-" + n, "source": "s"}),
			h.ev("g"+n, domain.TypeSegmentJoined, h.at(50-i), c, map[string]any{"segment_id": "g-" + n, "name": "G"}),
			// Two tasks per minute: created_at ties are broken by task id.
			h.ev("t"+n, domain.TypeTaskCreated, h.at(50-i/2), c, task("t-"+n, "T")),
			h.ev("w"+n, domain.TypeInteractionStarted, h.at(50-i), c, map[string]any{
				"interaction_id": "w-" + n, "flow": "chat", "direction": "incoming", "routing": "direct", "agent_id": "ag-1"}),
		)
	}
	h.apply(evs...)
	tabs := []struct {
		name string
		read func(limit int, cur string) ([]string, string, error)
	}{
		{"chats", func(limit int, cur string) ([]string, string, error) {
			p, err := h.v.Chats(c, limit, cur, nil)
			return labels(p, func(x Chat) string { return x.InteractionID }), p.NextCursor, err
		}},
		{"visits", func(limit int, cur string) ([]string, string, error) {
			p, err := h.v.Visits(c, limit, cur)
			return labels(p, func(x Visit) string { return x.VisitID }), p.NextCursor, err
		}},
		{"segments", func(limit int, cur string) ([]string, string, error) {
			p, err := h.v.Segments(c, limit, cur)
			return labels(p, func(x SegmentChange) string { return x.SegmentID }), p.NextCursor, err
		}},
		{"tasks", func(limit int, cur string) ([]string, string, error) {
			p, err := h.v.Tasks(c, limit, cur)
			return labels(p, func(x Task) string { return x.TaskID }), p.NextCursor, err
		}},
	}
	for _, tab := range tabs {
		t.Run(tab.name, func(t *testing.T) {
			whole, next, err := tab.read(MaxLimit, "")
			must(t, err)
			if len(whole) != 7 || next != "" {
				t.Fatalf("one page: %v, next %q; want 7 rows and no cursor", whole, next)
			}
			for _, limit := range []int{1, 2, 3} {
				got := pageAll(t, limit, func(cur string) (TabPage[string], error) {
					items, next, err := tab.read(limit, cur)
					return TabPage[string]{Items: items, NextCursor: next}, err
				}, func(s string) string { return s })
				if !slices.Equal(got, whole) {
					t.Errorf("limit %d: %v, want %v", limit, got, whole)
				}
			}
			if _, _, err := tab.read(2, "not-a-cursor"); !errors.Is(err, ErrBadCursor) {
				t.Errorf("bad cursor: err %v, want ErrBadCursor", err)
			}
		})
	}
	// A timeline cursor is not a tasks cursor.
	p, err := h.v.Read(c, Query{Kinds: []Kind{KindVisit}, Limit: 1})
	must(t, err)
	if _, err := h.v.Tasks(c, 1, p.NextCursor); !errors.Is(err, ErrBadCursor) {
		t.Errorf("tasks with a visits cursor: err %v, want ErrBadCursor", err)
	}
}

func labels[T any](p TabPage[T], label func(T) string) []string {
	out := make([]string, len(p.Items))
	for i, x := range p.Items {
		out[i] = label(x)
	}
	return out
}
