package history

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/domain/contact"
	"github.com/interaction-ledger/ledger/projections"
)

// Name is the view's name. WARNING: renaming it re-consumes the whole LEDGER stream into
// a new file (the name is also the view's file and durable consumer).
const Name = "history"

// ErrNotFound is returned by Get for an interaction that does not exist or that the
// reader may not see: the caller answers 404, never 403 (CONTRACT.md §3).
var ErrNotFound = errors.New("interaction not found")

// Options tune the view.
type Options struct {
	// Region reads national phone numbers, in the data and in searches. Default
	// contact.DefaultRegion.
	Region string
}

// View is the History of interactions.
type View struct {
	db     *projections.DB
	region string
	phones *contact.PhoneCache
	// plan forces a plan for non-start sorts: planAuto, except on the copies that tests
	// make with withPlan to check every path against brute force.
	plan int
	// bulk: a rebuild is filling a fresh file (bulk.go); bulkCustomers: the customers'
	// lists are left to EndBulk too, until an erasure needs them.
	bulk, bulkCustomers bool
}

var _ projections.BulkLoader = (*View)(nil)

// phoneCacheSize bounds the canonical phone numbers remembered (about 100 bytes each).
const phoneCacheSize = 100_000

// New returns the history view over db.
func New(db *projections.DB, opts Options) *View {
	if opts.Region == "" {
		opts.Region = contact.DefaultRegion
	}
	return &View{db: db, region: opts.Region, phones: contact.NewPhoneCache(opts.Region, phoneCacheSize)}
}

// withPlan returns a copy of v, on the same file and caches, that always takes plan.
func (v *View) withPlan(plan int) *View {
	c := *v
	c.plan = plan
	return &c
}

// Name implements projections.View.
func (*View) Name() string { return Name }

// Stream implements projections.View.
func (*View) Stream() string { return "LEDGER" }

// layoutVersion names the key layout this code reads and writes. 3: an interaction's
// detail, events and change position keyed by its handle (handles.go), the detail
// without the row's start (the handle entry holds it; 2 kept a copy). 4: the same keys,
// but a file bulk-loaded by an earlier version lacks the customers' list entries of the
// customers an interaction carried before its last one (an erasure of one of them missed
// it), so it is rebuilt. 5: merged keeps every merge, also one a later merge of the same
// id replaced (an erasure follows each); an earlier file lacks those, so it is rebuilt.
// 6: a sort index entry's value is its row's screen (screen.go); an earlier file's are
// empty, so it is rebuilt. 7: a counted posting entry's value holds the row's enums
// before its current agent and queue (postingValue); an earlier file's would be misread,
// so it is rebuilt. Files from before the version was kept are version 1.
const layoutVersion = 7

// Init implements projections.View. A file of another key layout that holds interactions
// is projections.ErrLayoutChanged: rebuilt from the stream, not converted in place (a
// rebuild is a bulk load of an ordered read; a conversion would be random writes into the
// file's largest trees).
func (v *View) Init(tx *bolt.Tx) error {
	if err := projections.InitLayout(tx, layoutVersion, bDetails); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	for _, b := range [][]byte{bRows, bHandles, bDetails, bIndex, bCounts, bMerges, bMerged, bSorts, bEvents, bEventIDs, bActionSeqs, bChanges, bChangedAt} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	return nil
}

// Apply implements projections.View. The events of one interaction are folded in memory
// and each interaction is written once per batch; every key written is sorted first.
// customer.merged and customer.erased are applied in stream order relative to the
// interaction events around them.
func (v *View) Apply(tx *bolt.Tx, batch []projections.Applied) error {
	w := v.newWriter(tx)
	for _, a := range batch {
		ev := a.Event
		w.seq = a.Seq
		var err error
		switch d := ev.Payload.(type) {
		case *domain.MergedData:
			if err = w.flush(); err == nil {
				err = w.merge(d.FromCustomerID, ev.CustomerID)
			}
		case *domain.ErasedData:
			if err = w.flush(); err == nil {
				err = w.erase(ev.CustomerID)
			}
		case domain.InteractionRef:
			if keyed(a) {
				w.noteSeq(d.InteractionKey(), ev.CustomerID, a.Seq)
			}
			err = w.fold(ev, d.InteractionKey())
		}
		if err != nil {
			return fmt.Errorf("history: apply %s %s (seq %d): %w", ev.Type, ev.ID, a.Seq, err)
		}
	}
	if err := w.flush(); err != nil {
		return fmt.Errorf("history: write batch: %w", err)
	}
	return nil
}

