package history

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/domain/contact"
)

// Buckets of the view (see doc.go for why each exists).
var (
	bRows    = []byte("rows")    // tkey -> encoded row (the list columns + visibility)
	bDetails = []byte("details") // handle(8) -> binary domain.Interaction
	bIndex   = []byte("index")   // col | value | 0x00 | tkey -> postingValue (posting lists)
	bCounts  = []byte("counts")  // col | value -> uint64 (planner estimates); totals under 0x00...
	bMerges  = []byte("merges")  // from customer -> surviving customer
	bMerged  = []byte("merged")  // to | 0x00 | from -> nil (every merge, reversed)
)

// Posting-list columns: one byte before the value.
const (
	colAgent    = 'a' // every agent the interaction passed (access rules, agent_id filter)
	colQueue    = 'q' // every queue it passed (access rules, queue_id filter)
	colDirect   = 'd' // original_routing = direct (administrators see them all)
	colPhone    = 'p' // reversed digits of the E.164 contact phone (exact and suffix search)
	colEmail    = 'e' // lower-case contact email
	colCampaign = 'v' // voice_campaign
	colTemplate = 't' // template
	colCustomer = 'u' // customer_id as stored (erase, customer_id filter)
)

var (
	countTotal = []byte("\x00total") // number of interactions
	countIndex = []byte("\x00index") // number of posting entries
)

// counted reports whether per-value counts are kept for col: only the bounded ones
// (agents, queues, campaigns, templates); contacts and customers are always selective.
func counted(col byte) bool {
	switch col {
	case colAgent, colQueue, colDirect, colCampaign, colTemplate:
		return true
	}
	return false
}

// tsBytes encodes a time so that byte order is time order (sign bit flipped).
func tsBytes(dst []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(t.UnixNano())^(1<<63))
}

