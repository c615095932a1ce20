package timeline

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strings"

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
	r.at = cursor{inv: binary.BigEndian.Uint64(k[len(r.prefix):]), key: string(k[len(r.prefix)+8:]), kb: r.kb}
}

func (r *run) next() { r.set(r.c.Next()) }

// Timeline returns a page of the customer's timeline, newest first: occurred_at desc,
// ties by item key (interaction id, note/file/visit id, or event id) then kind. kinds
// filters (OR); none means all. limit defaults to DefaultLimit and is capped at MaxLimit.
// A cursor that Timeline did not write is ErrBadCursor.
func (v *View) Timeline(customerID string, kinds []Kind, limit int, cur string) (Page, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var after *cursor
	if cur != "" {
		c, err := parseCursor(cur)
		if err != nil {
			return Page{}, err
		}
		after = &c
	}
	kbs, err := kindSet(kinds)
	if err != nil {
		return Page{}, err
	}
	page := Page{Items: []Item{}}
	err = v.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bItems)
		if b == nil {
			return nil
		}
		cust := resolveAlias(tx.Bucket(bAliases), customerID)
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
		var last cursor
		for len(runs) > 0 {
			best := 0
			for i := 1; i < len(runs); i++ {
				if runs[i].at.less(runs[best].at) {
					best = i
				}
			}
			if len(page.Items) == limit {
				page.NextCursor = last.String()
				return nil
			}
			r := runs[best]
			it, err := decodeItem(r.v)
			if err != nil {
				return err
			}
			page.Items = append(page.Items, it)
			last = r.at
			r.next()
			if r.k == nil {
				runs = slices.Delete(runs, best, best+1)
			}
		}
		return nil
	})
	return page, err
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
// timeline holds. A customer id that was merged answers for the survivor.
func (v *View) Card(customerID string) (Card, error) {
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
		if err := eachItem(tx, cust, KindEmail, func(it Item) bool {
			if it.Direction != domain.DirectionOutgoing.String() {
				return true
			}
			card.LastEmail, card.LastEmailOpened = &it, it.OpenedAt != nil
			return false
		}); err != nil {
			return err
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

// Chats returns the Chats tab: the customer's messaging dialogues, newest first.
func (v *View) Chats(customerID string) ([]Chat, error) {
	var out []Chat
	err := v.read(customerID, func(tx *bolt.Tx, cust string) error {
		return eachItem(tx, cust, KindChat, func(it Item) bool {
			status := it.Status
			if status == "" {
				status = "open"
			}
			out = append(out, Chat{InteractionID: it.InteractionID, StartedAt: it.OccurredAt, Status: status,
				MessageCount: it.MessageCount, Channel: it.Flow})
			return true
		})
	})
	return out, err
}

// Visits returns the Visits tab, newest first.
func (v *View) Visits(customerID string) ([]Visit, error) {
	var out []Visit
	err := v.read(customerID, func(tx *bolt.Tx, cust string) error {
		return eachItem(tx, cust, KindVisit, func(it Item) bool {
			out = append(out, Visit{VisitID: it.VisitID, Source: it.Source, Channel: it.Channel,
				DurationS: it.DurationS, Pages: it.Pages, OccurredAt: it.OccurredAt})
			return true
		})
	})
	return out, err
}

// Segments returns the Segments tab: every join and leave, newest first.
func (v *View) Segments(customerID string) ([]SegmentChange, error) {
	var out []SegmentChange
	err := v.read(customerID, func(tx *bolt.Tx, cust string) error {
		return eachItem(tx, cust, KindSegment, func(it Item) bool {
			out = append(out, SegmentChange{SegmentID: it.SegmentID, Name: it.Name, Action: it.Action, OccurredAt: it.OccurredAt})
			return true
		})
	})
	return out, err
}

// Tasks returns the Tasks tab: the customer's tasks as they stand, deleted ones left out,
// newest first (created_at desc, then task id).
func (v *View) Tasks(customerID string) ([]Task, error) {
	var out []Task
	err := v.read(customerID, func(tx *bolt.Tx, cust string) error {
		b := tx.Bucket(bTasks)
		if b == nil {
			return nil
		}
		prefix := custPrefix(cust)
		c := b.Cursor()
		for k, val := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, val = c.Next() {
			r, err := decodeTaskFor(val, false)
			if err != nil {
				return err
			}
			if r.Status == domain.TaskDeleted {
				continue
			}
			out = append(out, r.task(customerID))
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return strings.Compare(out[i].TaskID, out[j].TaskID) < 0
	})
	return out, err
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