// writer gathers one batch's changes.
type writer struct {
	v       *View
	tx      *bolt.Tx
	rows    *bolt.Bucket
	handles *bolt.Bucket
	details *bolt.Bucket
	index   *bolt.Bucket
	sorts   *bolt.Bucket
	counts  *bolt.Bucket
	events  *bolt.Bucket
	evIDs   *bolt.Bucket
	pending map[string]*pendingInteraction
	order   []string
	buf     []byte
	seqs    map[string]uint64 // actionseqs key -> the batch's highest sequence (noteSeq)
	seq     uint64            // the stream position of the event being applied
}

type pendingInteraction struct {
	in        domain.Interaction // its Events: a stub of the earliest (see stub)
	old       *row               // nil for a new interaction: the stored row, as written
	h         []byte             // its handle (handles.go); nil until a new one changes
	contact   domain.Contact     // the stored contact, from which old.phone and old.email came
	customers []string           // every customer it carried, sorted
	events    []eventEntry       // the batch's new events
	seen      map[string]bool    // their ids
	changed   bool
	seq       uint64 // the position of the last event that changed it (the live list's)
}

func (v *View) newWriter(tx *bolt.Tx) *writer {
	w := &writer{v: v, tx: tx, rows: tx.Bucket(bRows), handles: tx.Bucket(bHandles), details: tx.Bucket(bDetails), index: tx.Bucket(bIndex),
		sorts: tx.Bucket(bSorts), counts: tx.Bucket(bCounts), events: tx.Bucket(bEvents), evIDs: tx.Bucket(bEventIDs),
		pending: map[string]*pendingInteraction{}}
	// Keys that grow at the end: rows by start, details and events by handle, the sort
	// index at the end of each agent's or queue's range, and handles when the producers'
	// ids sort by time (at half fill they took two pages for one: 49.8 % in use at 2M; with
	// random ids a page is dirtied per insert whatever the fill). Not index: its phone,
	// email and customer lists insert at random.
	for _, b := range []*bolt.Bucket{w.rows, w.handles, w.details, w.sorts, w.events, w.evIDs} {
		b.FillPercent = projections.AppendFill
	}
	return w
}

// fold applies one event to its interaction. Its cost does not grow with the
// interaction's events: a duplicate is found by key (the batch's ids, then eventids), and
// the folded state keeps only a stub of them.
func (w *writer) fold(ev domain.Event, id string) error {
	p := w.pending[id]
	if p == nil {
		p = &pendingInteraction{}
		old, h, err := w.load(id, &p.in)
		if err != nil {
			return err
		}
		if old != nil {
			p.customers = old.customers
		}
		p.old, p.h, p.contact = old, h, p.in.Contact
		w.pending[id] = p
		w.order = append(w.order, id)
	}
	// Only a stored interaction has stored events to be a duplicate of.
	if p.seen[ev.ID] || (p.old != nil && w.evIDs.Get(eventIDKey(p.h, ev.ID)) != nil) {
		return nil
	}
	if !p.in.Apply(ev) {
		return nil
	}
	if p.h == nil {
		// The first event that changes a new interaction names it: the same in any
		// batching of the stream, live or replayed.
		if w.seq == 0 {
			return fmt.Errorf("interaction %s: event %s has no stream position to take a handle from", id, ev.ID)
		}
		p.h = projections.HandleOf(w.seq)
	}
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	p.seen[ev.ID] = true
	p.events = append(p.events, eventEntry{customer: ev.CustomerID, rec: domain.EventRecord{ID: ev.ID,
		Type: ev.Type.String(), OccurredAt: ev.OccurredAt, Source: ev.Source, Data: ev.Data}})
	p.in.Events = stub(p.in.Events)
	p.customers = addSorted(p.customers, ev.CustomerID)
	p.changed = true
	p.seq = w.seq
	return nil
}

