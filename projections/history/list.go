package history

import (
	"bytes"
	"cmp"
	"container/heap"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unsafe"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/domain/contact"
)

// Item is one row of the list: the contract's columns, by their names.
type Item struct {
	InteractionID   string     `json:"interaction_id"`
	StartAt         time.Time  `json:"start_at"`
	EndAt           *time.Time `json:"end_at"`
	Flow            string     `json:"flow"`
	Status          string     `json:"status"`
	Reason          string     `json:"reason"`
	Direction       string     `json:"direction"`
	OriginalRouting string     `json:"original_routing"`
	CurrentRouting  string     `json:"current_routing"`
	AgentID         string     `json:"agent_id"`
	QueueID         string     `json:"queue_id"`
	Contact         string     `json:"contact"` // the phone or email shown
	VoiceCampaign   string     `json:"voice_campaign"`
	Template        string     `json:"template"`
	CustomerID      string     `json:"customer_id"` // the surviving customer after merges
	CRMRecord       string     `json:"crm_record,omitempty"`
	// VisibleBecause is why the reader may see it: on the list only when asked
	// (?explain=1, filled by the HTTP layer from View.Reasons), always on the detail.
	VisibleBecause []domain.Reason `json:"visible_because,omitempty"`
}

// Page is one page of the list; NextCursor is "" on the last page.
type Page struct {
	Items      []Item `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// Detail is one interaction opened: every column plus its detail.
type Detail struct {
	Item
	Participants []domain.Participant `json:"participants"`
	Events       []domain.EventRecord `json:"events"` // oldest first: one page (EventsPage)
	// EventsNextCursor asks for the next page of Events (events_cursor); "" on the last.
	EventsNextCursor string           `json:"events_next_cursor"`
	SRData           json.RawMessage  `json:"sr_data"`
	CRMRecord        string           `json:"crm_record"`
	Case             string           `json:"case"`
	Qualifications   []string         `json:"qualifications"`
	SurveyAnswers    []domain.Survey  `json:"survey_answers"`
	Invoices         []domain.Invoice `json:"invoices"`
	Agents           []string         `json:"agents"`
	Queues           []string         `json:"queues"`
	MessageCount     int              `json:"message_count"`
	OpenedAt         *time.Time       `json:"opened_at"`
	OpenCount        int              `json:"open_count"`
	ClickedAt        *time.Time       `json:"clicked_at"` // an e-mail's first followed link, null until then
	ClickCount       int              `json:"click_count"`
}

// Get returns the interaction's detail with the first page of its events, or ErrNotFound
// when it does not exist or r may not see it.
func (v *View) Get(r domain.Reader, id string) (Detail, error) {
	return v.GetPage(r, id, EventsPage{})
}

// GetPage is Get with the page of events ep: a dialogue may hold thousands. A bad cursor
// is a *QueryError.
func (v *View) GetPage(r domain.Reader, id string, ep EventsPage) (Detail, error) {
	if _, err := ep.position(); err != nil {
		return Detail{}, err
	}
	var d Detail
	err := v.db.View(func(tx *bolt.Tx) error {
		in, h, err := visibleDetail(tx, r, id)
		if err != nil {
			return err
		}
		d = v.detailOf(tx, &in)
		if d.Events, d.EventsNextCursor, err = readEvents(tx, h, ep); err != nil {
			return err
		}
		vis, err := detailVisibility(tx, &in, h)
		if err != nil {
			return err
		}
		d.VisibleBecause = r.Reasons(vis)
		return nil
	})
	return d, err
}

// detailOf renders a folded interaction as the detail shows it, without its events.
func (v *View) detailOf(tx *bolt.Tx, in *domain.Interaction) Detail {
	row := rowOf(in, v.phones.Phone)
	d := Detail{Item: row.item(resolve(tx.Bucket(bMerges), row.customer)),
		Participants: nonNil(in.Participants), SRData: in.SRData,
		CRMRecord: in.CRMRecord, Case: in.Case, Qualifications: nonNil(in.Qualifications),
		SurveyAnswers: nonNil(in.Surveys), Invoices: nonNil(in.Invoices), Agents: nonNil(in.Agents),
		Queues: nonNil(in.Queues), MessageCount: in.MessageCount, OpenCount: in.OpenCount,
		OpenedAt: utcPtr(in.OpenedAt), ClickedAt: utcPtr(in.ClickedAt), ClickCount: in.ClickCount}
	if len(d.SRData) == 0 {
		d.SRData = json.RawMessage("null")
	}
	return d
}

// visibleDetail loads the interaction id for r, and its handle: ErrNotFound when it does
// not exist or r may not see it.
func visibleDetail(tx *bolt.Tx, r domain.Reader, id string) (domain.Interaction, []byte, error) {
	in, h, err := loadDetail(tx, id)
	if err != nil {
		return in, nil, err
	}
	if h == nil || !r.CanSee(in.Visibility()) {
		return domain.Interaction{}, nil, ErrNotFound
	}
	return in, h, nil
}

// Visible reports, for each of ids, whether the interaction exists and r may see it:
// true exactly for the ids Get answers rather than ErrNotFound (a page's live updates
// ask it of the interaction they follow).
func (v *View) Visible(r domain.Reader, ids []string) ([]bool, error) {
	out := make([]bool, len(ids))
	err := v.eachRow(r, ids, func(i int, row *row) { out[i] = r.CanSee(row.visibility()) })
	return out, err
}

// eachRow calls fn with the row of each of ids that exists, in one read transaction;
// nothing for a reader without history access. The row is a rowView's: valid during the
// call only (fn copies what it keeps).
func (v *View) eachRow(r domain.Reader, ids []string, fn func(i int, row *row)) error {
	if !r.HistoryAccess || len(ids) == 0 {
		return nil
	}
	return v.db.View(func(tx *bolt.Tx) error {
		handles, rows := tx.Bucket(bHandles), tx.Bucket(bRows)
		var rv rowView
		var tk []byte
		for i, id := range ids {
			_, start, err := lookup(handles, id)
			if err != nil {
				return err
			}
			if start == nil {
				continue
			}
			tk = append(append(tk[:0], start...), id...)
			val := rows.Get(tk)
			if val == nil {
				return fmt.Errorf("interaction %s: no row: %w", id, errCorrupt)
			}
			row, err := rv.decode(tk, val)
			if err != nil {
				return fmt.Errorf("interaction %s: %w", id, err)
			}
			fn(i, row)
		}
		return nil
	})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// contactMatcher is one searched contact: an exact phone, the last digits of one, or an
// email.
type contactMatcher struct {
	e164, suffix, email string
}

func (v *View) matcher(s string) contactMatcher {
	if strings.Contains(s, "@") {
		e, _ := contact.Email(s)
		return contactMatcher{email: e}
	}
	var m contactMatcher
	m.e164, _ = contact.Phone(s, v.region)
	if d := contact.Digits(s); len(d) >= contact.MinDigitsSuffix {
		m.suffix = d
	}
	return m
}

func (m contactMatcher) match(r *row) bool {
	switch {
	case m.email != "":
		return r.email == m.email
	case r.phone == "":
		return false
	case m.e164 != "" && r.phone == m.e164:
		return true
	}
	return m.suffix != "" && strings.HasSuffix(contact.Digits(r.phone), m.suffix)
}

// plan is a query made ready to run against one transaction.
type plan struct {
	q         *Query
	reader    domain.Reader
	contacts  []contactMatcher // OR
	search    *contactMatcher  // q
	customers map[string]bool  // surviving ids asked for
	ids       map[string]bool
	merges    *bolt.Bucket
	mc        *bolt.Cursor      // on merges, made at the first lookup
	resolved  map[string]string // a ChangeBatch's plan: its customers, resolved
	lo, hi    []byte            // the time range as tkey bounds [lo, hi)
	// loNanos, hiNanos are the same range as start_at nanos, for match.
	loNanos, hiNanos int64
}

// customer returns the surviving customer of a stored customer_id: stored itself when no
// merge took it (it may be a rowView's string, which a caller that keeps it copies), else
// a copy of the survivor's. A page's customers are mostly distinct and mostly never
// merged: one seek of a cursor each, no copy and no cache (the cache of each request's
// customers, a copy and a map entry per row, and a Get, which makes a cursor per call,
// were 7 % of the server's CPU for a manager's list of the day).
func (p *plan) customer(stored string) string {
	if p.merges == nil {
		if c, ok := p.resolved[stored]; ok {
			return c // a ChangeBatch's plan: its read resolved every customer it holds
		}
		return stored
	}
	if p.mc == nil {
		p.mc = p.merges.Cursor()
	}
	c := stored
	for range maxMergeChain {
		if c == "" {
			break
		}
		key := unsafe.Slice(unsafe.StringData(c), len(c)) // read by the seek only
		k, to := p.mc.Seek(key)
		if to == nil || !bytes.Equal(k, key) {
			break
		}
		c = string(to)
	}
	return c
}

// match applies the time range, every filter of the query and the reader's visibility
// to a row. The scans of the list already keep to the range; the live list does not.
func (p *plan) match(r *row) bool {
	q := p.q
	if r.start < p.loNanos || r.start >= p.hiNanos ||
		!q.enumsMatch(r.flow, r.status, r.direction, r.orig, r.cur) ||
		(len(q.AgentID) > 0 && !slices.Contains(q.AgentID, r.agent)) ||
		(len(q.QueueID) > 0 && !slices.Contains(q.QueueID, r.queue)) ||
		(len(q.VoiceCampaign) > 0 && !slices.Contains(q.VoiceCampaign, r.campaign)) ||
		(len(q.Template) > 0 && !slices.Contains(q.Template, r.template)) ||
		(p.ids != nil && !p.ids[r.id]) {
		return false
	}
	if p.search != nil && !p.search.match(r) {
		return false
	}
	if len(p.contacts) > 0 && !slices.ContainsFunc(p.contacts, func(m contactMatcher) bool { return m.match(r) }) {
		return false
	}
	if p.customers != nil && !p.customers[p.customer(r.customer)] {
		return false
	}
	return p.reader.CanSee(r.visibility())
}

// source is one way to enumerate candidates: a union of posting lists (exact values,
// read in key order, or prefixes, collected then sorted), or explicit tkeys.
type source struct {
	exact    [][]byte // posting-list prefixes (col|value|0)
	prefixes [][]byte // partial-value prefixes (col|partial), collected
	tkeys    [][]byte // explicit candidates
	estimate uint64
}

// Planner estimates for posting lists that keep no count (contacts, customers).
const (
	estimateExact  = 16
	estimatePrefix = 256
)

// sources returns the candidate sources of the query: one per selective filter and one
// for the reader's visibility; the time index is the fallback. Every candidate is checked
// against the whole query afterwards, so a source may be a superset.
func (v *View) sources(tx *bolt.Tx, p *plan) []source {
	counts := tx.Bucket(bCounts)
	exact := func(col byte, vals []string) source {
		var s source
		for _, val := range vals {
			if !indexable(val) {
				continue
			}
			pr := prefix(col, val)
			s.exact = append(s.exact, pr)
			if counted(col) {
				s.estimate += readCount(counts, pr[:len(pr)-1])
			} else {
				s.estimate += estimateExact
			}
		}
		return s
	}
	var out []source
	r := p.reader
	switch {
	case !r.HistoryAccess:
		out = append(out, source{}) // sees nothing
	case r.Role == domain.RoleCollaborator:
		out = append(out, exact(colAgent, []string{r.AgentID}))
	case r.Role == domain.RoleManager:
		s := exact(colAgent, append([]string{r.AgentID}, r.TeamAgents...))
		q := exact(colQueue, r.ProfileQueues)
		s.exact, s.estimate = append(s.exact, q.exact...), s.estimate+q.estimate
		out = append(out, s)
	case r.Role == domain.RoleAdministrator:
		s := exact(colDirect, []string{"direct"})
		if len(r.ProfileFlows) > 0 {
			q := exact(colQueue, r.ProfileQueues)
			s.exact, s.estimate = append(s.exact, q.exact...), s.estimate+q.estimate
		}
		out = append(out, s)
	default:
		out = append(out, source{})
	}
	q := p.q
	if len(q.AgentID) > 0 {
		out = append(out, exact(colAgent, q.AgentID))
	}
	if len(q.QueueID) > 0 {
		out = append(out, exact(colQueue, q.QueueID))
	}
	if len(q.OriginalRouting) > 0 && !slices.Contains(q.OriginalRouting, domain.RoutingSmart) {
		out = append(out, exact(colDirect, []string{"direct"}))
	}
	if len(q.VoiceCampaign) > 0 {
		out = append(out, exact(colCampaign, q.VoiceCampaign))
	}
	if len(q.Template) > 0 {
		out = append(out, exact(colTemplate, q.Template))
	}
	if p.customers != nil {
		var stored []string
		for c := range p.customers {
			stored = append(stored, mergedInto(tx.Bucket(bMerged), c)...)
		}
		slices.Sort(stored)
		out = append(out, exact(colCustomer, slices.Compact(stored)))
	}
	contactSource := func(ms []contactMatcher) source {
		var s source
		for _, m := range ms {
			if m.email != "" {
				e := exact(colEmail, []string{m.email})
				s.exact, s.estimate = append(s.exact, e.exact...), s.estimate+e.estimate
			}
			if m.e164 != "" {
				e := exact(colPhone, []string{reverseDigits(m.e164)})
				s.exact, s.estimate = append(s.exact, e.exact...), s.estimate+e.estimate
			}
			if m.suffix != "" {
				rev := []byte(m.suffix)
				slices.Reverse(rev)
				s.prefixes = append(s.prefixes, append([]byte{colPhone}, rev...))
				s.estimate += estimatePrefix
			}
		}
		return s
	}
	if p.search != nil {
		out = append(out, contactSource([]contactMatcher{*p.search}))
	}
	if len(p.contacts) > 0 {
		out = append(out, contactSource(p.contacts))
	}
	if p.ids != nil {
		var s source
		handles := tx.Bucket(bHandles)
		for id := range p.ids {
			if _, start, _ := lookup(handles, id); start != nil {
				s.tkeys = append(s.tkeys, append(slices.Clone(start), id...))
			}
		}
		s.estimate = uint64(len(s.tkeys))
		out = append(out, s)
	}
	return out
}

// List returns one page of the interactions r may see that match q. A bad cursor is a
// *QueryError.
func (v *View) List(r domain.Reader, q Query) (Page, error) {
	var cur *cursor
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor)
		if err != nil {
			return Page{}, err
		}
		if c.hash != q.hash() {
			return Page{}, qerr("cursor", "belongs to another query (filters, range or sort changed)")
		}
		cur = &c
	}
	if q.Q != "" && !searchable(q.Q) {
		return Page{}, qerr("q", "%q is neither a phone number nor an email address", clip(q.Q))
	}
	var page Page
	err := v.db.View(func(tx *bolt.Tx) error {
		p := v.newPlan(tx, r, &q)
		if bytes.Compare(p.lo, p.hi) >= 0 {
			return nil
		}
		var best *source
		srcs := v.sources(tx, p)
		for i := range srcs {
			if best == nil || srcs[i].estimate < best.estimate {
				best = &srcs[i]
			}
		}
		total := readCount(tx.Bucket(bCounts), countTotal)
		var err error
		switch col := q.sortColumn(); {
		case col == "start_at":
			page, err = v.listByStart(tx, p, best, total, cur)
		case v.useSortIndex(tx, p, col, srcs, best, total):
			page, err = v.listBySortIndex(tx, p, col, cur)
		default:
			page, err = v.listSorted(tx, p, best, total, cur)
		}
		return err
	})
	if page.Items == nil {
		page.Items = []Item{}
	}
	return page, err
}

// newPlan makes q ready to run for r against tx: the one place where a query's filters
// and the reader's visibility become a row test (plan.match), for the list, the export
// and the live list alike.
func (v *View) newPlan(tx *bolt.Tx, r domain.Reader, q *Query) *plan {
	return v.planFor(r, q, tx.Bucket(bMerges))
}

// planFor is newPlan with the merges bucket to resolve customers with (nil for a
// ChangeBatch's plan, whose customers are resolved already).
func (v *View) planFor(r domain.Reader, q *Query, merges *bolt.Bucket) *plan {
	p := &plan{q: q, reader: r, merges: merges}
	for _, c := range q.Contact {
		p.contacts = append(p.contacts, v.matcher(c))
	}
	if q.Q != "" {
		m := v.matcher(q.Q)
		p.search = &m
	}
	if len(q.CustomerID) > 0 {
		p.customers = map[string]bool{}
		for _, c := range q.CustomerID {
			p.customers[c] = true
		}
	}
	if len(q.ID) > 0 {
		p.ids = map[string]bool{}
		for _, id := range q.ID {
			p.ids[id] = true
		}
	}
	p.lo, p.hi = []byte{}, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if !q.From.IsZero() {
		p.lo = tsBytes(nil, q.From)
	}
	if !q.To.IsZero() {
		p.hi = tsBytes(nil, q.To)
	}
	p.loNanos, p.hiNanos = math.MinInt64, math.MaxInt64
	if !q.From.IsZero() {
		p.loNanos = q.From.UnixNano()
	}
	if !q.To.IsZero() {
		p.hiNanos = q.To.UnixNano()
	}
	return p
}

// postingFilter is a scan's pre for a query that filters on what a posting entry says
// (the enums, the current agent and queue): nil when it filters on none of them, since
// reading the entry would turn nothing away.
func (p *plan) postingFilter() func(tk, val []byte) bool {
	q := p.q
	if len(q.Flow)+len(q.Status)+len(q.Direction)+len(q.OriginalRouting)+len(q.CurrentRouting)+len(q.AgentID)+len(q.QueueID) == 0 {
		return nil
	}
	var ps posting
	return func(_, val []byte) bool {
		return !ps.read(val) || q.admitsPosting(&ps)
	}
}

// listByStart walks the candidates in start order and stops at a full page: the default
// list costs a page's worth of reads, not the day's.
func (v *View) listByStart(tx *bolt.Tx, p *plan, src *source, total uint64, cur *cursor) (Page, error) {
	lo, hi := p.lo, p.hi
	if cur != nil {
		ck := tkeyNanos(cur.start, cur.id)
		if p.q.Desc {
			if bytes.Compare(ck, hi) < 0 {
				hi = ck
			}
		} else if next := append(ck, 0); bytes.Compare(next, lo) > 0 {
			lo = next
		}
	}
	limit := p.q.limit()
	page := Page{Items: make([]Item, 0, min(limit, 16))}
	err := v.scan(tx, src, total, lo, hi, p.q.Desc, p.postingFilter(), func(r *row) bool {
		if !p.match(r) {
			return true
		}
		if len(page.Items) == limit {
			last := page.Items[limit-1]
			page.NextCursor = cursor{hash: p.q.hash(), start: last.StartAt.UnixNano(), id: last.InteractionID}.encode()
			return false
		}
		page.Items = append(page.Items, r.ownedItem(p.customer(r.customer)))
		return true
	})
	return page, err
}

// listSorted checks every candidate in the range and keeps the limit+1 first by (column,
// start_at, id) after the cursor in a bounded heap: only the rows that enter the heap are
// copied out of the scan's rowView, the others cost no allocation.
func (v *View) listSorted(tx *bolt.Tx, p *plan, src *source, total uint64, cur *cursor) (Page, error) {
	col := p.q.sortColumn()
	type entry struct {
		sv string
		iv int64
		r  row
	}
	cmpEntry := func(a, b *entry) int {
		c := cmp.Or(strings.Compare(a.sv, b.sv), cmp.Compare(a.iv, b.iv), cmp.Compare(a.r.start, b.r.start), strings.Compare(a.r.id, b.r.id))
		if p.q.Desc {
			return -c
		}
		return c
	}
	var ce *entry
	if cur != nil {
		ce = &entry{sv: cur.sval, iv: cur.ival, r: row{start: cur.start, id: cur.id}}
	}
	limit := p.q.limit()
	h := topN[entry]{n: limit + 1, cmp: cmpEntry}
	e := new(entry) // the candidate, reused (a local would escape through cmpEntry)
	// A posting entry says the candidate's enums, current agent and queue: one another
	// filter turns away is skipped without reading its row. Sorted by agent or queue, it
	// also says the sort value: a candidate that could not enter the page is skipped too.
	// Most are, once the heap is full.
	pre := p.postingFilter()
	if col == "agent_id" || col == "queue_id" {
		q := p.q
		var ps posting
		pre = func(tk, val []byte) bool {
			if !ps.read(val) || len(tk) < 8 {
				return true // no value (an uncounted list): read the row
			}
			if !q.admitsPosting(&ps) {
				return false
			}
			sv := ps.agent
			if col == "queue_id" {
				sv = ps.queue
			}
			// Strings over the entry's bytes: compared only, never kept.
			e.sv, e.iv = unsafe.String(unsafe.SliceData(sv), len(sv)), 0
			e.r.start, e.r.id = tsNanos(tk), unsafe.String(unsafe.SliceData(tk[8:]), len(tk)-8)
			return (ce == nil || cmpEntry(e, ce) > 0) && h.admits(e)
		}
	}
	// Walked in the query's direction: ties on the sort value go by start_at the same way,
	// so once the heap is full the rest of a value's candidates are turned away by pre.
	// Walked the other way (as it was, whatever the order), every later candidate of the
	// value at the heap's top beat it: a collaborator's calls sorted by agent (desc, the
	// default) looked up each of his 770 matching rows to show 50.
	err := v.scan(tx, src, total, p.lo, p.hi, p.q.Desc, pre, func(r *row) bool {
		if !p.match(r) {
			return true
		}
		e.r = *r
		e.sv, e.iv = sortValue(col, r, p)
		if (ce != nil && cmpEntry(e, ce) <= 0) || !h.admits(e) {
			return true
		}
		kept := entry{r: r.clone()}
		kept.sv, kept.iv = sortValue(col, &kept.r, p)
		h.push(kept)
		return true
	})
	if err != nil {
		return Page{}, err
	}
	all := h.sorted()
	var page Page
	for i := range all {
		if i == limit {
			l := all[i-1]
			page.NextCursor = cursor{hash: p.q.hash(), sval: l.sv, ival: l.iv, start: l.r.start, id: l.r.id}.encode()
			break
		}
		page.Items = append(page.Items, all[i].r.item(p.customer(all[i].r.customer)))
	}
	return page, nil
}

// topN keeps the n smallest values pushed, by cmp, in a bounded max-heap.
type topN[T any] struct {
	h   []T
	n   int
	cmp func(a, b *T) int
}

// admits reports whether x would be kept: the heap is not full or x is smaller than its
// largest.
func (t *topN[T]) admits(x *T) bool {
	return t.n > 0 && (len(t.h) < t.n || t.cmp(x, &t.h[0]) < 0)
}

// push adds x, which admits accepted, dropping the largest when the heap is full.
func (t *topN[T]) push(x T) {
	if len(t.h) < t.n {
		t.h = append(t.h, x)
		for i := len(t.h) - 1; i > 0; {
			parent := (i - 1) / 2
			if t.cmp(&t.h[i], &t.h[parent]) <= 0 {
				break
			}
			t.h[i], t.h[parent] = t.h[parent], t.h[i]
			i = parent
		}
		return
	}
	t.h[0] = x
	t.down(len(t.h))
}

// down moves the root of the heap h[:n] down to its place.
func (t *topN[T]) down(n int) {
	for i := 0; ; {
		l, big := 2*i+1, i
		if l < n && t.cmp(&t.h[l], &t.h[big]) > 0 {
			big = l
		}
		if r := l + 1; r < n && t.cmp(&t.h[r], &t.h[big]) > 0 {
			big = r
		}
		if big == i {
			return
		}
		t.h[i], t.h[big] = t.h[big], t.h[i]
		i = big
	}
}

// sorted returns the kept values in order, sorting the heap in place (it is spent).
func (t *topN[T]) sorted() []T {
	for n := len(t.h) - 1; n > 0; n-- {
		t.h[0], t.h[n] = t.h[n], t.h[0]
		t.down(n)
	}
	return t.h
}

// sortValue is the row's value in a sort column: a string, or a number for end_at.
func sortValue(col string, r *row, p *plan) (string, int64) {
	switch col {
	case "interaction_id":
		return r.id, 0
	case "end_at":
		return "", r.end
	case "flow":
		return r.flow.String(), 0
	case "status":
		return r.status.String(), 0
	case "reason":
		return r.reason, 0
	case "direction":
		return r.direction.String(), 0
	case "original_routing":
		return r.orig.String(), 0
	case "current_routing":
		return r.cur.String(), 0
	case "agent_id":
		return r.agent, 0
	case "queue_id":
		return r.queue, 0
	case "contact":
		return r.contact, 0
	case "voice_campaign":
		return r.campaign, 0
	case "template":
		return r.template, 0
	case "customer_id":
		return p.customer(r.customer), 0
	}
	return "", 0
}

// scan calls fn with every candidate row (a rowView's: fn copies what it keeps) of src (or of the time index, when that is no
// more than src's estimate) whose tkey lies in [lo, hi), in tkey order (descending if
// desc), until fn returns false. pre, unless nil, sees a posting list's candidate (its
// tkey and the entry's postingValue) first: false skips it without reading its row.
func (v *View) scan(tx *bolt.Tx, src *source, total uint64, lo, hi []byte, desc bool, pre func(tk, val []byte) bool, fn func(*row) bool) error {
	rows := tx.Bucket(bRows)
	var rv rowView // fn's row: valid during the call only (see rowView)
	if src == nil || src.estimate >= total {
		return rangeScan(rows.Cursor(), nil, lo, hi, desc, func(k, v []byte) (bool, error) {
			r, err := rv.decode(k, v)
			if err != nil {
				return false, err
			}
			return fn(r), nil
		})
	}
	rc := rows.Cursor() // one cursor for every lookup: Get makes one per call
	emit := func(tk, pv []byte) (bool, error) {
		if pre != nil && pv != nil && !pre(tk, pv) {
			return true, nil
		}
		k, val := rc.Seek(tk)
		if val == nil || !bytes.Equal(k, tk) {
			return true, nil // an id filter naming a row that moved: skip
		}
		r, err := rv.decode(tk, val)
		if err != nil {
			return false, err
		}
		return fn(r), nil
	}
	index := tx.Bucket(bIndex)
	if len(src.prefixes) > 0 || len(src.tkeys) > 0 {
		// Collected: explicit keys and partial values, plus the exact lists, sorted.
		keys := slices.Clone(src.tkeys)
		for _, pr := range src.prefixes {
			c := index.Cursor()
			for k, _ := c.Seek(pr); k != nil && bytes.HasPrefix(k, pr); k, _ = c.Next() {
				if sep := bytes.IndexByte(k, 0); sep >= 0 {
					keys = append(keys, slices.Clone(k[sep+1:]))
				}
			}
		}
		for _, pr := range src.exact {
			if err := rangeScan(index.Cursor(), pr, lo, hi, false, func(k, _ []byte) (bool, error) {
				keys = append(keys, slices.Clone(k[len(pr):]))
				return true, nil
			}); err != nil {
				return err
			}
		}
		slices.SortFunc(keys, bytes.Compare)
		keys = slices.CompactFunc(keys, bytes.Equal)
		if desc {
			slices.Reverse(keys)
		}
		for _, tk := range keys {
			if bytes.Compare(tk, lo) < 0 || bytes.Compare(tk, hi) >= 0 {
				continue
			}
			if ok, err := emit(tk, nil); !ok || err != nil {
				return err
			}
		}
		return nil
	}
	return mergeLists(index, src.exact, lo, hi, desc, emit)
}

// rangeScan walks the keys prefix|t with lo <= t < hi in order (reverse if desc).
func rangeScan(c *bolt.Cursor, pr, lo, hi []byte, desc bool, fn func(k, v []byte) (bool, error)) error {
	inRange := func(k []byte) bool {
		if !bytes.HasPrefix(k, pr) {
			return false
		}
		t := k[len(pr):]
		return bytes.Compare(t, lo) >= 0 && bytes.Compare(t, hi) < 0
	}
	var k, v []byte
	if desc {
		k, _ = c.Seek(append(slices.Clip(pr), hi...))
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && inRange(k); k, v = c.Prev() {
			if ok, err := fn(k, v); !ok || err != nil {
				return err
			}
		}
		return nil
	}
	for k, v = c.Seek(append(slices.Clip(pr), lo...)); k != nil && inRange(k); k, v = c.Next() {
		if ok, err := fn(k, v); !ok || err != nil {
			return err
		}
	}
	return nil
}

// mergeLists walks the union of the posting lists in tkey order, each tkey once, with the
// value of (one of) its entries. The lists' heads are a heap: a manager's list merges one
// list per agent of the team and per queue of the profile (tens), and finding the next
// head by comparing every one was a third of the merge's time.
func mergeLists(index *bolt.Bucket, prefixes [][]byte, lo, hi []byte, desc bool, emit func(tk, val []byte) (bool, error)) error {
	heads := listHeads{desc: desc, hs: make([]listHead, 0, len(prefixes))}
	for _, pr := range prefixes {
		h := listHead{c: index.Cursor(), pr: pr}
		var k, v []byte
		if desc {
			if k, _ = h.c.Seek(append(slices.Clip(pr), hi...)); k == nil {
				k, v = h.c.Last()
			} else {
				k, v = h.c.Prev()
			}
		} else {
			k, v = h.c.Seek(append(slices.Clip(pr), lo...))
		}
		if h.set(k, v, lo, hi) {
			heads.hs = append(heads.hs, h)
		}
	}
	heap.Init(&heads)
	var prev []byte
	for len(heads.hs) > 0 {
		h := &heads.hs[0]
		if prev == nil || !bytes.Equal(h.tk, prev) {
			prev = append(prev[:0], h.tk...)
			if ok, err := emit(prev, h.val); !ok || err != nil {
				return err
			}
		}
		var k, v []byte
		if desc {
			k, v = h.c.Prev()
		} else {
			k, v = h.c.Next()
		}
		if h.set(k, v, lo, hi) {
			heap.Fix(&heads, 0)
		} else {
			heap.Pop(&heads)
		}
	}
	return nil
}

// listHead is one posting list's cursor in mergeLists, at the entry of tkey tk.
type listHead struct {
	c       *bolt.Cursor
	pr      []byte
	tk, val []byte
}

// set moves h to the entry k, v; false when that is past the list or out of [lo, hi).
func (h *listHead) set(k, v, lo, hi []byte) bool {
	if k == nil || !bytes.HasPrefix(k, h.pr) {
		return false
	}
	t := k[len(h.pr):]
	if bytes.Compare(t, lo) < 0 || bytes.Compare(t, hi) >= 0 {
		return false
	}
	h.tk, h.val = t, v
	return true
}

// listHeads orders the heads by tkey, the next one (the largest when desc) first
// (container/heap.Interface).
type listHeads struct {
	hs   []listHead
	desc bool
}

func (l *listHeads) Len() int { return len(l.hs) }
func (l *listHeads) Less(i, j int) bool {
	c := bytes.Compare(l.hs[i].tk, l.hs[j].tk)
	return (l.desc && c > 0) || (!l.desc && c < 0)
}
func (l *listHeads) Swap(i, j int) { l.hs[i], l.hs[j] = l.hs[j], l.hs[i] }
func (l *listHeads) Push(x any)    { l.hs = append(l.hs, x.(listHead)) }
func (l *listHeads) Pop() any {
	x := l.hs[len(l.hs)-1]
	l.hs = l.hs[:len(l.hs)-1]
	return x
}

// String renders a query for logs.
func (q Query) String() string {
	return fmt.Sprintf("history query [%s, %s) sort=%s desc=%t limit=%d", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339), q.sortColumn(), q.Desc, q.limit())
}

// utcPtr returns t in UTC, or nil for the zero time (not yet happened).
func utcPtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
