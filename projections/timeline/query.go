package timeline

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
)

// Page sizes: callers validate; out-of-range values are brought back within.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// cursor is the position of the last row of a page: (inverted time, item key, kind).
type cursor struct {
	inv uint64
	key string
	kb  byte
}

func (c cursor) String() string {
	b := binary.BigEndian.AppendUint64(nil, c.inv)
	b = append(b, c.kb)
	b = append(b, c.key...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseCursor(s string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 9 {
		return cursor{}, fmt.Errorf("%w: %q", ErrBadCursor, clip(s))
	}
	c := cursor{inv: binary.BigEndian.Uint64(b[:8]), kb: b[8], key: string(b[9:])}
	if _, ok := kindOfByte(c.kb); !ok {
		return cursor{}, fmt.Errorf("%w: %q", ErrBadCursor, clip(s))
	}
	return c, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// less orders rows: newest first, then by item key, then by kind.
func (c cursor) less(o cursor) bool {
	if c.inv != o.inv {
		return c.inv < o.inv
	}
	if c.key != o.key {
		return c.key < o.key
	}
	return c.kb < o.kb
}

// run walks one (customer, kind) run of the items bucket, newest first.
type run struct {
	c      *bolt.Cursor
	prefix []byte
	kb     byte
	k, v   []byte
	at     cursor
}

func (r *run) set(k, v []byte) {
	if k == nil || !bytes.HasPrefix(k, r.prefix) || len(k) < len(r.prefix)+8 {
		r.k, r.v = nil, nil
		return
	}
	r.k, r.v = k, v
	// The key's bytes are the read transaction's page, as the string's (inPlace): a scan
	// passes hundreds of rows it does not return, and the cursor of one it returns is
	// written out before the transaction ends.
	r.at = cursor{inv: binary.BigEndian.Uint64(k[len(r.prefix):]), key: inPlace(k[len(r.prefix)+8:]), kb: r.kb}
}

func (r *run) next() { r.set(r.c.Next()) }

// Visible tells whether the reader may see an interaction, from what the access rules
// look at in it: the HTTP layer passes the reader's domain.Reader.CanSee, the one
// implementation of the rule, which the history's list and detail apply to their own
// fold of the same events. A nil Visible admits every interaction (the ledger's own
// readers, tests). The Visibility it is given, strings included, is valid during the
// call only: it points into the view's read transaction (itemVisibility).
type Visible func(domain.Visibility) bool

// judge reads the visibility stored in interaction items and asks see about it. It keeps
// its slices from item to item: a reader who sees few of a busy customer's interactions
// has hundreds judged per page.
type judge struct {
	see Visible
	vis domain.Visibility
}

func newJudge(see Visible) *judge {
	if see == nil {
		return nil
	}
	return &judge{see: see}
}

// admits reports whether the item of kind byte kb whose stored value is raw may be
// shown: every item that is not an interaction, and the interactions see admits.
func (j *judge) admits(kb byte, raw []byte) (bool, error) {
	if j == nil || !isInteractionByte(kb) {
		return true, nil
	}
	if err := itemVisibility(raw, &j.vis); err != nil {
		return false, err
	}
	return j.see(j.vis), nil
}

// Query is one read of the timeline.
type Query struct {
	Kinds   []Kind  // OR; none means all
	Limit   int     // default DefaultLimit, capped at MaxLimit
	Cursor  string  // a Page.NextCursor of the same customer and kinds; "" for the first page
	Visible Visible // which interactions the reader may see; nil: all
}

// Timeline returns a page of the customer's timeline with every interaction shown: Read
// with no visibility filter.
func (v *View) Timeline(customerID string, kinds []Kind, limit int, cur string) (Page, error) {
	return v.Read(customerID, Query{Kinds: kinds, Limit: limit, Cursor: cur})
}

// Read returns a page of the customer's timeline, newest first: occurred_at desc, ties
// by item key (interaction id, note/file/visit id, or event id) then kind. Interactions
// that q.Visible refuses are skipped while scanning, so a page is full whenever enough
// visible items remain, and NextCursor is set only when one does. A cursor that Read did
// not write is ErrBadCursor.
func (v *View) Read(customerID string, q Query) (Page, error) {
	kbs, err := kindSet(q.Kinds)
	if err != nil {
		return Page{}, err
	}
	items, next, err := v.scan(customerID, kbs, q.Limit, q.Cursor, q.Visible)
	return Page{Items: items, NextCursor: next}, err
}

// hit is a row read from a run: where it sits and its stored value, which points into
// the read transaction's page. The value is decoded only once the row is admitted: a
// reader who sees few of the customer's interactions skips many rows, and an
// interaction's item holds what the visibility check needs at its start.
type hit struct {
	raw []byte
	at  cursor
}

// scan reads the customer's items of the kinds kbs, newest first, after the cursor cur:
// up to limit items that see admits, and the cursor of the last one when another
// admitted item follows ("" otherwise).
func (v *View) scan(customerID string, kbs []byte, limit int, cur string, see Visible) ([]Item, string, error) {
	limit = pageLimit(limit)
	var after *cursor
	if cur != "" {
		c, err := parseCursor(cur)
		if err != nil {
			return nil, "", err
		}
		after = &c
	}
	out := make([]hit, 0, min(limit+1, 64))
	var items []Item
	next := ""
	err := v.read(customerID, func(tx *bolt.Tx, cust string) error {
		b := tx.Bucket(bItems)
		if b == nil {
			return nil
		}
		runs := make([]*run, 0, len(kbs))
		for _, kb := range kbs {
			r := &run{c: b.Cursor(), prefix: runPrefix(cust, kb), kb: kb}
			seek := r.prefix
			if after != nil {
				seek = binary.BigEndian.AppendUint64(bytes.Clone(r.prefix), after.inv)
				seek = append(seek, after.key...)
			}
			r.set(r.c.Seek(seek))
			for r.k != nil && after != nil && !after.less(r.at) {
				r.next()
			}
			if r.k != nil {
				runs = append(runs, r)
			}
		}
		// One more admitted row than the page tells whether a next page exists.
		j := newJudge(see)
		for len(out) <= limit && len(runs) > 0 {
			best := 0
			for i := 1; i < len(runs); i++ {
				if runs[i].at.less(runs[best].at) {
					best = i
				}
			}
			r := runs[best]
			ok, err := j.admits(r.kb, r.v)
			if err != nil {
				return fmt.Errorf("item %q: %w", r.k, err)
			}
			if ok {
				out = append(out, hit{raw: r.v, at: r.at})
			}
			r.next()
			if r.k == nil {
				runs = slices.Delete(runs, best, best+1)
			}
		}
		if len(out) > limit {
			next = out[limit-1].at.String()
			out = out[:limit]
		}
		// The page's values copied into one buffer that its items' strings point into,
		// and their times into one slice: a few allocations instead of one per string
		// and time of every item.
		size := 0
		for _, h := range out {
			size += len(h.raw)
		}
		arena := make([]byte, 0, size)
		times := make([]time.Time, 0, 2*len(out)) // an end, an open: most items have one
		items = make([]Item, len(out))
		for i, h := range out {
			arena = append(arena, h.raw...)
			it, err := decodeKeptItem(arena[len(arena)-len(h.raw):], &times)
			if err != nil {
				return err
			}
			items[i] = it
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return items, next, nil
}

func pageLimit(limit int) int {
	if limit <= 0 {
		return DefaultLimit
	}
	return min(limit, MaxLimit)
}

// kindSet returns the key bytes of the kinds asked for (all when none), without repeats.
func kindSet(kinds []Kind) ([]byte, error) {
	if len(kinds) == 0 {
		kinds = Kinds()
	}
	out := make([]byte, 0, len(kinds))
	for _, k := range kinds {
		kb, ok := kindBytes[k]
		if !ok {
			return nil, &KindError{Value: string(k)}
		}
		if !slices.Contains(out, kb) {
			out = append(out, kb)
		}
	}
	return out, nil
}

// eachItem calls fn with the customer's items of one kind, newest first, until fn
// returns false.
func eachItem(tx *bolt.Tx, cust string, kind Kind, fn func(Item) bool) error {
	b := tx.Bucket(bItems)
	if b == nil {
		return nil
	}
	prefix := runPrefix(cust, kindBytes[kind])
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		it, err := decodeItem(v)
		if err != nil {
			return err
		}
		if !fn(it) {
			return nil
		}
	}
	return nil
}

// read runs fn in a read transaction with the customer id resolved through merges.
func (v *View) read(customerID string, fn func(tx *bolt.Tx, cust string) error) error {
	return v.db.View(func(tx *bolt.Tx) error {
		cust := customerID
		if b := tx.Bucket(bAliases); b != nil {
			cust = resolveAlias(b, customerID)
		}
		return fn(tx, cust)
	})
}

// Card returns the card's summary: the last email sent to the customer and whether they
// opened it, the customers merged into this one, and how many items of each kind the
// timeline holds. Interactions that see refuses are neither counted nor the last email.
// A customer id that was merged answers for the survivor.
func (v *View) Card(customerID string, see Visible) (Card, error) {
	card := Card{CustomerID: customerID, Counts: make(map[string]int, len(kindBytes))}
	err := v.read(customerID, func(tx *bolt.Tx, cust string) error {
		card.CustomerID = cust
		for _, k := range Kinds() {
			card.Counts[string(k)] = 0
			if b := tx.Bucket(bCounts); b != nil {
				if n := b.Get(countKey(cust, kindBytes[k])); len(n) == 8 {
					card.Counts[string(k)] = int(binary.BigEndian.Uint64(n))
				}
			}
		}
		var emails [][]byte // with see: the visible emails' item keys, newest first
		if see != nil {
			for _, k := range []Kind{KindCall, KindEmail, KindSMS, KindChat} {
				keys, err := visibleKeys(tx, cust, kindBytes[k], see)
				if err != nil {
					return err
				}
				card.Counts[string(k)] = len(keys)
				if k == KindEmail {
					emails = keys
				}
			}
		}
		last := func(it Item) bool {
			if it.Direction != domain.DirectionOutgoing.String() {
				return true
			}
			card.LastEmail, card.LastEmailOpened = &it, it.OpenedAt != nil
			return false
		}
		if see == nil {
			if err := eachItem(tx, cust, KindEmail, last); err != nil {
				return err
			}
		}
		for _, k := range emails {
			it, err := decodeItem(tx.Bucket(bItems).Get(k))
			if err != nil {
				return err
			}
			if !last(it) {
				break
			}
		}
		if b := tx.Bucket(bMerged); b != nil {
			for _, k := range prefixKeys(b, custPrefix(cust)) {
				card.MergedFrom = append(card.MergedFrom, string(k[len(cust)+1:]))
			}
		}
		return nil
	})
	return card, err
}

// visibleKeys returns the item keys of the customer's interactions of one kind that see
// admits, newest first.
func visibleKeys(tx *bolt.Tx, cust string, kb byte, see Visible) ([][]byte, error) {
	b := tx.Bucket(bItems)
	if b == nil {
		return nil, nil
	}
	prefix := runPrefix(cust, kb)
	var keys [][]byte
	j := newJudge(see)
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		ok, err := j.admits(kb, v)
		if err != nil {
			return nil, fmt.Errorf("item %q: %w", k, err)
		}
		if ok {
			keys = append(keys, bytes.Clone(k))
		}
	}
	return keys, nil
}

// TabPage is one page of a card's tab; NextCursor is empty on the last page.
type TabPage[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// tab reads one kind's run as a tab page, each item turned into the tab's row by row.
func tab[T any](v *View, customerID string, kind Kind, limit int, cur string, see Visible, row func(Item) T) (TabPage[T], error) {
	items, next, err := v.scan(customerID, []byte{kindBytes[kind]}, limit, cur, see)
	if err != nil {
		return TabPage[T]{}, err
	}
	page := TabPage[T]{Items: make([]T, len(items)), NextCursor: next}
	for i, it := range items {
		page.Items[i] = row(it)
	}
	return page, nil
}

// Chats returns a page of the Chats tab: the customer's messaging dialogues that see
// admits, newest first, paged like the timeline.
func (v *View) Chats(customerID string, limit int, cur string, see Visible) (TabPage[Chat], error) {
	return tab(v, customerID, KindChat, limit, cur, see, func(it Item) Chat {
		status := it.Status
		if status == "" {
			status = "open"
		}
		return Chat{InteractionID: it.InteractionID, StartedAt: it.OccurredAt, Status: status,
			MessageCount: it.MessageCount, Channel: it.Flow}
	})
}

// Visits returns a page of the Visits tab, newest first.
func (v *View) Visits(customerID string, limit int, cur string) (TabPage[Visit], error) {
	return tab(v, customerID, KindVisit, limit, cur, nil, func(it Item) Visit {
		return Visit{VisitID: it.VisitID, Source: it.Source, Channel: it.Channel,
			DurationS: it.DurationS, Pages: it.Pages, OccurredAt: it.OccurredAt}
	})
}

// Segments returns a page of the Segments tab: every join and leave, newest first.
func (v *View) Segments(customerID string, limit int, cur string) (TabPage[SegmentChange], error) {
	return tab(v, customerID, KindSegment, limit, cur, nil, func(it Item) SegmentChange {
		return SegmentChange{SegmentID: it.SegmentID, Name: it.Name, Action: it.Action, OccurredAt: it.OccurredAt}
	})
}

// Tasks returns a page of the Tasks tab: the customer's tasks as they stand, deleted
// ones left out, newest first (created_at desc, then task id). The cursor is the
// (created_at, task id) of the page's last task, in the timeline's cursor encoding.
func (v *View) Tasks(customerID string, limit int, cur string) (TabPage[Task], error) {
	limit = pageLimit(limit)
	var after *cursor
	if cur != "" {
		c, err := parseCursor(cur)
		if err != nil {
			return TabPage[Task]{}, err
		}
		if c.kb != kindBytes[KindTask] {
			return TabPage[Task]{}, fmt.Errorf("%w: not a tasks cursor", ErrBadCursor)
		}
		after = &c
	}
	at := func(t Task) cursor {
		return cursor{inv: ^uint64(t.CreatedAt.UnixNano()), key: t.TaskID, kb: kindBytes[KindTask]}
	}
	page := TabPage[Task]{Items: make([]Task, 0, min(limit, 64))}
	err := v.read(customerID, func(tx *bolt.Tx, cust string) error {
		b, order := tx.Bucket(bTasks), tx.Bucket(bTaskOrder)
		if b == nil || order == nil {
			return nil
		}
		prefix := custPrefix(cust)
		start := prefix
		if after != nil {
			start = binary.BigEndian.AppendUint64(slices.Clip(prefix), after.inv)
			start = append(start, after.key...)
		}
		c := order.Cursor()
		k, _ := c.Seek(start)
		if after != nil && bytes.Equal(k, start) {
			k, _ = c.Next() // the cursor's own row, on the page before
		}
		key := slices.Clip(prefix)
		// The records are copied into one arena that the rows' strings point into (a
		// full one is replaced; the strings into it stay valid), their due dates into
		// one slice (decodeTaskRow).
		arena := make([]byte, 0, 256*min(limit, 64))
		var times []time.Time
		for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if len(k) < len(prefix)+8 {
				return fmt.Errorf("malformed task order key %q", k)
			}
			key = append(key[:len(prefix)], k[len(prefix)+8:]...)
			val := b.Get(key)
			if val == nil {
				return fmt.Errorf("task order key %q names no task", k)
			}
			if len(arena)+len(val) > cap(arena) {
				arena = make([]byte, 0, max(2*cap(arena), len(val)))
			}
			arena = append(arena, val...)
			t, st, err := decodeTaskRow(dec{b: arena[len(arena)-len(val):], kept: true, times: &times}, customerID)
			if err != nil {
				return err
			}
			if st == domain.TaskDeleted {
				continue
			}
			if len(page.Items) == limit {
				page.NextCursor = at(page.Items[limit-1]).String()
				return nil
			}
			page.Items = append(page.Items, t)
		}
		return nil
	})
	if err != nil {
		return TabPage[Task]{}, err
	}
	return page, nil
}

// Task returns one task's state for a command: domain.TaskAbsent when the customer has no
// such task, domain.TaskDeleted (with the task) once deleted. t.LastSeq is the sequence of
// the task's last event on the keyed subject of (customerID as given, taskID): the
// expected last subject sequence of the command's append.
func (v *View) Task(customerID, taskID string) (state domain.TaskState, t Task, err error) {
	state = domain.TaskAbsent
	err = v.read(customerID, func(tx *bolt.Tx, cust string) error {
		b := tx.Bucket(bTasks)
		if b == nil {
			return nil
		}
		val := b.Get(pairKey(cust, taskID))
		if val == nil {
			return nil
		}
		r, err := decodeTaskFor(val, false)
		if err != nil {
			return err
		}
		state, t = r.Status, r.task(customerID)
		return nil
	})
	return state, t, err
}