func addSorted(s []string, v string) []string {
	k, found := slices.BinarySearch(s, v)
	if found {
		return s
	}
	return slices.Insert(slices.Clip(s), k, v)
}

// load reads the stored interaction id into in (unless nil) and returns its stored row
// (nil, and in untouched, when there is none), with the customers it carried, and its
// handle. The stored row is what the index entries were made from: no need to derive it
// again (a phone number parse).
func (w *writer) load(id string, in *domain.Interaction) (*row, []byte, error) {
	h, start, err := lookup(w.handles, id)
	if h == nil || err != nil {
		return nil, nil, err
	}
	val := w.details.Get(h)
	if val == nil {
		return nil, nil, fmt.Errorf("interaction %s: no detail at its handle: %w", id, errCorrupt)
	}
	if in == nil {
		in = new(domain.Interaction)
	}
	customers, err := decodeDetail(val, in)
	if err != nil {
		return nil, nil, fmt.Errorf("decode interaction %s: %w", id, err)
	}
	if customers == nil && in.CustomerID != "" {
		customers = []string{in.CustomerID} // a detail written before they were kept
	}
	r, err := rowAt(w.rows, start, id)
	if err != nil {
		return nil, nil, err
	}
	r.customers = customers
	return r, slices.Clone(h), nil
}

// rowAt returns the row of interaction id whose row key starts with start (its first 8
// bytes: a detail's or a handle entry's).
func rowAt(rows *bolt.Bucket, start []byte, id string) (*row, error) {
	tk := append(slices.Clip(start[:8]), id...)
	rv := rows.Get(tk)
	if rv == nil {
		return nil, fmt.Errorf("interaction %s: no row: %w", id, errCorrupt)
	}
	r, err := decodeRow(tk, rv)
	if err != nil {
		return nil, fmt.Errorf("interaction %s: %w", id, err)
	}
	return &r, nil
}

// loadDetail reads the stored interaction id and returns its handle (nil when there is
// none).
func loadDetail(tx *bolt.Tx, id string) (domain.Interaction, []byte, error) {
	var in domain.Interaction
	val, h, err := detailOf(tx, id)
	if val == nil || err != nil {
		return in, nil, err
	}
	if _, err := decodeDetail(val, &in); err != nil {
		return in, nil, fmt.Errorf("decode interaction %s: %w", id, err)
	}
	return in, h, nil
}

type kv struct{ k, v []byte }

