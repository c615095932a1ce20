package timeline

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
	"unsafe"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
)

// The stored values are a small binary encoding, not JSON: the tabs decode hundreds of
// rows per request, and encoding/json (times as text, reflection) was most of their cost
// (BenchmarkTabs). Each value starts with a format byte; fields follow in a fixed order:
// strings as uvarint length + bytes, numbers as varints, times as Unix nanoseconds (0 for
// none). WARNING: changing an order or a field means a new format byte or a rebuild.
//
// Format 2 of items and interactions appends an e-mail's first click and click count
// (email.clicked); format 1 values are still read (no click). Format 3 of interactions
// appends the agents and queues of each fold and the per-customer parts of an
// interaction that carried several customers. Format 3 of items is an interaction's item
// (encodeInteractionItem): what the access rules look at first, then only the fields an
// interaction fills. Format 4 of the other kinds' items appends the customer whose event
// put the item there when it is not the customer it is filed under (Item.from). Format 2
// of tasks appends the customers whose events made the record (taskRecord.Customers).
const (
	fmtItem            byte = 4
	fmtInteractionItem byte = 3
	fmtInteraction     byte = 3
	fmtTask            byte = 2
)

var errShort = errors.New("stored value too short")

type enc struct{ b []byte }

func (e *enc) str(s string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *enc) int(n int64) { e.b = binary.AppendVarint(e.b, n) }

func (e *enc) time(t time.Time) {
	if t.IsZero() {
		e.int(0)
		return
	}
	e.int(t.UnixNano())
}

func (e *enc) ptime(t *time.Time) {
	if t == nil {
		e.int(0)
		return
	}
	e.time(*t)
}

func (e *enc) stamp(s domain.Stamp) {
	e.time(s.At)
	e.str(s.ID)
}

type dec struct {
	b   []byte
	err error
	// kept: b is a private copy that nobody writes again (a page's arena, scan), so
	// strings point into it instead of being allocated one by one.
	kept bool
	// times, when not nil, is where ptime puts the times it points to, for the same
	// reason (a full slab is replaced; the pointers into it stay valid).
	times *[]time.Time
}

func (d *dec) str() string {
	n, k := binary.Uvarint(d.b)
	if k <= 0 || uint64(len(d.b)-k) < n {
		d.fail()
		return ""
	}
	var s string
	if d.kept {
		s = inPlace(d.b[k : k+int(n)])
	} else {
		s = string(d.b[k : k+int(n)])
	}
	d.b = d.b[k+int(n):]
	return s
}

// raw reads a string's bytes in place (nil when empty or short).
func (d *dec) raw() []byte {
	n, k := binary.Uvarint(d.b)
	if k <= 0 || uint64(len(d.b)-k) < n {
		d.fail()
		return nil
	}
	s := d.b[k : k+int(n)]
	d.b = d.b[k+int(n):]
	return s
}

func (d *dec) skip() {
	n, k := binary.Uvarint(d.b)
	if k <= 0 || uint64(len(d.b)-k) < n {
		d.fail()
		return
	}
	d.b = d.b[k+int(n):]
}

func (d *dec) int() int64 {
	n, k := binary.Varint(d.b)
	if k <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[k:]
	return n
}

