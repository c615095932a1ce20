package timeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
)

// Name is the view's name. WARNING: renaming it re-consumes the whole stream into a new
// file (it names the file and the durable consumer).
const Name = "timeline"

// View is the customer card view.
type View struct {
	db *projections.DB
	// bulk: a rebuild is filling a fresh file (bulk.go); touched holds, then, the
	// customers' positions not yet written.
	bulk    bool
	touched map[string]uint64
}

var _ projections.BulkLoader = (*View)(nil)

// New returns the timeline view over db.
func New(db *projections.DB) *View { return &View{db: db} }

// Name implements projections.View.
func (*View) Name() string { return Name }

// Stream implements projections.View.
func (*View) Stream() string { return "LEDGER" }

// Init implements projections.View.
func (*View) Init(tx *bolt.Tx) error {
	// A file of another layout that holds records is rebuilt from the stream, not
	// converted: a conversion would rewrite every record at random.
	if err := projections.InitLayout(tx, layoutVersion, bInteractions); err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	for _, b := range allBuckets() {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	return nil
}

// interactionRecord is the stored state of one interaction: the fold (stripped of what
// the card does not show) and where its item sits.
type interactionRecord struct {
	Owner string             `json:"owner"`
	KB    byte               `json:"kb"`
	At    int64              `json:"at"`
	Fold  domain.Interaction `json:"fold"`
	// Parts holds, for an interaction whose events named several customers, the fold of
	// each customer's events alone, sorted by customer (as the events name them, before
	// merges): what an erasure folds the interaction again from (Fold is their merge).
	// Nil for the usual interaction of one customer.
	Parts []part `json:"parts,omitempty"`
	// h is its handle (keys.go): the key of its entry in interactions, not stored in it;
	// nil until a new interaction's first change.
	h []byte
}

// part is the fold of one customer's events of an interaction.
type part struct {
	Customer string
	Fold     domain.Interaction
}

// applyPart folds ev, an event just folded into r.Fold, into its customer's part. first
// is the fold before ev when ev is the first event of a second customer (every earlier
// event was the fold's customer's, so that fold is that customer's part): the record
// splits into parts then. It returns the customer when it is one the record did not
// carry before (its carried key is new), "" otherwise.
func (r *interactionRecord) applyPart(ev domain.Event, first *part) (newCarrier string) {
	if len(r.Parts) == 0 {
		if first == nil {
			return ""
		}
		r.Parts = []part{*first}
	}
	k, found := slices.BinarySearchFunc(r.Parts, ev.CustomerID, func(p part, c string) int { return strings.Compare(p.Customer, c) })
	if !found {
		r.Parts = slices.Insert(r.Parts, k, part{Customer: ev.CustomerID})
		newCarrier = ev.CustomerID
	}
	r.Parts[k].Fold.Apply(ev)
	return newCarrier
}

func (r *interactionRecord) pos() pos {
	return pos{cust: r.Owner, kb: r.KB, at: r.At, key: r.Fold.ID}
}

// taskRecord is the stored state of one task.
type taskRecord struct {
	TaskID        string            `json:"task_id"`
	Status        domain.TaskState  `json:"status"`
	StatusStamp   domain.Stamp      `json:"status_stamp"`
	Title         string            `json:"title,omitempty"`
	TitleStamp    domain.Stamp      `json:"title_stamp"`
	DueAt         *time.Time        `json:"due_at,omitempty"`
	DueStamp      domain.Stamp      `json:"due_stamp"`
	AssigneeID    string            `json:"assignee_id,omitempty"`
	AssigneeStamp domain.Stamp      `json:"assignee_stamp"`
	CreatedAt     time.Time         `json:"created_at"` // earliest task.created; zero if none seen
	FirstAt       time.Time         `json:"first_at"`
	LastAt        time.Time         `json:"last_at"`
	Seqs          map[string]uint64 `json:"seqs,omitempty"` // keyed-subject sequence per envelope customer_id
	// Customers lists, sorted, the customers its events were addressed to: an erasure
	// of a merged id removes the records only its events made.
	Customers []string `json:"customers,omitempty"`
}

// fold applies one task event (idempotent: stamps and maxima only).
func (r *taskRecord) fold(ev domain.Event, d *domain.TaskData, seq uint64, keyed bool) {
	st := domain.Stamp{At: ev.OccurredAt, ID: ev.ID}
	r.TaskID = d.TaskID
	if k, found := slices.BinarySearch(r.Customers, ev.CustomerID); !found {
		r.Customers = slices.Insert(r.Customers, k, ev.CustomerID)
	}
	if st.After(r.StatusStamp) {
		r.Status, r.StatusStamp = domain.TaskStateAfter(ev.Type), st
	}
	if d.Title != "" && st.After(r.TitleStamp) {
		r.Title, r.TitleStamp = d.Title, st
	}
	if d.DueAt != nil && st.After(r.DueStamp) {
		due := *d.DueAt
		r.DueAt, r.DueStamp = &due, st
	}
	if d.AssigneeID != "" && st.After(r.AssigneeStamp) {
		r.AssigneeID, r.AssigneeStamp = d.AssigneeID, st
	}
	if ev.Type == domain.TypeTaskCreated && (r.CreatedAt.IsZero() || ev.OccurredAt.Before(r.CreatedAt)) {
		r.CreatedAt = ev.OccurredAt
	}
	if r.FirstAt.IsZero() || ev.OccurredAt.Before(r.FirstAt) {
		r.FirstAt = ev.OccurredAt
	}
	if ev.OccurredAt.After(r.LastAt) {
		r.LastAt = ev.OccurredAt
	}
	if keyed {
		if r.Seqs == nil {
			r.Seqs = map[string]uint64{}
		}
		if seq > r.Seqs[ev.CustomerID] {
			r.Seqs[ev.CustomerID] = seq
		}
	}
}

// absorb folds another record of the same task into r (a merge of two customers).
func (r *taskRecord) absorb(o taskRecord) {
	if o.StatusStamp.After(r.StatusStamp) {
		r.Status, r.StatusStamp = o.Status, o.StatusStamp
	}
	if o.TitleStamp.After(r.TitleStamp) {
		r.Title, r.TitleStamp = o.Title, o.TitleStamp
	}
	if o.DueStamp.After(r.DueStamp) {
		r.DueAt, r.DueStamp = o.DueAt, o.DueStamp
	}
	if o.AssigneeStamp.After(r.AssigneeStamp) {
		r.AssigneeID, r.AssigneeStamp = o.AssigneeID, o.AssigneeStamp
	}
	if !o.CreatedAt.IsZero() && (r.CreatedAt.IsZero() || o.CreatedAt.Before(r.CreatedAt)) {
		r.CreatedAt = o.CreatedAt
	}
	if !o.FirstAt.IsZero() && (r.FirstAt.IsZero() || o.FirstAt.Before(r.FirstAt)) {
		r.FirstAt = o.FirstAt
	}
	if o.LastAt.After(r.LastAt) {
		r.LastAt = o.LastAt
	}
	for _, c := range o.Customers {
		if k, found := slices.BinarySearch(r.Customers, c); !found {
			r.Customers = slices.Insert(r.Customers, k, c)
		}
	}
	for c, s := range o.Seqs {
		if r.Seqs == nil {
			r.Seqs = map[string]uint64{}
		}
		if s > r.Seqs[c] {
			r.Seqs[c] = s
		}
	}
}

func (r *taskRecord) task(askedAs string) Task {
	return Task{TaskID: r.TaskID, Title: r.Title, Status: r.Status.String(), DueAt: r.DueAt, AssigneeID: r.AssigneeID,
		CreatedAt: r.orderAt(), UpdatedAt: r.LastAt, LastSeq: r.Seqs[askedAs]}
}

// orderAt is the created_at the tasks tab shows and sorts by: the earliest task.created,
// or the first event's time until one arrives. Zero only for a record never folded (every
// event has a time), which is how saveTask is told there is no stored one.
func (r *taskRecord) orderAt() time.Time {
	if r.CreatedAt.IsZero() {
		return r.FirstAt
	}
	return r.CreatedAt
}

func (r *taskRecord) expiryPos(cust string) pos {
	return pos{cust: cust, kb: kbTaskState, at: r.LastAt.UnixNano(), key: r.TaskID}
}

// isKeyedTaskSubject reports whether a task event was stored on its per-task subject
// "ledger.events.task.<action>.k<hash>" (the one task commands' expected sequence reads),
// rather than on the plain "ledger.events.task.<action>".
func isKeyedTaskSubject(subject string) bool {
	if strings.Count(subject, ".") != 4 || !strings.HasPrefix(subject, "ledger.events.task.") {
		return false
	}
	last := subject[strings.LastIndexByte(subject, '.')+1:]
	return len(last) > 1 && last[0] == 'k'
}

// writer holds one write transaction's buckets.
type writer struct {
	tx                                                                                                   *bolt.Tx
	items, expiry, counts, refs, tasks, taskOrder, owned, inters, handles, alias, merged, carried, edges *bolt.Bucket

	// bulk: counts and the interactions' items are left to EndBulk (bulk.go).
	bulk bool
	// seq is the stream position of the event being applied: a new interaction's handle.
	seq uint64

	// erased holds the customers the last erasure erased (erase).
	erased map[string]bool
	// refolded lists the customers whose cards an erasure changed by folding a shared
	// interaction again without the erased customer's events (their positions move).
	refolded []string

	// pending holds the interactions the batch has touched so far, by id: their events
	// are folded here, in memory, and flush writes each changed one once (its item,
	// expiry key, owner key and record) instead of once per event.
	pending map[string]*pendingInteraction
}

// pendingInteraction is one interaction's record as loaded, with the batch's events
// folded into rec.Fold. rec's Owner, KB and At still say where the stored item sits:
// reposition moves it from there to where the fold now calls for.
type pendingInteraction struct {
	rec   interactionRecord
	had   bool // a record was stored
	dirty bool // an event changed the fold
}

func newWriter(tx *bolt.Tx) (*writer, error) {
	w := &writer{tx: tx, items: tx.Bucket(bItems), expiry: tx.Bucket(bExpiry), counts: tx.Bucket(bCounts),
		refs: tx.Bucket(bRefs), tasks: tx.Bucket(bTasks), taskOrder: tx.Bucket(bTaskOrder), owned: tx.Bucket(bOwned), inters: tx.Bucket(bInteractions),
		handles: tx.Bucket(bHandles), alias: tx.Bucket(bAliases), merged: tx.Bucket(bMerged), carried: tx.Bucket(bCarried), edges: tx.Bucket(bEdges)}
	if w.items == nil || w.expiry == nil || w.counts == nil || w.refs == nil || w.tasks == nil || w.taskOrder == nil || w.owned == nil ||
		w.inters == nil || w.handles == nil || w.alias == nil || w.merged == nil || w.carried == nil || w.edges == nil {
		return nil, fmt.Errorf("timeline buckets missing: Init was not run")
	}
	// Keys of these grow at the end: expiry is time-first, records are keyed by handle,
	// and handles by id grow there when the producers' ids sort by time (history/view.go).
	w.expiry.FillPercent, w.inters.FillPercent, w.handles.FillPercent = projections.AppendFill, projections.AppendFill, projections.AppendFill
	return w, nil
}

// Apply implements projections.View.
func (v *View) Apply(tx *bolt.Tx, batch []projections.Applied) error {
	w, err := newWriter(tx)
	if err != nil {
		return err
	}
	w.bulk = v.bulk
	// Each customer as sent -> the position of its batch's last event, 0 when that
	// was its erasure: what applying the events one by one would leave.
	touched := map[string]uint64{}
	for _, a := range batch {
		w.seq = a.Seq
		if err := w.apply(a); err != nil {
			return fmt.Errorf("apply %s %s (seq %d): %w", a.Event.Type, a.Event.ID, a.Seq, err)
		}
		ev := a.Event
		if ev.Type.IsDirectory() || ev.CustomerID == "" {
			continue
		}
		touched[ev.CustomerID] = a.Seq
		for _, c := range w.refolded {
			touched[c] = a.Seq
		}
		w.refolded = w.refolded[:0]
		switch d := ev.Payload.(type) {
		case *domain.MergedData:
			touched[d.FromCustomerID] = a.Seq
		case *domain.ErasedData:
			for c := range w.erased { // the erased customer and those merged into it
				touched[c] = 0
			}
			touched[ev.CustomerID] = 0
		}
	}
	if err := w.flush(); err != nil {
		return fmt.Errorf("apply batch at seq %d: %w", batch[0].Seq, err)
	}
	if v.bulk {
		err = v.keepTouched(tx, touched)
	} else {
		err = putTouched(tx.Bucket(bTouched), touched)
	}
	if err != nil {
		return fmt.Errorf("apply batch at seq %d: %w", batch[0].Seq, err)
	}
	return nil
}

// putTouched records the position of the last event of each customer (0: remove it,
// the customer was erased), in key order.
func putTouched(b *bolt.Bucket, touched map[string]uint64) error {
	for _, c := range slices.Sorted(maps.Keys(touched)) {
		var err error
		if seq := touched[c]; seq == 0 {
			err = b.Delete([]byte(c))
		} else {
			err = b.Put([]byte(c), binary.BigEndian.AppendUint64(nil, seq))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ChangedAt returns the stream position of the last event that changed customer's card
// (any event of the customer its merges resolve to, or of one merged into that one), and
// 0 when the view holds none (never seen, erased, or written before positions were kept). A page reads it before it renders the
// card, then waits for a later one (WaitChange).
func (v *View) ChangedAt(customer string) (uint64, error) {
	var at uint64
	err := v.db.View(func(tx *bolt.Tx) error {
		touched, aliases, merged := tx.Bucket(bTouched), tx.Bucket(bAliases), tx.Bucket(bMerged)
		if touched == nil || aliases == nil || merged == nil {
			return nil // a file the view has not initialised: nothing recorded
		}
		read := func(c string) {
			if b := touched.Get([]byte(c)); len(b) == 8 {
				at = max(at, binary.BigEndian.Uint64(b))
			}
		}
		// The card shows its owner's entries and those of every customer merged into it.
		owner := resolveAlias(aliases, customer)
		read(owner)
		for _, k := range prefixKeys(merged, custPrefix(owner)) {
			read(string(k[len(owner)+1:]))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("timeline: change position of %s: %w", customer, err)
	}
	return at, nil
}

// WaitChange waits until customer's card position differs from at and returns the new
// one; an error when ctx ends first. It reads again only when the view's checkpoint
// moves, so an open card costs nothing between batches.
func (v *View) WaitChange(ctx context.Context, customer string, at uint64) (uint64, error) {
	return v.db.WaitChange(ctx, at, func() (uint64, error) { return v.ChangedAt(customer) })
}

// flush writes the interactions the batch changed and forgets them.
//
// Writing an interaction once with all of the batch's events folded in leaves the same
// keys and values as writing it after each event: its item goes from where the STORED
// record says it is to where the final fold says, and the places it would have passed
// through on the way hold only this interaction's keys (its id is in every one of them),
// which the next event would have removed again. Counts move by the same net amount: they
// are summed over the flush and written once per (customer, kind). What could break this
// is a change of owner resolution (aliases) or of the stored records between two events:
// merge and erase, which flush first.
//
// The writes go in (owner, id) order, so that the items, owned and counts keys, which
// start with the customer, are visited in key order (DESIGN.md: sorted within a batch).
func (w *writer) flush() error {
	if len(w.pending) == 0 {
		return nil
	}
	type write struct {
		owner string
		p     *pendingInteraction
	}
	todo := make([]write, 0, len(w.pending))
	for _, p := range w.pending {
		if p.dirty {
			todo = append(todo, write{owner: w.resolve(p.rec.Fold.CustomerID), p: p})
		}
	}
	clear(w.pending)
	slices.SortFunc(todo, func(a, b write) int {
		if c := strings.Compare(a.owner, b.owner); c != 0 {
			return c
		}
		return strings.Compare(a.p.rec.Fold.ID, b.p.rec.Fold.ID)
	})
	deltas := make(map[string]int64)
	for _, t := range todo {
		if err := w.rewrite(&t.p.rec, t.p.had, t.owner, deltas); err != nil {
			return fmt.Errorf("write interaction %s: %w", t.p.rec.Fold.ID, err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(deltas)) { // sorted: bbolt writes in key order
		if deltas[k] == 0 {
			continue
		}
		if err := w.countKey([]byte(k), deltas[k]); err != nil {
			return err
		}
	}
	return nil
}

// rewrite is reposition for flush: the same keys and values, but counts are added to
// deltas (countKey -> change) and a key that already holds exactly what would be put is
// not put again (an identical Put changes nothing but dirties a page the commit must
// write).
func (w *writer) rewrite(rec *interactionRecord, had bool, owner string, deltas map[string]int64) error {
	kb := kbUnindexed
	kind, ok := kindOfFlow(rec.Fold.Flow)
	if ok {
		kb = kindBytes[kind]
	}
	id := rec.Fold.ID
	np := pos{cust: owner, kb: kb, at: rec.Fold.StartAt.UnixNano(), key: id}
	samePos, sameOwner := false, false // the stored record is already there
	if had {
		samePos, sameOwner = rec.pos() == np, rec.Owner == owner
		op := rec.pos()
		if op != np { // unplace(op)
			if err := w.expiry.Delete(op.expiryKey()); err != nil {
				return err
			}
			if op.listed() && !w.bulk { // bulk: EndBulk writes interactions' items
				if k := op.itemKey(); w.items.Get(k) != nil {
					if err := w.items.Delete(k); err != nil {
						return err
					}
					deltas[string(countKey(op.cust, op.kb))]--
				}
			}
		}
		if op.cust != owner {
			if err := w.owned.Delete(pairKey(op.cust, id)); err != nil {
				return err
			}
		}
	}
	rec.Owner, rec.KB, rec.At = owner, kb, np.at
	// place(np)
	if err := putEmpty(w.expiry, np.expiryKey(), samePos); err != nil {
		return err
	}
	if ok && !w.bulk {
		val := encodeInteractionItem(&rec.Fold, kind)
		k := np.itemKey()
		switch old := w.items.Get(k); {
		case old == nil:
			deltas[string(countKey(owner, kb))]++
		case bytes.Equal(old, val):
			val = nil
		}
		if val != nil {
			if err := w.items.Put(k, val); err != nil {
				return err
			}
		}
	}
	if err := putEmpty(w.owned, pairKey(owner, id), sameOwner); err != nil {
		return err
	}
	return w.saveInteraction(rec, had)
}

// putEmpty puts k with an empty value unless b already holds exactly that; it looks
// only when told the key is likely there (a Put of a new key needs no look first).
func putEmpty(b *bolt.Bucket, k []byte, look bool) error {
	if look {
		if got, v := b.Cursor().Seek(k); got != nil && bytes.Equal(got, k) && len(v) == 0 {
			return nil
		}
	}
	return b.Put(k, nil)
}

func (w *writer) apply(a projections.Applied) error {
	ev := a.Event
	if ev.Type.IsDirectory() || ev.CustomerID == "" {
		return nil
	}
	st := domain.Stamp{At: ev.OccurredAt, ID: ev.ID}
	switch d := ev.Payload.(type) {
	case *domain.OrderData:
		action := "created"
		if ev.Type == domain.TypeOrderUpdated {
			action = "updated"
		}
		changes, err := changesJSON(d.Changes)
		if err != nil {
			return err
		}
		return w.putEventItem(ev, KindOrder, Item{OrderID: d.OrderID, Status: d.Status, Total: d.Total,
			Currency: d.Currency, Changes: changes, Action: action})
	case *domain.SegmentData:
		action := domain.SegmentJoined.String()
		if ev.Type == domain.TypeSegmentLeft {
			action = domain.SegmentLeft.String()
		}
		return w.putEventItem(ev, KindSegment, Item{SegmentID: d.SegmentID, Name: d.Name, Action: action})
	case *domain.TaskData:
		return w.task(a, d)
	case *domain.CustomerUpdatedData:
		changes, err := changesJSON(d.Changes)
		if err != nil {
			return err
		}
		return w.putEventItem(ev, KindCard, Item{Changes: changes})
	case *domain.NoteData:
		return w.putRefItem(ev, st, KindNote, d.NoteID, Item{NoteID: d.NoteID, Text: d.Text, AuthorID: d.AuthorID})
	case *domain.FileData:
		return w.putRefItem(ev, st, KindFile, d.FileID, Item{FileID: d.FileID, Name: d.Name, Size: d.Size,
			ContentType: d.ContentType, URL: d.URL})
	case *domain.VisitData:
		return w.putRefItem(ev, st, KindVisit, d.VisitID, Item{VisitID: d.VisitID, Source: d.Source,
			Channel: d.Channel, DurationS: d.DurationS, Pages: d.PageCount})
	case *domain.MergedData:
		if err := w.flush(); err != nil {
			return err
		}
		return w.merge(d.FromCustomerID, ev.CustomerID)
	case *domain.ErasedData:
		if err := w.flush(); err != nil {
			return err
		}
		return w.erase(ev.CustomerID)
	case domain.InteractionRef:
		return w.interaction(ev, d.InteractionKey())
	}
	return nil
}

// resolve follows the merge aliases of cust to the customer its entries live under.
func (w *writer) resolve(cust string) string {
	return resolveAlias(w.alias, cust)
}

func resolveAlias(b *bolt.Bucket, cust string) string {
	for range maxAliasHops {
		next := b.Get([]byte(cust))
		if next == nil {
			return cust
		}
		cust = string(next)
	}
	return cust
}

// place writes an item (listed kinds: its encoded value val) at p with its expiry key,
// counting it if new.
func (w *writer) place(p pos, val []byte) error {
	if err := w.expiry.Put(p.expiryKey(), nil); err != nil {
		return err
	}
	if !p.listed() || w.bulk && isInteractionByte(p.kb) { // bulk: EndBulk writes those
		return nil
	}
	k := p.itemKey()
	isNew := w.items.Get(k) == nil
	if err := w.items.Put(k, val); err != nil {
		return err
	}
	if isNew {
		return w.count(p.cust, p.kb, +1)
	}
	return nil
}

// unplace removes what place wrote at p (nothing if absent).
func (w *writer) unplace(p pos) error {
	if err := w.expiry.Delete(p.expiryKey()); err != nil {
		return err
	}
	if !p.listed() || w.bulk && isInteractionByte(p.kb) {
		return nil
	}
	k := p.itemKey()
	if w.items.Get(k) == nil {
		return nil
	}
	if err := w.items.Delete(k); err != nil {
		return err
	}
	return w.count(p.cust, p.kb, -1)
}

func (w *writer) count(cust string, kb byte, delta int64) error {
	return w.countKey(countKey(cust, kb), delta)
}

func (w *writer) countKey(k []byte, delta int64) error {
	if w.bulk {
		return nil // EndBulk counts the items
	}
	var n int64
	if v := w.counts.Get(k); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	n += delta
	if n <= 0 {
		return w.counts.Delete(k)
	}
	return w.counts.Put(k, binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// putEventItem writes an item that one event makes on its own (keyed by event id).
func (w *writer) putEventItem(ev domain.Event, kind Kind, it Item) error {
	it.Kind, it.OccurredAt = string(kind), ev.OccurredAt
	p := pos{cust: w.resolve(ev.CustomerID), kb: kindBytes[kind], at: ev.OccurredAt.UnixNano(), key: ev.ID}
	if p.cust != ev.CustomerID {
		it.from = ev.CustomerID
	}
	if w.items.Get(p.itemKey()) != nil {
		return nil // already applied
	}
	return w.place(p, encodeItem(&it))
}

// putRefItem writes an item keyed by its own id (note, file, visit): the latest event wins.
func (w *writer) putRefItem(ev domain.Event, st domain.Stamp, kind Kind, id string, it Item) error {
	it.Kind, it.OccurredAt = string(kind), ev.OccurredAt
	cust, kb := w.resolve(ev.CustomerID), kindBytes[kind]
	if cust != ev.CustomerID {
		it.from = ev.CustomerID
	}
	rk := refKey(cust, kb, id)
	if old, ok := parseRefVal(w.refs.Get(rk)); ok {
		if !st.After(old) {
			return nil
		}
		if err := w.unplace(pos{cust: cust, kb: kb, at: old.At.UnixNano(), key: id}); err != nil {
			return err
		}
	}
	if err := w.refs.Put(rk, refVal(st)); err != nil {
		return err
	}
	return w.place(pos{cust: cust, kb: kb, at: ev.OccurredAt.UnixNano(), key: id}, encodeItem(&it))
}

func (w *writer) loadInteraction(id string) (interactionRecord, bool, error) {
	h := w.handles.Get([]byte(id))
	if h == nil {
		return interactionRecord{}, false, nil
	}
	v := w.inters.Get(h)
	if v == nil {
		return interactionRecord{}, false, fmt.Errorf("interaction %s: no record at its handle %x: %w", id, h, projections.ErrCorrupt)
	}
	r, err := decodeInteraction(v)
	r.h = bytes.Clone(h)
	return r, err == nil, err
}

// saveInteraction stores r; had says whether it was stored before (its handle too).
func (w *writer) saveInteraction(r *interactionRecord, had bool) error {
	if len(r.h) != 8 {
		return fmt.Errorf("interaction %s: saved without a handle", r.Fold.ID)
	}
	if !had {
		if w.inters.Get(r.h) != nil {
			return fmt.Errorf("interaction %s: its handle %x (stream position of its first event) is another's: %w", r.Fold.ID, r.h, projections.ErrCorrupt)
		}
		if err := w.handles.Put([]byte(r.Fold.ID), r.h); err != nil {
			return err
		}
	}
	return w.inters.Put(r.h, encodeInteraction(r))
}

// deleteInteraction removes the stored record r of interaction id, its handle and its
// carried keys.
func (w *writer) deleteInteraction(id string, r *interactionRecord) error {
	for _, p := range r.Parts {
		if err := w.carried.Delete(pairKey(p.Customer, id)); err != nil {
			return err
		}
	}
	if err := w.inters.Delete(r.h); err != nil {
		return err
	}
	return w.handles.Delete([]byte(id))
}

// interaction folds one interaction event into the batch's pending state of the
// interaction; flush moves or rewrites its item.
func (w *writer) interaction(ev domain.Event, id string) error {
	p := w.pending[id]
	if p == nil {
		rec, found, err := w.loadInteraction(id)
		if err != nil {
			return err
		}
		if w.pending == nil {
			w.pending = make(map[string]*pendingInteraction)
		}
		p = &pendingInteraction{rec: rec, had: found}
		w.pending[id] = p
	}
	var first *part // the record's first customer's part, should ev be a second's first
	if len(p.rec.Parts) == 0 && len(p.rec.Fold.Events) > 0 && p.rec.Fold.CustomerID != ev.CustomerID {
		first = &part{Customer: p.rec.Fold.CustomerID, Fold: p.rec.Fold.Clone()}
	}
	if !p.rec.Fold.Apply(ev) {
		return nil // already applied
	}
	p.dirty = true
	if p.rec.h == nil {
		// The first event that changes a new interaction names it: the same in any
		// batching of the stream, live or replayed.
		if w.seq == 0 {
			return fmt.Errorf("interaction %s: event %s has no stream position to take a handle from", id, ev.ID)
		}
		p.rec.h = projections.HandleOf(w.seq)
	}
	if c := p.rec.applyPart(ev, first); c != "" {
		// Another customer's first event: the record carries several, and an erasure
		// of any of them must find it (erase).
		if first != nil {
			if err := w.carried.Put(pairKey(first.Customer, id), nil); err != nil {
				return err
			}
		}
		if err := w.carried.Put(pairKey(c, id), nil); err != nil {
			return err
		}
	}
	return nil
}

// reposition writes rec's item at the place its fold and owner now call for, removing it
// from where it was (had says whether rec was stored before), and saves rec.
func (w *writer) reposition(rec *interactionRecord, had bool, owner string) error {
	kb := kbUnindexed
	kind, ok := kindOfFlow(rec.Fold.Flow)
	if ok {
		kb = kindBytes[kind]
	}
	np := pos{cust: owner, kb: kb, at: rec.Fold.StartAt.UnixNano(), key: rec.Fold.ID}
	if had {
		op := rec.pos()
		if op != np {
			if err := w.unplace(op); err != nil {
				return err
			}
		}
		if op.cust != owner {
			if err := w.owned.Delete(pairKey(op.cust, rec.Fold.ID)); err != nil {
				return err
			}
		}
	}
	rec.Owner, rec.KB, rec.At = owner, kb, np.at
	var val []byte
	if ok {
		val = encodeInteractionItem(&rec.Fold, kind)
	}
	if err := w.place(np, val); err != nil {
		return err
	}
	if err := w.owned.Put(pairKey(owner, rec.Fold.ID), nil); err != nil {
		return err
	}
	return w.saveInteraction(rec, had)
}

func (w *writer) loadTask(cust, taskID string) (taskRecord, bool, error) {
	v := w.tasks.Get(pairKey(cust, taskID))
	if v == nil {
		return taskRecord{}, false, nil
	}
	r, err := decodeTask(v)
	return r, err == nil, err
}

// saveTask writes r under cust and its place in the tasks tab. was is the orderAt of
// the record stored before (zero if none): a fold can move a task (an earlier
// task.created, or an earlier first event while none has arrived).
func (w *writer) saveTask(cust string, r *taskRecord, was time.Time) error {
	if at := r.orderAt(); !at.Equal(was) {
		if !was.IsZero() {
			if err := w.taskOrder.Delete(taskOrderKey(cust, was, r.TaskID)); err != nil {
				return err
			}
		}
		if err := w.taskOrder.Put(taskOrderKey(cust, at, r.TaskID), nil); err != nil {
			return err
		}
	}
	return w.tasks.Put(pairKey(cust, r.TaskID), encodeTask(r))
}

// deleteTask removes the stored record r of cust and its place in the tasks tab.
func (w *writer) deleteTask(cust string, r *taskRecord) error {
	if err := w.taskOrder.Delete(taskOrderKey(cust, r.orderAt(), r.TaskID)); err != nil {
		return err
	}
	return w.tasks.Delete(pairKey(cust, r.TaskID))
}

// task folds a task event into the task's record and writes the event's timeline item.
func (w *writer) task(a projections.Applied, d *domain.TaskData) error {
	ev := a.Event
	cust := w.resolve(ev.CustomerID)
	rec, had, err := w.loadTask(cust, d.TaskID)
	if err != nil {
		return err
	}
	was := rec.orderAt() // zero when !had
	if had {
		if err := w.unplace(rec.expiryPos(cust)); err != nil {
			return err
		}
	}
	rec.fold(ev, d, a.Seq, isKeyedTaskSubject(a.Subject))
	if err := w.place(rec.expiryPos(cust), nil); err != nil {
		return err
	}
	if err := w.saveTask(cust, &rec, was); err != nil {
		return err
	}
	action := strings.TrimPrefix(ev.Type.String(), "task.")
	return w.putEventItem(ev, KindTask, Item{TaskID: d.TaskID, Title: d.Title, DueAt: d.DueAt, AssigneeID: d.AssigneeID,
		Status: domain.TaskStateAfter(ev.Type).String(), Action: action})
}

// prefixKeys returns a copy of every key of b that starts with prefix (keys are copied so
// the caller may change the bucket while it walks them).
func prefixKeys(b *bolt.Bucket, prefix []byte) [][]byte {
	var out [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, bytes.Clone(k))
	}
	return out
}