// flush writes every pending interaction: rows, details, then the posting entries that
// changed, each bucket's keys in sorted order.
func (w *writer) flush() error {
	if err := w.flushSeqs(); err != nil {
		return err
	}
	if len(w.order) == 0 {
		return nil
	}
	var rowDel, idxDel, sortDel [][]byte
	var rowPut, handlePut, detPut, idxPut, sortPut, evPut, evIDPut []kv
	var changed []change
	delta := map[string]int64{}
	for _, id := range w.order {
		p := w.pending[id]
		if !p.changed {
			continue
		}
		nr := w.rowOf(p)
		var oldKeys, oldSorts [][]byte
		if p.old != nil {
			if !w.v.bulk {
				oldKeys, oldSorts = p.old.indexKeys(), p.old.sortKeys()
			} else if !w.v.bulkCustomers {
				oldKeys = customerKeys(p.old.indexKeys())
			}
			if p.old.start != nr.start {
				rowDel = append(rowDel, p.old.tkey())
			}
		} else {
			if w.details.Get(p.h) != nil {
				return fmt.Errorf("interaction %s: its handle %x (stream position of its first event) is another's: %w", id, p.h, errCorrupt)
			}
			if !w.v.bulk { // a bulk load counts at its end
				delta[string(countTotal)]++
			}
		}
		if p.old == nil || p.old.start != nr.start {
			handlePut = append(handlePut, kv{[]byte(id), handleValue(p.h, nr.start)})
		}
		if enc := nr.encode(); p.old == nil || p.old.start != nr.start || !bytes.Equal(enc, p.old.encode()) {
			rowPut = append(rowPut, kv{nr.tkey(), enc})
		}
		// Every applied event moves the interaction's change entry, not only those that
		// change its row: an open detail (WaitChange) shows qualifications, messages and
		// SR data that the list does not.
		changed = append(changed, change{id, p.h, p.seq})
		// One buffer for the batch's details: bbolt keeps the slices until commit.
		start := len(w.buf)
		var err error
		if w.buf, err = encodeDetail(w.buf, &p.in, p.customers); err != nil {
			return fmt.Errorf("encode interaction %s: %w", id, err)
		}
		detPut = append(detPut, kv{p.h, w.buf[start:len(w.buf):len(w.buf)]})
		for i := range p.events {
			e := &p.events[i]
			evPut = append(evPut, kv{eventKey(p.h, e.rec.OccurredAt, e.rec.ID), e.encode()})
			evIDPut = append(evIDPut, kv{k: eventIDKey(p.h, e.rec.ID)})
		}
		if w.v.bulk {
			if w.v.bulkCustomers {
				// EndBulk writes every list, the sort indexes and the counts from the
				// rows; a row names only the interaction's last customer, so the lists
				// of the others it carried (a call handed on: rare) are kept as they
				// come: an erasure of one of them must find it.
				var oldCarried [][]byte
				if p.old != nil {
					oldCarried = p.old.carriedKeys()
				}
				diffKeys(oldCarried, nr.carriedKeys(), func(k []byte) { idxDel = append(idxDel, k) },
					func(k []byte) { idxPut = append(idxPut, kv{k: k}) }, nil)
				continue
			}
			// Only the customers' lists, which erasure reads; EndBulk writes the others,
			// the sort indexes and the counts.
			diffKeys(oldKeys, customerKeys(nr.indexKeys()), func(k []byte) { idxDel = append(idxDel, k) },
				func(k []byte) { idxPut = append(idxPut, kv{k: k}) }, nil)
			continue
		}
		// The entries of the lists that drive large lists (the counted ones: agents,
		// queues, direct, campaigns, templates) carry the row's enums and its current
		// agent and queue (postingValue); when those change, the entries that stay are
		// written again. Contacts and customers are a few entries each: they stay empty.
		pv := nr.postingValue()
		revalue := p.old != nil && !p.old.samePosting(&nr)
		diffKeys(oldKeys, nr.indexKeys(), func(k []byte) {
			idxDel = append(idxDel, k)
			countKey(delta, k, -1)
		}, func(k []byte) {
			if counted(k[0]) {
				idxPut = append(idxPut, kv{k, pv})
			} else {
				idxPut = append(idxPut, kv{k: k})
			}
			countKey(delta, k, +1)
		}, func(k []byte) {
			if revalue && counted(k[0]) {
				idxPut = append(idxPut, kv{k, pv})
			}
		})
		// A sort entry's value is the row's screen: written again when it changes.
		var screen []byte // encoded once, when an entry is written
		putSort := func(k []byte) {
			if screen == nil {
				screen = nr.screen()
			}
			sortPut = append(sortPut, kv{k, screen})
		}
		rescreen := p.old != nil && !p.old.sameScreen(&nr)
		diffKeys(oldSorts, nr.sortKeys(), func(k []byte) { sortDel = append(sortDel, k) }, putSort,
			func(k []byte) {
				if rescreen {
					putSort(k)
				}
			})
	}
	clear(w.pending)
	w.order = w.order[:0]
	w.buf = nil // the slices handed to Put must stay as they are until the commit
	if err := deleteSorted(w.rows, rowDel); err != nil {
		return err
	}
	if err := deleteSorted(w.index, idxDel); err != nil {
		return err
	}
	if err := deleteSorted(w.sorts, sortDel); err != nil {
		return err
	}
	for _, s := range []struct {
		b   *bolt.Bucket
		kvs []kv
	}{{w.rows, rowPut}, {w.handles, handlePut}, {w.details, detPut}, {w.index, idxPut}, {w.sorts, sortPut}, {w.events, evPut}, {w.evIDs, evIDPut}} {
		if err := putSorted(s.b, s.kvs); err != nil {
			return err
		}
	}
	if err := w.noteChanges(changed); err != nil {
		return err
	}
	return w.addCounts(delta)
}