func (d *dec) time() time.Time {
	n := d.int()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func (d *dec) ptime() *time.Time {
	t := d.time()
	if t.IsZero() {
		return nil
	}
	if d.times == nil {
		p := new(time.Time) // not &t: t would go to the heap on every path
		*p = t
		return p
	}
	slab := *d.times
	if len(slab) == cap(slab) {
		slab = make([]time.Time, 0, max(16, 2*cap(slab)))
	}
	slab = append(slab, t)
	*d.times = slab
	return &slab[len(slab)-1]
}

// strs reads what enc.strs wrote (nil for none).
func (d *dec) strs() []string {
	n := d.int()
	if n < 0 || n > int64(len(d.b)) {
		d.fail()
		return nil
	}
	if n == 0 || d.err != nil {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.str()
	}
	return out
}

func (d *dec) stamp() domain.Stamp { return domain.Stamp{At: d.time(), ID: d.str()} }

// skipStamp reads past a stamp.
func (d *dec) skipStamp() {
	d.int()
	d.skip()
}

func (d *dec) fail() {
	if d.err == nil {
		d.err = errShort
	}
	d.b = nil
}

// version reads the format byte: 1 to latest, or fails (0).
func (d *dec) version(latest byte, what string) byte {
	if len(d.b) == 0 || d.b[0] < 1 || d.b[0] > latest {
		d.err = fmt.Errorf("stored %s: unknown format", what)
		d.b = nil
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func encodeItem(it *Item) []byte {
	e := enc{b: make([]byte, 0, 128)}
	e.b = append(e.b, fmtItem)
	e.str(it.Kind)
	e.time(it.OccurredAt)
	for _, s := range []string{it.InteractionID, it.Flow, it.Direction, it.Reason, it.AgentID} {
		e.str(s)
	}
	e.ptime(it.EndedAt)
	e.int(int64(it.MessageCount))
	e.ptime(it.OpenedAt)
	e.int(int64(it.OpenCount))
	e.str(it.Status)
	e.str(it.Action)
	e.str(string(it.Changes)) // the JSON object as changesJSON wrote it
	for _, s := range []string{it.Name, it.OrderID, string(it.Total), it.Currency, it.SegmentID, it.TaskID, it.Title} {
		e.str(s)
	}
	e.ptime(it.DueAt)
	for _, s := range []string{it.AssigneeID, it.NoteID, it.Text, it.AuthorID, it.FileID} {
		e.str(s)
	}
	e.int(it.Size)
	for _, s := range []string{it.ContentType, it.URL, it.VisitID, it.Source, it.Channel} {
		e.str(s)
	}
	e.int(it.DurationS)
	e.int(int64(it.Pages))
	e.ptime(it.ClickedAt)
	e.int(int64(it.ClickCount))
	e.str(it.from)
	return e.b
}

// encodeInteractionItem writes the item of an interaction of the kind from its fold:
// first what domain.Reader.CanSee looks at (itemVisibility reads only that), then the
// item's fields.
func encodeInteractionItem(f *domain.Interaction, kind Kind) []byte {
	return appendInteractionItem(make([]byte, 0, 96+12*(len(f.Agents)+len(f.Queues))), f, kind)
}

// appendInteractionItem appends encodeInteractionItem's encoding to b.
func appendInteractionItem(b []byte, f *domain.Interaction, kind Kind) []byte {
	e := enc{b: b}
	e.b = append(e.b, fmtInteractionItem)
	e.str(f.Flow.String())
	e.str(f.OriginalRouting.String())
	e.str(f.AgentID)
	e.strs(f.Agents)
	e.strs(f.Queues)
	e.str(string(kind))
	e.time(f.StartAt)
	e.str(f.ID)
	e.str(f.Direction.String())
	e.str(f.Status.String())
	e.str(f.Reason)
	e.time(f.EndAt)
	switch kind {
	case KindChat:
		e.int(int64(f.MessageCount))
	case KindEmail:
		e.time(f.OpenedAt)
		e.int(int64(f.OpenCount))
		e.time(f.ClickedAt)
		e.int(int64(f.ClickCount))
	}
	return e.b
}

func (e *enc) strs(ss []string) {
	e.int(int64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

// names holds the strings of the closed sets an interaction's item holds (kinds, flows,
// directions, statuses), so that decoding a page of items does not allocate each again.
var names = func() map[string]string {
	m := map[string]string{}
	add := func(s string) { m[s] = s }
	for _, k := range Kinds() {
		add(string(k))
	}
	for _, f := range domain.Flows() {
		add(f.String())
	}
	for _, d := range domain.Directions() {
		add(d.String())
	}
	for _, st := range domain.Statuses() {
		add(st.String())
	}
	return m
}()

// name reads a string of one of the closed sets (names), or any other string.
func (d *dec) name() string {
	b := d.raw()
	if s, ok := names[string(b)]; ok {
		return s
	}
	return string(b)
}

// decodeInteractionItem reads the rest of a format-3 item (d is past the format byte).
func decodeInteractionItem(d *dec) (Item, error) {
	var it Item
	it.Flow = d.name()
	d.skip() // routing
	it.AgentID = d.str()
	for range 2 { // agents, queues
		n := d.int()
		for i := int64(0); i < n && d.err == nil; i++ {
			d.skip()
		}
	}
	it.Kind = d.name()
	it.OccurredAt = d.time()
	it.InteractionID, it.Direction, it.Status, it.Reason = d.str(), d.name(), d.name(), d.str()
	it.EndedAt = d.ptime()
	switch Kind(it.Kind) {
	case KindChat:
		it.MessageCount = int(d.int())
	case KindEmail:
		it.OpenedAt = d.ptime()
		it.OpenCount = int(d.int())
		it.ClickedAt = d.ptime()
		it.ClickCount = int(d.int())
	}
	if d.err != nil {
		return Item{}, fmt.Errorf("decode item: %w", d.err)
	}
	return it, nil
}

// itemVisibility reads what the access rules look at from an interaction's item (format
// 3) into vis, reusing its slices. Its strings are b's bytes, not copies: b is a read
// transaction's page (bbolt's memory map), valid until the transaction ends, and vis
// must not be kept beyond it. A busy card judges hundreds of items per page, and copying
// their agents' and queues' ids was the larger part of judging them.
func itemVisibility(b []byte, vis *domain.Visibility) error {
	if len(b) == 0 || b[0] != fmtInteractionItem {
		return fmt.Errorf("interaction item of format %d holds no visibility: %w", b[0:min(1, len(b))], projections.ErrCorrupt)
	}
	d := dec{b: b[1:]}
	flow, routing := d.raw(), d.raw()
	vis.CurrentAgent = inPlace(d.raw())
	vis.Agents, vis.Queues = vis.Agents[:0], vis.Queues[:0]
	for _, list := range []*[]string{&vis.Agents, &vis.Queues} {
		n := d.int()
		if n < 0 || n > int64(len(d.b)) {
			d.fail()
		}
		for i := int64(0); i < n && d.err == nil; i++ {
			*list = append(*list, inPlace(d.raw()))
		}
	}
	if d.err != nil {
		return fmt.Errorf("decode item visibility: %w", d.err)
	}
	var okFlow, okRouting bool
	vis.Flow, okFlow = flows[string(flow)]
	vis.OriginalRouting, okRouting = routings[string(routing)]
	if !okFlow || !okRouting {
		return fmt.Errorf("decode item visibility: flow %q, routing %q: %w", flow, routing, projections.ErrCorrupt)
	}
	return nil
}

// flows and routings read the enums back by name without allocating; "" is the zero
// value, as UnmarshalText reads it.
var (
	flows    = enumsByName(domain.Flows())
	routings = enumsByName(domain.Routings())
)

func enumsByName[T fmt.Stringer](all []T) map[string]T {
	m := make(map[string]T, len(all)+1)
	var zero T
	m[""] = zero
	for _, v := range all {
		m[v.String()] = v
	}
	return m
}

// inPlace returns b as a string without copying it: only for bytes that do not change
// while the string is used (itemVisibility).
func inPlace(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func decodeItem(b []byte) (Item, error) { return decodeItemFrom(dec{b: b}) }

// decodeKeptItem decodes an item whose bytes are a private copy that is never written
// again: its strings point into it and its times into times (a few allocations for a
// page of items, not one per string and time).
func decodeKeptItem(b []byte, times *[]time.Time) (Item, error) {
	return decodeItemFrom(dec{b: b, kept: true, times: times})
}

func decodeItemFrom(d dec) (Item, error) {
	v := d.version(max(fmtItem, fmtInteractionItem), "item")
	if v == fmtInteractionItem {
		return decodeInteractionItem(&d)
	}
	var it Item
	it.Kind = d.str()
	it.OccurredAt = d.time()
	it.InteractionID, it.Flow, it.Direction, it.Reason, it.AgentID = d.str(), d.str(), d.str(), d.str(), d.str()
	it.EndedAt = d.ptime()
	it.MessageCount = int(d.int())
	it.OpenedAt = d.ptime()
	it.OpenCount = int(d.int())
	it.Status = d.str()
	it.Action = d.str()
	if changes := d.str(); changes != "" {
		it.Changes = json.RawMessage(changes)
	}
	it.Name, it.OrderID, it.Total, it.Currency = d.str(), d.str(), json.Number(d.str()), d.str()
	it.SegmentID, it.TaskID, it.Title = d.str(), d.str(), d.str()
	it.DueAt = d.ptime()
	it.AssigneeID, it.NoteID, it.Text, it.AuthorID, it.FileID = d.str(), d.str(), d.str(), d.str(), d.str()
	it.Size = d.int()
	it.ContentType, it.URL, it.VisitID, it.Source, it.Channel = d.str(), d.str(), d.str(), d.str(), d.str()
	it.DurationS = d.int()
	it.Pages = int(d.int())
	if v >= 2 {
		it.ClickedAt = d.ptime()
		it.ClickCount = int(d.int())
	}
	if v >= 4 {
		it.from = d.str()
	}
	if d.err != nil {
		return Item{}, fmt.Errorf("decode item: %w", d.err)
	}
	return it, nil
}

// encodeInteraction keeps what the card and the fold need of an interaction: the
// columns it shows, the stamps that decide them, and the ids and times of its events
// (Apply's dedupe and start time), for the whole fold and, for an interaction that
// carried several customers, for each customer's part. Nothing else is stored: no
// contact, participants, event data or any other personal data the fold may carry.
func encodeInteraction(r *interactionRecord) []byte {
	n := len(r.Fold.Events)
	for k := range r.Parts {
		n += len(r.Parts[k].Fold.Events)
	}
	e := enc{b: make([]byte, 0, 256*(1+len(r.Parts))+45*n)}
	e.b = append(e.b, fmtInteraction, r.KB)
	e.str(r.Owner)
	e.int(r.At)
	e.fold(&r.Fold)
	e.int(int64(len(r.Parts)))
	for k := range r.Parts {
		e.str(r.Parts[k].Customer)
		e.fold(&r.Parts[k].Fold)
	}
	return e.b
}

func (e *enc) fold(f *domain.Interaction) {
	e.str(f.ID)
	e.str(f.CustomerID)
	e.time(f.StartAt)
	e.time(f.EndAt)
	for _, s := range []string{f.Flow.String(), f.Status.String(), f.Reason, f.Direction.String(),
		f.OriginalRouting.String(), f.CurrentRouting.String(), f.AgentID, f.QueueID} {
		e.str(s)
	}
	e.int(int64(f.MessageCount))
	e.time(f.OpenedAt)
	e.int(int64(f.OpenCount))
	st := &f.Stamps
	for _, s := range []domain.Stamp{st.Started, st.Current, st.Ended, st.Customer} {
		e.stamp(s)
	}
	e.int(int64(len(f.Events)))
	for _, ev := range f.Events {
		e.str(ev.ID)
		e.time(ev.OccurredAt)
	}
	e.time(f.ClickedAt)
	e.int(int64(f.ClickCount))
	e.strs(f.Agents)
	e.strs(f.Queues)
}

func decodeInteraction(b []byte) (interactionRecord, error) {
	var r interactionRecord
	d := dec{b: b}
	v := d.version(fmtInteraction, "interaction")
	if len(d.b) > 0 {
		r.KB, d.b = d.b[0], d.b[1:]
	}
	r.Owner = d.str()
	r.At = d.int()
	err := d.fold(&r.Fold, v)
	if v >= 3 {
		n := d.int()
		if n < 0 || n > int64(len(d.b)) {
			d.fail()
		}
		if d.err == nil && n > 0 {
			r.Parts = make([]part, n)
			for k := range r.Parts {
				r.Parts[k].Customer = d.str()
				err = errors.Join(err, d.fold(&r.Parts[k].Fold, v))
			}
		}
	}
	if d.err != nil {
		return r, fmt.Errorf("decode interaction: %w", d.err)
	}
	if err != nil {
		return r, fmt.Errorf("decode interaction %s: %w", r.Fold.ID, err)
	}
	return r, nil
}

// fold reads what enc.fold wrote (format v); a malformed enum is returned, a short value
// left in d.err.
func (d *dec) fold(f *domain.Interaction, v byte) error {
	f.ID, f.CustomerID = d.str(), d.str()
	f.StartAt, f.EndAt = d.time(), d.time()
	var flow, status, direction, orig, cur string
	flow, status, f.Reason, direction, orig, cur, f.AgentID, f.QueueID = d.str(), d.str(), d.str(), d.str(), d.str(), d.str(), d.str(), d.str()
	f.MessageCount = int(d.int())
	f.OpenedAt = d.time()
	f.OpenCount = int(d.int())
	st := &f.Stamps
	for _, s := range []*domain.Stamp{&st.Started, &st.Current, &st.Ended, &st.Customer} {
		*s = d.stamp()
	}
	n := d.int()
	if n < 0 || n > int64(len(d.b)) {
		d.fail()
	}
	if d.err == nil && n > 0 {
		f.Events = make([]domain.EventRecord, n)
		for i := range f.Events {
			f.Events[i].ID, f.Events[i].OccurredAt = d.str(), d.time()
		}
	}
	if v >= 2 {
		f.ClickedAt = d.time()
		f.ClickCount = int(d.int())
	}
	if v >= 3 {
		f.Agents, f.Queues = d.strs(), d.strs()
	}
	if d.err != nil {
		return nil
	}
	return errors.Join(f.Flow.UnmarshalText([]byte(flow)), f.Status.UnmarshalText([]byte(status)),
		f.Direction.UnmarshalText([]byte(direction)), f.OriginalRouting.UnmarshalText([]byte(orig)),
		f.CurrentRouting.UnmarshalText([]byte(cur)))
}

func encodeTask(r *taskRecord) []byte {
	e := enc{b: make([]byte, 0, 192)}
	e.b = append(e.b, fmtTask)
	e.str(r.TaskID)
	e.str(r.Status.String())
	e.stamp(r.StatusStamp)
	e.str(r.Title)
	e.stamp(r.TitleStamp)
	e.ptime(r.DueAt)
	e.stamp(r.DueStamp)
	e.str(r.AssigneeID)
	e.stamp(r.AssigneeStamp)
	e.time(r.CreatedAt)
	e.time(r.FirstAt)
	e.time(r.LastAt)
	e.int(int64(len(r.Seqs)))
	for _, c := range slices.Sorted(maps.Keys(r.Seqs)) {
		e.str(c)
		e.int(int64(r.Seqs[c]))
	}
	e.strs(r.Customers)
	return e.b
}

// decodeTaskRow decodes a task record as the tasks tab shows it to askedAs (taskRecord.task
// of decodeTask, without the rest of the record): from a kept dec, its strings point into
// the page's arena and its due date into d.times. A page of the busiest customer's tab
// spent two thirds of its time decoding whole records (a map of sequences and every
// string allocated, for each task).
func decodeTaskRow(d dec, askedAs string) (Task, domain.TaskState, error) {
	var t Task
	var st domain.TaskState
	d.version(fmtTask, "task")
	t.TaskID = d.str()
	status := d.raw()
	d.skipStamp()
	t.Title = d.str()
	d.skipStamp()
	t.DueAt = d.ptime()
	d.skipStamp()
	t.AssigneeID = d.str()
	d.skipStamp()
	created, first, last := d.time(), d.time(), d.time()
	n := d.int()
	if n < 0 || n > int64(len(d.b)) {
		d.fail()
	}
	for i := int64(0); d.err == nil && i < n; i++ {
		c, seq := d.raw(), d.int()
		if string(c) == askedAs {
			t.LastSeq = uint64(seq)
		}
	}
	if d.err != nil {
		return t, st, fmt.Errorf("decode task: %w", d.err)
	}
	i := slices.IndexFunc(taskStates, func(s domain.TaskState) bool { return s.String() == string(status) })
	if i < 0 {
		return t, st, fmt.Errorf("decode task %s: %w", t.TaskID, st.UnmarshalText(status))
	}
	st = taskStates[i]
	t.Status, t.CreatedAt, t.UpdatedAt = st.String(), created, last
	if created.IsZero() {
		t.CreatedAt = first // taskRecord.orderAt
	}
	return t, st, nil
}

// taskStates are the states a stored task may be in (decodeTaskRow looks them up without
// allocating).
var taskStates = domain.TaskStates()

func decodeTask(b []byte) (taskRecord, error) { return decodeTaskFor(b, true) }

// decodeTaskFor decodes a task record; without stamps (the read path: the tabs never
// look at them) it skips them and the record's customers, and allocates less.
func decodeTaskFor(b []byte, stamps bool) (taskRecord, error) {
	var r taskRecord
	d := dec{b: b}
	stamp := func() domain.Stamp {
		if stamps {
			return d.stamp()
		}
		d.int()
		d.skip()
		return domain.Stamp{}
	}
	v := d.version(fmtTask, "task")
	r.TaskID = d.str()
	status := d.str()
	r.StatusStamp = stamp()
	r.Title, r.TitleStamp = d.str(), stamp()
	r.DueAt, r.DueStamp = d.ptime(), stamp()
	r.AssigneeID, r.AssigneeStamp = d.str(), stamp()
	r.CreatedAt, r.FirstAt, r.LastAt = d.time(), d.time(), d.time()
	n := d.int()
	if n < 0 || n > int64(len(d.b)) {
		d.fail()
	}
	if d.err == nil && n > 0 {
		r.Seqs = make(map[string]uint64, n)
		for range n {
			c := d.str()
			r.Seqs[c] = uint64(d.int())
		}
	}
	if v >= 2 && stamps {
		r.Customers = d.strs() // the read path never looks at them (nor checks the rest)
	}
	if d.err != nil {
		return r, fmt.Errorf("decode task: %w", d.err)
	}
	if err := r.Status.UnmarshalText([]byte(status)); err != nil {
		return r, fmt.Errorf("decode task %s: %w", r.TaskID, err)
	}
	return r, nil
}
