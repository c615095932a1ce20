package history

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/domain"
)

// TestApplyOrderIndependent: out-of-order and repeated events give the same file as the
// events in order, one at a time.
func TestApplyOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	evs := genEvents(t, rng, 60)
	inOrder, db1 := openView(t)
	for _, ev := range evs {
		apply(t, inOrder, db1, ev)
	}
	want := dump(t, db1)
	for _, tc := range []struct {
		name  string
		batch int
	}{{"shuffled one by one", 1}, {"shuffled batches of 7", 7}, {"one batch", 1 << 20}} {
		t.Run(tc.name, func(t *testing.T) {
			deliver := append(slices.Clone(evs), evs[:20]...)
			rng.Shuffle(len(deliver), func(i, j int) { deliver[i], deliver[j] = deliver[j], deliver[i] })
			v, db := openView(t)
			for len(deliver) > 0 {
				k := min(tc.batch, len(deliver))
				apply(t, v, db, deliver[:k]...)
				deliver = deliver[k:]
			}
			apply(t, v, db, evs[3], evs[4]) // duplicates again, alone
			if got := dump(t, db); !slices.Equal(got, want) {
				t.Errorf("file differs from the in-order one:\n got %d entries\nwant %d entries\nfirst difference: %s", len(got), len(want), firstDiff(got, want))
			}
		})
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] + " vs " + b[i]
		}
	}
	return "(length)"
}