// rowOf derives the new row of a pending interaction, reusing the old row's canonical
// phone and email when the contact did not change (parsing a phone number is costly).
func (w *writer) rowOf(p *pendingInteraction) row {
	var r row
	if p.old == nil || p.in.Contact != p.contact {
		r = rowOf(&p.in, w.v.phones.Phone)
	} else {
		r = rowWithCanon(&p.in, p.old.phone, p.old.email)
	}
	r.customers = p.customers
	return r
}

// diffKeys calls del for each key of old not in new, put for each key of new not in old
// and same (unless nil) for each key in both; both are sorted.
func diffKeys(old, new [][]byte, del, put, same func([]byte)) {
	i, j := 0, 0
	for i < len(old) || j < len(new) {
		switch {
		case j == len(new) || (i < len(old) && bytes.Compare(old[i], new[j]) < 0):
			del(old[i])
			i++
		case i == len(old) || bytes.Compare(old[i], new[j]) > 0:
			put(new[j])
			j++
		default:
			if same != nil {
				same(new[j])
			}
			i, j = i+1, j+1
		}
	}
}

// countKey adds d to the count of the posting list k belongs to, when that one is counted.
func countKey(delta map[string]int64, k []byte, d int64) {
	delta[string(countIndex)] += d
	if !counted(k[0]) {
		return
	}
	if sep := bytes.IndexByte(k, 0); sep > 0 {
		delta[string(k[:sep])] += d
	}
}