func tsNanos(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

// prefix is col | value | 0x00: the start of one value's posting list.
func prefix(col byte, value string) []byte {
	p := make([]byte, 0, 2+len(value))
	p = append(p, col)
	p = append(p, value...)
	return append(p, 0)
}

// row is what the list needs of one interaction, decoded from bRows.
type row struct {
	id        string
	start     int64 // unix nanos
	end       int64 // unix nanos, 0 = not ended
	customer  string
	flow      domain.Flow
	status    domain.Status
	reason    string
	direction domain.Direction
	orig      domain.Routing
	cur       domain.Routing
	agent     string
	queue     string
	contact   string // as shown
	phone     string // canonical E.164, "" if none or not a number
	email     string // canonical lower-case, "" if none or not an address
	campaign  string
	template  string
	crm       string
	agents    []string
	queues    []string
	customers []string // every customer the interaction carried: not in the row's value
}

// rowOf derives the list row of an interaction; region reads national phone numbers.
func rowOf(in *domain.Interaction, phoneOf func(string) (string, bool)) row {
	phone, email, _ := canonContact(in.Contact, in.Flow, phoneOf)
	return rowWithCanon(in, phone, email)
}

// rowWithCanon is rowOf for an interaction whose contact's canonical phone and email are
// already known.
func rowWithCanon(in *domain.Interaction, phone, email string) row {
	r := row{id: in.ID, start: in.StartAt.UnixNano(), customer: in.CustomerID, flow: in.Flow, status: in.Status,
		reason: in.Reason, direction: in.Direction, orig: in.OriginalRouting, cur: in.CurrentRouting,
		agent: in.AgentID, queue: in.QueueID, campaign: in.VoiceCampaign, template: in.Template,
		crm: in.CRMRecord, agents: in.Agents, queues: in.Queues}
	if !in.EndAt.IsZero() {
		r.end = in.EndAt.UnixNano()
	}
	r.phone, r.email, r.contact = phone, email, shownContact(in.Contact, in.Flow, phone, email)
	return r
}

// canonContact returns the searchable forms of a contact and the one the list shows: the
// email for the email flow (or when there is no phone), the phone otherwise, each in its
// canonical form when it has one.
func canonContact(c domain.Contact, flow domain.Flow, phoneOf func(string) (string, bool)) (phone, email, shown string) {
	if c.Phone != "" {
		phone, _ = phoneOf(c.Phone)
	}
	if c.Email != "" {
		email, _ = contact.Email(c.Email)
	}
	return phone, email, shownContact(c, flow, phone, email)
}

// shownContact is the contact the list shows, given the canonical phone and email.
func shownContact(c domain.Contact, flow domain.Flow, phone, email string) string {
	showPhone := cmpOr(phone, strings.TrimSpace(c.Phone))
	showEmail := cmpOr(email, strings.TrimSpace(c.Email))
	if flow == domain.FlowEmail || showPhone == "" {
		return cmpOr(showEmail, showPhone)
	}
	return showPhone
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// indexable reports whether a value may appear in a key (NUL is the separator; the
// domain forbids control characters in ids but not in free text).
func indexable(v string) bool { return v != "" && strings.IndexByte(v, 0) < 0 }

// reverseDigits returns the digits of an E.164 number, last first: a suffix of the
// number becomes a prefix of the key, so partial numbers are a Seek.
func reverseDigits(e164 string) string {
	d := []byte(contact.Digits(e164))
	slices.Reverse(d)
	return string(d)
}

// indexKeys returns every posting entry of the row, sorted.
func (r *row) indexKeys() [][]byte {
	tk := tkeyNanos(r.start, r.id)
	var keys [][]byte
	r.indexEntries(func(col byte, v string) {
		keys = append(keys, append(prefix(col, v), tk...))
	})
	slices.SortFunc(keys, bytes.Compare)
	return slices.CompactFunc(keys, bytes.Equal)
}

// carriedKeys returns the customers' posting entries of the row but its own customer's:
// those of the other customers the interaction carried, which only its detail names.
// Sorted.
func (r *row) carriedKeys() [][]byte {
	var keys [][]byte
	var tk []byte // only for the rare row that has any: a rebuild calls this per interaction
	for _, c := range r.customers {
		if c != r.customer && indexable(c) {
			if tk == nil {
				tk = tkeyNanos(r.start, r.id)
			}
			keys = append(keys, append(prefix(colCustomer, c), tk...))
		}
	}
	slices.SortFunc(keys, bytes.Compare)
	return keys
}

// indexEntries calls fn with the column and value of each posting entry of the row, in
// no order, a value maybe more than once: the one definition of what the row lists.
func (r *row) indexEntries(fn func(col byte, v string)) {
	add := func(col byte, v string) {
		if indexable(v) {
			fn(col, v)
		}
	}
	for _, a := range r.agents {
		add(colAgent, a)
	}
	for _, q := range r.queues {
		add(colQueue, q)
	}
	if r.orig == domain.RoutingDirect {
		add(colDirect, "direct")
	}
	if r.phone != "" {
		add(colPhone, reverseDigits(r.phone))
	}
	add(colEmail, r.email)
	add(colCampaign, r.campaign)
	add(colTemplate, r.template)
	add(colCustomer, r.customer)
	for _, c := range r.customers {
		add(colCustomer, c)
	}
}

// postingValue is the value of each of the row's counted posting entries: its enums (as a
// screen holds them) and its current agent and queue. A list driven by a posting list reads
// them from the entry and looks up only the rows that could enter the page, not every
// candidate: sorted by agent or queue, the sort value; filtered by flow, status, direction
// or routing, the filter. At 2 million interactions a queue's calls sorted by agent went
// from tens of thousands of row lookups to a few thousand, and a collaborator's processed
// calls of three months sorted by agent looked up 2,052 rows to show 50 (his other
// flows and statuses) before the enums were in the entry. Only the counted lists carry it;
// the others are empty (posting.read says false) and cost a lookup.
//
//	flow | status | direction | original routing | current routing (a code each,
//	screenCodes) | uvarint(len(agent)) | agent | queue
func (r *row) postingValue() []byte {
	v := r.appendEnums(make([]byte, 0, 5+2+len(r.agent)+len(r.queue)))
	v = binary.AppendUvarint(v, uint64(len(r.agent)))
	v = append(v, r.agent...)
	return append(v, r.queue...)
}

// samePosting reports whether r and o have the same postingValue, without encoding either:
// when they differ, the entries that stay are written again.
func (r *row) samePosting(o *row) bool {
	return r.agent == o.agent && r.queue == o.queue && r.sameEnums(o)
}

// posting is a postingValue read in place: agent and queue point into the value.
type posting struct {
	enumSet
	agent, queue []byte
}

// read reads v into p; false for an empty value (the uncounted lists) or a bad one:
// the candidate is then looked up.
func (p *posting) read(v []byte) bool {
	if len(v) < 6 || !p.enumSet.read(v) {
		return false
	}
	n, k := binary.Uvarint(v[5:])
	if k <= 0 || uint64(len(v)-5-k) < n {
		return false
	}
	p.agent, p.queue = v[5+k:5+k+int(n)], v[5+k+int(n):]
	return true
}

// admitsPosting reports whether a candidate whose posting entry says p may match q: false
// when an enum filter or the agent or queue filter turns it away (plan.match, on the row).
func (q *Query) admitsPosting(p *posting) bool {
	return q.enumsAdmit(&p.enumSet) &&
		(len(q.AgentID) == 0 || slices.Contains(q.AgentID, string(p.agent))) &&
		(len(q.QueueID) == 0 || slices.Contains(q.QueueID, string(p.queue)))
}

func tkeyNanos(start int64, id string) []byte {
	return appendTkey(make([]byte, 0, 8+len(id)), start, id)
}

// appendTkey appends the row key of (start, id) to dst.
func appendTkey(dst []byte, start int64, id string) []byte {
	return append(binary.BigEndian.AppendUint64(dst, uint64(start)^(1<<63)), id...)
}

func (r *row) tkey() []byte { return tkeyNanos(r.start, r.id) }

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encode writes the row compactly: the start and id are in the key.
func (r *row) encode() []byte {
	b := make([]byte, 0, 160)
	b = binary.AppendVarint(b, r.end)
	for _, s := range [...]string{r.customer, r.flow.String(), r.status.String(), r.reason, r.direction.String(),
		r.orig.String(), r.cur.String(), r.agent, r.queue, r.contact, r.phone, r.email, r.campaign, r.template, r.crm} {
		b = appendStr(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(r.agents)))
	for _, s := range r.agents {
		b = appendStr(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(r.queues)))
	for _, s := range r.queues {
		b = appendStr(b, s)
	}
	return b
}

var errCorrupt = errors.New("history: corrupt row")

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	return advance(d, n, v)
}

// advance moves d past a number of n bytes whose value is v (binary.Uvarint's and
// Varint's answers), or marks d corrupt when there was none (n <= 0).
func advance[T int64 | uint64](d *decoder, n int, v T) T {
	if n <= 0 {
		d.err = errCorrupt
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		d.b = nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) strs() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.str()
	}
	return out
}