// TestTransferMovesIndexes: the current queue and agent move; the earlier ones stay in
// the access lists; start_at moves when interaction.started arrives late.
func TestTransferMovesIndexes(t *testing.T) {
	v, db := openView(t)
	at := testNow.Add(-time.Hour)
	admin := domain.Reader{AgentID: "adm", Role: domain.RoleAdministrator, ProfileQueues: []string{"Q1", "Q2"}, ProfileFlows: domain.Flows(), HistoryAccess: true}
	day := Query{From: testNow.Add(-24 * time.Hour), To: testNow}
	// The routing arrives before the start (whose time is earlier).
	apply(t, v, db, routed(t, "x", at.Add(5*time.Minute), "c", "smart", "Q2", "ag2"))
	if got := listAll(t, v, admin, day); len(got) != 0 {
		t.Fatalf("before the start, smart-ness unknown: got %v", ids(got))
	}
	apply(t, v, db, started(t, "x", at, "c", "voice", "smart", "Q1", "ag1", nil))
	for _, tc := range []struct {
		name string
		q    func(Query) Query
		want []string
	}{
		{"current queue", func(q Query) Query { q.QueueID = []string{"Q2"}; return q }, []string{"x"}},
		{"earlier queue is not the column", func(q Query) Query { q.QueueID = []string{"Q1"}; return q }, nil},
		{"current agent", func(q Query) Query { q.AgentID = []string{"ag2"}; return q }, []string{"x"}},
		{"earlier agent", func(q Query) Query { q.AgentID = []string{"ag1"}; return q }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(listAll(t, v, admin, tc.q(day))); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	items := listAll(t, v, admin, day)
	if len(items) != 1 || !items[0].StartAt.Equal(at) || items[0].QueueID != "Q2" || items[0].AgentID != "ag2" {
		t.Fatalf("got %+v, want start %s, Q2, ag2", items, at)
	}
	// The earlier agent still sees it (handled before the transfer).
	ag1 := domain.Reader{AgentID: "ag1", Role: domain.RoleCollaborator, HistoryAccess: true}
	if got := listAll(t, v, ag1, day); len(got) != 1 {
		t.Fatalf("ag1 sees %v, want x", ids(got))
	}
	keys := strings.Join(indexKeysContaining(t, db, "x"), "\n")
	if n := strings.Count(keys, "index \""); n != 5 { // a:ag1 a:ag2 q:Q1 q:Q2 u:c
		t.Errorf("index keys of x:\n%s\nwant 5", keys)
	}
	st, err := v.Stats()
	if err != nil || st.Interactions != 1 || st.IndexEntries != 5 {
		t.Errorf("Stats = %+v, %v; want 1 interaction, 5 entries", st, err)
	}
}

// TestCursorStableUnderInserts: inserting newer and older interactions between two pages
// neither repeats nor skips an originally present row.
func TestCursorStableUnderInserts(t *testing.T) {
	for _, sort := range []string{"start_at", "agent_id", "end_at"} {
		for _, desc := range []bool{true, false} {
			t.Run(sort+map[bool]string{true: "/desc", false: "/asc"}[desc], func(t *testing.T) {
				v, db := openView(t)
				r := domain.Reader{AgentID: "adm", Role: domain.RoleAdministrator, HistoryAccess: true}
				base := testNow.Add(-10 * time.Hour)
				var evs []domain.Event
				var orig []string
				for i := range 30 {
					id := "orig-" + string(rune('a'+i/26)) + string(rune('a'+i%26))
					orig = append(orig, id)
					evs = append(evs, started(t, id, base.Add(time.Duration(i)*10*time.Minute), "c", "voice", "direct", "", []string{"ag1", "ag2", "ag3"}[i%3], nil))
				}
				apply(t, v, db, evs...)
				q := Query{From: testNow.Add(-24 * time.Hour), To: testNow, Sort: sort, Desc: desc, Limit: 7}
				p1, err := v.List(r, q)
				if err != nil {
					t.Fatal(err)
				}
				seen := ids(p1.Items)
				var more []domain.Event
				for i := range 10 {
					more = append(more,
						started(t, "new-older-"+string(rune('a'+i)), base.Add(-time.Duration(i+1)*time.Minute), "c", "voice", "direct", "", "ag2", nil),
						started(t, "new-newer-"+string(rune('a'+i)), base.Add(6*time.Hour+time.Duration(i)*time.Minute), "c", "voice", "direct", "", "ag2", nil))
				}
				apply(t, v, db, more...)
				q.Cursor = p1.NextCursor
				for q.Cursor != "" {
					p, err := v.List(r, q)
					if err != nil {
						t.Fatal(err)
					}
					seen = append(seen, ids(p.Items)...)
					q.Cursor = p.NextCursor
				}
				for _, id := range orig {
					if c := countOf(seen, id); c != 1 {
						t.Errorf("%s seen %d times", id, c)
					}
				}
				dup := slices.Clone(seen)
				slices.Sort(dup)
				if len(slices.Compact(dup)) != len(seen) {
					t.Errorf("duplicates across pages: %v", seen)
				}
			})
		}
	}
}

func countOf(s []string, x string) int {
	n := 0
	for _, v := range s {
		if v == x {
			n++
		}
	}
	return n
}

func TestCursorOfAnotherQueryRefused(t *testing.T) {
	v, db := openView(t)
	r := domain.Reader{AgentID: "adm", Role: domain.RoleAdministrator, HistoryAccess: true}
	for i := range 3 {
		apply(t, v, db, started(t, "i"+string(rune('0'+i)), testNow.Add(-time.Duration(i+1)*time.Hour), "c", "voice", "direct", "", "a", nil))
	}
	q := Query{From: testNow.Add(-24 * time.Hour), To: testNow, Limit: 1}
	p, err := v.List(r, q)
	if err != nil || p.NextCursor == "" {
		t.Fatalf("page 1: %+v, %v", p, err)
	}
	other := q
	other.Flow = []domain.Flow{domain.FlowVoice}
	other.Cursor = p.NextCursor
	var qe *QueryError
	if _, err := v.List(r, other); !errors.As(err, &qe) || qe.Param != "cursor" {
		t.Errorf("List with another query's cursor: %v, want a QueryError on cursor", err)
	}
	bad := q
	bad.Cursor = "not-a-cursor!"
	if _, err := v.List(r, bad); !errors.As(err, &qe) || qe.Param != "cursor" {
		t.Errorf("List with a garbage cursor: %v, want a QueryError on cursor", err)
	}
}

// TestMergeEraseSweep: a merge shows the survivor; an erase leaves nothing of the
// customer; Sweep removes old interactions in bounded batches.
func TestMergeEraseSweep(t *testing.T) {
	v, db := openView(t)
	r := domain.Reader{AgentID: "adm", Role: domain.RoleAdministrator, HistoryAccess: true}
	all := Query{From: testNow.Add(-30 * 24 * time.Hour), To: testNow}
	phone := map[string]any{"contact": map[string]any{"phone": "+33 6 99 88 77 66"}}
	apply(t, v, db,
		started(t, "a1", testNow.Add(-time.Hour), "cust-a", "voice", "direct", "", "ag", phone),
		started(t, "b1", testNow.Add(-2*time.Hour), "cust-b", "voice", "direct", "", "ag", nil),
		started(t, "c1", testNow.Add(-3*time.Hour), "cust-c", "voice", "direct", "", "ag", nil),
		started(t, "keep", testNow.Add(-4*time.Hour), "cust-k", "voice", "direct", "", "ag", nil),
	)
	// a merged into b, then b into c: a chain resolved to c.
	apply(t, v, db, mk(t, domain.TypeCustomerMerged, testNow.Add(-time.Minute), "cust-b", map[string]any{"from_customer_id": "cust-a"}))
	apply(t, v, db, mk(t, domain.TypeCustomerMerged, testNow.Add(-time.Minute), "cust-c", map[string]any{"from_customer_id": "cust-b"}))
	items := listAll(t, v, r, all)
	for _, it := range items {
		if it.InteractionID != "keep" && it.CustomerID != "cust-c" {
			t.Errorf("%s shows customer %s, want the survivor cust-c", it.InteractionID, it.CustomerID)
		}
	}
	if d, err := v.Get(r, "a1"); err != nil || d.CustomerID != "cust-c" {
		t.Errorf("Get a1: customer %q, %v; want cust-c", d.CustomerID, err)
	}
	q := all
	q.CustomerID = []string{"cust-c"}
	if got := ids(listAll(t, v, r, q)); !slices.Equal(got, []string{"c1", "b1", "a1"}) {
		t.Errorf("customer_id=cust-c: %v, want c1 b1 a1", got)
	}
	q.CustomerID = []string{"cust-a"}
	if got := listAll(t, v, r, q); len(got) != 0 {
		t.Errorf("customer_id=cust-a (merged away): %v, want none", ids(got))
	}
	// Erasing the survivor erases what was merged into it.
	apply(t, v, db, mk(t, domain.TypeCustomerErased, testNow, "cust-c", map[string]any{}))
	if got := ids(listAll(t, v, r, all)); !slices.Equal(got, []string{"keep"}) {
		t.Errorf("after erase: %v, want keep", got)
	}
	for _, id := range []string{"a1", "b1", "c1"} {
		if _, err := v.Get(r, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get %s after erase: %v, want ErrNotFound", id, err)
		}
	}
	for _, s := range []string{"cust-a", "cust-b", "cust-c", "66778899", "+33699887766"} {
		if keys := indexKeysContaining(t, db, s); len(keys) > 0 {
			t.Errorf("after erase, keys still hold %s: %v", s, keys)
		}
	}
	q = Query{From: all.From, To: all.To, Q: "06 99 88 77 66"}
	if got := listAll(t, v, r, q); len(got) != 0 {
		t.Errorf("search after erase: %v", ids(got))
	}

	// Sweep: 25 old interactions, removed 10 at a time.
	var old []domain.Event
	for i := range 25 {
		old = append(old, started(t, "old-"+string(rune('a'+i)), testNow.Add(-20*24*time.Hour+time.Duration(i)*time.Minute), "cust-o", "voice", "smart", "Q1", "ag", nil))
	}
	apply(t, v, db, old...)
	cutoff := testNow.Add(-10 * 24 * time.Hour)
	var batches []int
	for {
		n, err := v.Sweep(cutoff, 10)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		batches = append(batches, n)
	}
	if !slices.Equal(batches, []int{10, 10, 5}) {
		t.Errorf("sweep batches %v, want 10 10 5", batches)
	}
	if got := ids(listAll(t, v, r, all)); !slices.Equal(got, []string{"keep"}) {
		t.Errorf("after sweep: %v, want keep", got)
	}
	if keys := indexKeysContaining(t, db, "old-"); len(keys) > 0 {
		t.Errorf("after sweep, keys remain: %v", keys)
	}
	st, err := v.Stats()
	if err != nil || st.Interactions != 1 || st.IndexEntries != 3 { // keep: a:ag, d:direct, u:cust-k
		t.Errorf("Stats = %+v, %v; want 1 interaction, 3 entries", st, err)
	}
}

// TestDetail: Get shows the detail parts, events oldest first.
func TestDetail(t *testing.T) {
	v, db := openView(t)
	at := testNow.Add(-time.Hour)
	r := domain.Reader{AgentID: "ag", Role: domain.RoleCollaborator, HistoryAccess: true}
	apply(t, v, db,
		ended(t, "d", at.Add(10*time.Minute), "c", "dissuaded"),
		mk(t, domain.TypeInteractionQualified, at.Add(11*time.Minute), "c", map[string]any{"interaction_id": "d", "qualifications": []string{"sale"}}),
		mk(t, domain.TypeInvoiceIssued, at.Add(12*time.Minute), "c", map[string]any{"interaction_id": "d", "invoice_id": "inv1", "amount": "12.50", "currency": "EUR"}),
		mk(t, domain.TypeSurveyAnswered, at.Add(13*time.Minute), "c", map[string]any{"interaction_id": "d", "survey_id": "s1", "answers": []map[string]any{{"question": "q", "answer": "a"}}}),
		mk(t, domain.TypeInteractionLinked, at.Add(14*time.Minute), "c", map[string]any{"interaction_id": "d", "action": "assigned", "crm_record_id": "crm1", "case_id": "case1"}),
		routed(t, "d", at.Add(time.Minute), "c", "direct", "", "ag"),
		started(t, "d", at, "c", "voice", "direct", "", "ag", map[string]any{"participants": []map[string]any{{"role": "agent", "id": "ag"}}}),
	)
	d, err := v.Get(r, "d")
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != "dissuaded" || d.Reason != "closed" || d.EndAt == nil || !d.StartAt.Equal(at) || d.CRMRecord != "crm1" ||
		d.Case != "case1" || len(d.Qualifications) != 1 || len(d.Invoices) != 1 || len(d.SurveyAnswers) != 1 ||
		len(d.Participants) != 1 || len(d.Events) != 7 || d.Events[0].Type != "interaction.started" || !slices.Equal(d.Agents, []string{"ag"}) {
		t.Errorf("detail = %+v", d)
	}
	if _, err := v.Get(r, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get nope: %v", err)
	}
}

// TestDetailEmailClicks: an e-mail's detail shows its first open and first click with
// their counts (null and 0 before any), whichever arrived first.
func TestDetailEmailClicks(t *testing.T) {
	v, db := openView(t)
	at := testNow.Add(-time.Hour)
	r := domain.Reader{AgentID: "ag", Role: domain.RoleCollaborator, HistoryAccess: true}
	apply(t, v, db, started(t, "m", at, "c", "email", "direct", "", "ag", nil))
	d, err := v.Get(r, "m")
	if err != nil {
		t.Fatal(err)
	}
	if d.ClickedAt != nil || d.ClickCount != 0 || d.OpenedAt != nil {
		t.Errorf("before any click: clicked_at %v, click_count %d, opened_at %v; want null, 0, null", d.ClickedAt, d.ClickCount, d.OpenedAt)
	}
	apply(t, v, db,
		mk(t, domain.TypeEmailClicked, at.Add(9*time.Minute), "c", map[string]any{"interaction_id": "m", "url": "https://example.com/a"}),
		mk(t, domain.TypeEmailClicked, at.Add(3*time.Minute), "c", map[string]any{"interaction_id": "m"}),
		mk(t, domain.TypeEmailOpened, at.Add(2*time.Minute), "c", map[string]any{"interaction_id": "m"}),
	)
	if d, err = v.Get(r, "m"); err != nil {
		t.Fatal(err)
	}
	if d.ClickedAt == nil || !d.ClickedAt.Equal(at.Add(3*time.Minute)) || d.ClickCount != 2 {
		t.Errorf("clicked_at %v, click_count %d; want %v, 2", d.ClickedAt, d.ClickCount, at.Add(3*time.Minute))
	}
	if d.OpenedAt == nil || !d.OpenedAt.Equal(at.Add(2*time.Minute)) || d.OpenCount != 1 {
		t.Errorf("opened_at %v, open_count %d; want %v, 1", d.OpenedAt, d.OpenCount, at.Add(2*time.Minute))
	}
}

// TestEraseFollowsEveryMerge: an id merged into one customer and then into another is
// erased with either (the stream's eraser follows every merge event, adapters/erasure),
// while the lists by customer follow its latest merge only.
func TestEraseFollowsEveryMerge(t *testing.T) {
	r := domain.Reader{AgentID: "adm", Role: domain.RoleAdministrator, HistoryAccess: true}
	all := Query{From: testNow.Add(-30 * 24 * time.Hour), To: testNow}
	for _, erase := range []string{"cust-b", "cust-c"} {
		t.Run(erase, func(t *testing.T) {
			v, db := openView(t)
			apply(t, v, db,
				started(t, "a1", testNow.Add(-time.Hour), "cust-a", "voice", "direct", "", "ag", nil),
				started(t, "b1", testNow.Add(-2*time.Hour), "cust-b", "voice", "direct", "", "ag", nil),
				started(t, "c1", testNow.Add(-3*time.Hour), "cust-c", "voice", "direct", "", "ag", nil),
			)
			apply(t, v, db, mk(t, domain.TypeCustomerMerged, testNow.Add(-2*time.Minute), "cust-b", map[string]any{"from_customer_id": "cust-a"}))
			apply(t, v, db, mk(t, domain.TypeCustomerMerged, testNow.Add(-time.Minute), "cust-c", map[string]any{"from_customer_id": "cust-a"}))
			q := all
			q.CustomerID = []string{"cust-b"}
			if got := ids(listAll(t, v, r, q)); !slices.Equal(got, []string{"b1"}) {
				t.Errorf("customer_id=cust-b after cust-a moved on to cust-c: %v, want b1", got)
			}
			q.CustomerID = []string{"cust-c"}
			if got := ids(listAll(t, v, r, q)); !slices.Equal(got, []string{"c1", "a1"}) {
				t.Errorf("customer_id=cust-c: %v, want c1 a1", got)
			}
			apply(t, v, db, mk(t, domain.TypeCustomerErased, testNow, erase, map[string]any{}))
			want := map[string][]string{"cust-b": {"c1"}, "cust-c": {"b1"}}[erase]
			if got := ids(listAll(t, v, r, all)); !slices.Equal(got, want) {
				t.Errorf("after erasing %s: %v, want %v", erase, got, want)
			}
			for _, s := range []string{"cust-a", erase} {
				if keys := indexKeysContaining(t, db, s); len(keys) > 0 {
					t.Errorf("after erasing %s, keys still hold %s: %v", erase, s, keys)
				}
			}
		})
	}
}