func (w *writer) addCounts(delta map[string]int64) error {
	for _, k := range slices.Sorted(maps.Keys(delta)) { // sorted: bbolt writes in key order
		if delta[k] == 0 {
			continue
		}
		n := int64(readCount(w.counts, []byte(k))) + delta[k]
		var err error
		if n <= 0 {
			err = w.counts.Delete([]byte(k))
		} else {
			err = w.counts.Put([]byte(k), binary.BigEndian.AppendUint64(nil, uint64(n)))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func readCount(b *bolt.Bucket, k []byte) uint64 {
	if v := b.Get(k); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func putSorted(b *bolt.Bucket, kvs []kv) error {
	slices.SortFunc(kvs, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
	for _, e := range kvs {
		v := e.v
		if v == nil {
			v = []byte{}
		}
		if err := b.Put(e.k, v); err != nil {
			return err
		}
	}
	return nil
}

func deleteSorted(b *bolt.Bucket, keys [][]byte) error {
	slices.SortFunc(keys, bytes.Compare)
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// merge records that from was merged into to: lists and details show the survivor.
// merge records that from was merged into to. merges holds its latest merge, which the
// lists resolve; merged keeps every merge, also those a later merge of the same id
// replaced: an erasure of either customer takes it, as the stream's eraser takes the
// events of every id any merge event merged into the erased one (adapters/erasure). The
// lists by customer read merged for candidates only and check each row's customer as
// resolved, so a replaced merge lists nothing.
func (w *writer) merge(from, to string) error {
	m, r := w.tx.Bucket(bMerges), w.tx.Bucket(bMerged)
	if err := m.Put([]byte(from), []byte(to)); err != nil {
		return err
	}
	return r.Put(pairKey(to, from), []byte{})
}

func pairKey(a, b string) []byte {
	k := make([]byte, 0, len(a)+1+len(b))
	k = append(append(k, a...), 0)
	return append(k, b...)
}

// erase removes the customer's data and that of the customers merged into it: every
// interaction that carried one of them (the customer index holds every customer an
// interaction ever carried), and their merge records. An interaction that also carried
// another customer loses the erased customers' events and is folded again from the
// others' (what a rebuild from the erased stream gives); one that carried only them goes.
func (w *writer) erase(customer string) error {
	if w.v.bulk && w.v.bulkCustomers {
		// A rebuild meets its first erasure: from here on it keeps the lists read below.
		if err := w.putCustomerLists(); err != nil {
			return fmt.Errorf("erase %s: %w", customer, err)
		}
		w.v.bulkCustomers = false
	}
	m, r := w.tx.Bucket(bMerges), w.tx.Bucket(bMerged)
	erased := mergedInto(r, customer)
	set := map[string]bool{}
	for _, c := range erased {
		set[c] = true
	}
	var ids []string
	seen := map[string]bool{}
	for _, c := range erased {
		p := prefix(colCustomer, c)
		cur := w.index.Cursor()
		for k, _ := cur.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = cur.Next() {
			if id := string(k[len(p)+8:]); !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	delta := map[string]int64{}
	for _, id := range ids {
		old, h, err := w.load(id, nil)
		if err != nil {
			return err
		}
		if old == nil {
			continue
		}
		if !slices.ContainsFunc(old.customers, func(c string) bool { return !set[c] }) {
			if err := w.deleteInteraction(id, delta); err != nil {
				return err
			}
			continue
		}
		if err := w.refold(id, old, h, set); err != nil {
			return err
		}
	}
	if err := w.addCounts(delta); err != nil {
		return err
	}
	if err := w.flush(); err != nil {
		return err
	}
	// Every merge that names an erased customer goes, as its event goes from the stream
	// (merged is small: one entry per merge event).
	var gone [][]byte
	cur := r.Cursor()
	for k, _ := cur.First(); k != nil; k, _ = cur.Next() {
		if i := bytes.IndexByte(k, 0); i >= 0 && (set[string(k[:i])] || set[string(k[i+1:])]) {
			gone = append(gone, slices.Clone(k))
		}
	}
	for _, k := range gone {
		if err := r.Delete(k); err != nil {
			return err
		}
	}
	for _, c := range erased {
		if err := m.Delete([]byte(c)); err != nil {
			return err
		}
	}
	return nil
}

// refold drops the events of the erased customers from the interaction id (stored row
// old, handle h) and folds it again from the other events; the next flush writes it.
func (w *writer) refold(id string, old *row, h []byte, erased map[string]bool) error {
	p := &pendingInteraction{old: old, h: h, changed: true, seq: w.seq}
	var gone, goneIDs [][]byte
	pr := h
	c := w.events.Cursor()
	for k, v := c.Seek(pr); k != nil && bytes.HasPrefix(k, pr); k, v = c.Next() {
		e, err := decodeEvent(pr, k, v)
		if err != nil {
			return fmt.Errorf("interaction %s: event: %w", id, err)
		}
		if erased[e.customer] {
			gone = append(gone, slices.Clone(k))
			goneIDs = append(goneIDs, eventIDKey(h, e.rec.ID))
			continue
		}
		ev, err := e.event()
		if err != nil {
			return fmt.Errorf("interaction %s: refold event %s: %w", id, e.rec.ID, err)
		}
		p.in.Apply(ev)
		p.in.Events = stub(p.in.Events)
		p.customers = addSorted(p.customers, e.customer)
	}
	if err := deleteSorted(w.events, gone); err != nil {
		return err
	}
	if err := deleteSorted(w.evIDs, goneIDs); err != nil {
		return err
	}
	if err := w.dropSeqs(id, erased); err != nil {
		return err
	}
	// The stored contact is the erased one's, most likely: derive the row's afresh.
	var stored domain.Interaction
	if _, _, err := w.load(id, &stored); err != nil {
		return err
	}
	p.contact = stored.Contact
	w.pending[id] = p
	w.order = append(w.order, id)
	return nil
}

// deleteInteraction removes one interaction, its row, its events and its posting entries.
func (w *writer) deleteInteraction(id string, delta map[string]int64) error {
	r, h, err := w.load(id, nil)
	if err != nil || r == nil {
		return err
	}
	if err := deleteEvents(w.tx, id, h); err != nil {
		return err
	}
	if err := w.dropChange(id, h); err != nil {
		return err
	}
	for _, k := range r.indexKeys() {
		if err := w.index.Delete(k); err != nil {
			return err
		}
		countKey(delta, k, -1)
	}
	for _, k := range r.sortKeys() {
		if err := w.sorts.Delete(k); err != nil {
			return err
		}
	}
	delta[string(countTotal)]--
	if err := w.rows.Delete(r.tkey()); err != nil {
		return err
	}
	if err := w.handles.Delete([]byte(id)); err != nil {
		return err
	}
	return w.details.Delete(h)
}

// mergedInto returns customer and every customer merged into it, directly or through a
// chain, the reverse of resolve.
func mergedInto(r *bolt.Bucket, customer string) []string {
	out := []string{customer}
	seen := map[string]bool{customer: true}
	for i := 0; i < len(out); i++ {
		p := append([]byte(out[i]), 0)
		c := r.Cursor()
		for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
			from := string(k[len(p):])
			if !seen[from] {
				seen[from] = true
				out = append(out, from)
			}
		}
	}
	return out
}

// maxMergeChain bounds how many merges resolve follows (a cycle stops there).
const maxMergeChain = 32

// resolve follows the merge table from customer to the surviving customer.
func resolve(m *bolt.Bucket, customer string) string {
	for range maxMergeChain {
		to := m.Get([]byte(customer))
		if to == nil {
			break
		}
		customer = string(to)
	}
	return customer
}

// Sweep removes up to max interactions whose start_at is before cutoff, in its own short
// write transaction, and returns how many it removed (0 when none is left).
func (v *View) Sweep(cutoff time.Time, max int) (int, error) {
	if max <= 0 {
		return 0, nil
	}
	removed := 0
	err := v.db.Update(func(tx *bolt.Tx) error {
		w := v.newWriter(tx)
		limit := tsBytes(nil, cutoff)
		var ids []string
		c := w.rows.Cursor()
		for k, _ := c.First(); k != nil && len(ids) < max && bytes.Compare(k[:8], limit) < 0; k, _ = c.Next() {
			ids = append(ids, string(k[8:]))
		}
		delta := map[string]int64{}
		for _, id := range ids {
			if err := w.deleteInteraction(id, delta); err != nil {
				return err
			}
		}
		removed = len(ids)
		return w.addCounts(delta)
	})
	if err != nil {
		return 0, fmt.Errorf("history: sweep before %s: %w", cutoff.Format(time.RFC3339), err)
	}
	return removed, nil
}

// Stats are the view's sizes, for status and benchmarks.
type Stats struct {
	Interactions int64 `json:"interactions"`
	IndexEntries int64 `json:"index_entries"`
	FileBytes    int64 `json:"file_bytes"`
}

// Stats returns the view's sizes (kept as counters: no bucket walk).
func (v *View) Stats() (Stats, error) {
	var s Stats
	err := v.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bCounts)
		if b == nil {
			return nil
		}
		s.Interactions, s.IndexEntries = int64(readCount(b, countTotal)), int64(readCount(b, countIndex))
		return nil
	})
	s.FileBytes = v.db.Size()
	return s, err
}