// decodeRow reads a row back from its key and value.
func decodeRow(k, v []byte) (row, error) {
	if len(k) < 8 {
		return row{}, errCorrupt
	}
	r := row{start: tsNanos(k), id: string(k[8:])}
	end, n := binary.Varint(v)
	if n <= 0 {
		return row{}, errCorrupt
	}
	d := decoder{b: v[n:]}
	r.end = end
	r.customer = d.str()
	r.flow = flowByName[d.str()]
	r.status = statusByName[d.str()]
	r.reason = d.str()
	r.direction = directionByName[d.str()]
	r.orig = routingByName[d.str()]
	r.cur = routingByName[d.str()]
	r.agent, r.queue, r.contact, r.phone, r.email = d.str(), d.str(), d.str(), d.str(), d.str()
	r.campaign, r.template, r.crm = d.str(), d.str(), d.str()
	r.agents = d.strs()
	r.queues = d.strs()
	return r, d.err
}

// rowView decodes rows for the list's candidate checks without allocating: every string
// of the row it returns points into the bbolt page it was read from, and the agents and
// queues slices are reused by the next decode. Such a row is valid only until the next
// decode and never beyond the read transaction (bbolt keeps its pages mapped while a read
// transaction is open; a write transaction may reuse its pages, so never use a rowView in
// one). Anything kept (a page's items, the heap's rows, a cursor) is made with clone.
// Measured: decodeRow's string copies were about 20 allocations per candidate row, most
// of the cost of a sort on a column without a usable sort index.
type rowView struct {
	r              row
	agents, queues []string // r's agents and queues buffers
}

// viewStr returns the next length-prefixed string without copying (see rowView).
func (d *decoder) viewStr() string {
	b := d.raw()
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// viewStrs is viewStr for a list, appended to dst[:0]; nil when empty, like strs.
func (d *decoder) viewStrs(dst []string) []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	dst = dst[:0]
	for range n {
		dst = append(dst, d.viewStr())
	}
	return dst
}

// decode reads the row of key k and value v as decodeRow does, into the view's row.
func (rv *rowView) decode(k, v []byte) (*row, error) {
	if len(k) < 8 {
		return nil, errCorrupt
	}
	end, n := binary.Varint(v)
	if n <= 0 {
		return nil, errCorrupt
	}
	r := &rv.r
	*r = row{start: tsNanos(k), end: end}
	if id := k[8:]; len(id) > 0 {
		r.id = unsafe.String(&id[0], len(id))
	}
	d := decoder{b: v[n:]}
	r.customer = d.viewStr()
	r.flow = flowByName[string(d.raw())]
	r.status = statusByName[string(d.raw())]
	r.reason = d.viewStr()
	r.direction = directionByName[string(d.raw())]
	r.orig = routingByName[string(d.raw())]
	r.cur = routingByName[string(d.raw())]
	r.agent, r.queue, r.contact, r.phone, r.email = d.viewStr(), d.viewStr(), d.viewStr(), d.viewStr(), d.viewStr()
	r.campaign, r.template, r.crm = d.viewStr(), d.viewStr(), d.viewStr()
	r.agents = d.viewStrs(rv.agents)
	r.queues = d.viewStrs(rv.queues)
	if r.agents != nil {
		rv.agents = r.agents
	}
	if r.queues != nil {
		rv.queues = r.queues
	}
	if d.err != nil {
		rv.r = row{}
		return nil, d.err
	}
	return r, nil
}

// clone returns a copy of r that owns its memory (one buffer for every string, one slice
// for agents and queues): what a rowView's row must become to be kept.
func (r *row) clone() row {
	size := len(r.id) + len(r.customer) + len(r.reason) + len(r.agent) + len(r.queue) + len(r.contact) +
		len(r.phone) + len(r.email) + len(r.campaign) + len(r.template) + len(r.crm)
	for _, s := range r.agents {
		size += len(s)
	}
	for _, s := range r.queues {
		size += len(s)
	}
	buf := make([]byte, 0, size)
	own := func(s string) string {
		if s == "" {
			return ""
		}
		i := len(buf)
		buf = append(buf, s...)
		return unsafe.String(&buf[i], len(s)) // buf never grows: its capacity is size
	}
	c := *r
	c.id, c.customer, c.reason, c.agent, c.queue = own(r.id), own(r.customer), own(r.reason), own(r.agent), own(r.queue)
	c.contact, c.phone, c.email = own(r.contact), own(r.phone), own(r.email)
	c.campaign, c.template, c.crm = own(r.campaign), own(r.template), own(r.crm)
	c.agents, c.queues = nil, nil
	if n := len(r.agents) + len(r.queues); n > 0 {
		list := make([]string, 0, n)
		for _, s := range r.agents {
			list = append(list, own(s))
		}
		for _, s := range r.queues {
			list = append(list, own(s))
		}
		if len(r.agents) > 0 {
			c.agents = list[:len(r.agents):len(r.agents)]
		}
		if len(r.queues) > 0 {
			c.queues = list[len(r.agents):]
		}
	}
	return c
}

// Lookup tables from the contract's names back to the closed value sets (read-only).
var (
	flowByName      = byName(domain.Flows())
	statusByName    = byName(domain.Statuses())
	directionByName = byName(domain.Directions())
	routingByName   = byName(domain.Routings())
)

func byName[T interface{ String() string }](all []T) map[string]T {
	m := make(map[string]T, len(all))
	for _, v := range all {
		m[v.String()] = v
	}
	return m
}

// visibility is what domain.Reader.CanSee looks at.
func (r *row) visibility() domain.Visibility {
	return domain.Visibility{Agents: r.agents, Queues: r.queues, OriginalRouting: r.orig, Flow: r.flow, CurrentAgent: r.agent}
}

// item renders the row as the list shows it, with the surviving customer.
// ownedItem is item of a rowView's row, with the strings it takes (and customer, which
// may be the rowView's too) copied into one allocation: cheaper than item of a clone, which copies every string of the row (its
// agents and queues, its phone and email) for a list that shows none of them.
func (r *row) ownedItem(customer string) Item {
	buf := make([]byte, 0, len(r.id)+len(r.reason)+len(r.agent)+len(r.queue)+len(r.contact)+
		len(r.campaign)+len(r.template)+len(r.crm)+len(customer))
	own := func(s string) string {
		if s == "" {
			return ""
		}
		i := len(buf)
		buf = append(buf, s...)
		return unsafe.String(&buf[i], len(s)) // buf never grows: its capacity is the sum
	}
	o := *r
	o.id, o.reason, o.agent, o.queue, o.contact = own(r.id), own(r.reason), own(r.agent), own(r.queue), own(r.contact)
	o.campaign, o.template, o.crm = own(r.campaign), own(r.template), own(r.crm)
	return o.item(own(customer))
}

func (r *row) item(customer string) Item {
	it := Item{InteractionID: r.id, StartAt: time.Unix(0, r.start).UTC(), Flow: r.flow.String(),
		Status: r.status.String(), Reason: r.reason, Direction: r.direction.String(),
		OriginalRouting: r.orig.String(), CurrentRouting: r.cur.String(), AgentID: r.agent,
		QueueID: r.queue, Contact: r.contact, VoiceCampaign: r.campaign, Template: r.template,
		CustomerID: customer, CRMRecord: r.crm}
	if r.end != 0 {
		e := time.Unix(0, r.end).UTC()
		it.EndAt = &e
	}
	return it
}
