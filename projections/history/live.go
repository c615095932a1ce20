package history

import (
	"context"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
)

// The change index of the live list (GET /v1/interactions/live): where each
// interaction's list item last changed, in stream positions. One entry per interaction,
// moved forward whenever an event changes it, so that "what changed after position n" is one
// range read whose length is the number of interactions changed since, however long ago
// n was: a client that reconnects after an hour misses nothing and reads no more than
// what changed. (A bounded window of recent positions would be cheaper to keep but
// would have to refuse an older resume: a dropped connection would miss rows.)
//
// changedat is keyed by the interaction's handle, not its id: it is written for every
// interaction of every batch, and under ids that do not sort by time those writes landed
// on random pages of a tree as large as the number of interactions.
var (
	bChanges   = []byte("changes")   // seq(8) | id -> empty, in position order
	bChangedAt = []byte("changedat") // handle(8) -> seq(8): the entry of changes to move
)

// ChangedAt returns the stream position at which interaction id last changed (an event
// applied to it), and 0 when the view does not hold it (never, or no longer: retention,
// erasure). A page reads it before it renders the interaction, then waits for a later one
// (WaitChange).
func (v *View) ChangedAt(id string) (uint64, error) {
	var at uint64
	err := v.db.View(func(tx *bolt.Tx) error {
		bk, handles := tx.Bucket(bChangedAt), tx.Bucket(bHandles)
		if bk == nil || handles == nil {
			return nil // a file the view has not initialised: nothing recorded
		}
		h, _, err := lookup(handles, id)
		if h == nil || err != nil {
			return err
		}
		if b := bk.Get(h); len(b) == 8 {
			at = binary.BigEndian.Uint64(b)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("history: change position of %s: %w", id, err)
	}
	return at, nil
}

// WaitChange waits until interaction id's change position differs from at (it changed,
// or left the view) and returns the new one; an error when ctx ends first. It reads again
// only when the view's checkpoint moves, so an open detail costs nothing between batches.
func (v *View) WaitChange(ctx context.Context, id string, at uint64) (uint64, error) {
	return v.db.WaitChange(ctx, at, func() (uint64, error) { return v.ChangedAt(id) })
}

// maxChangesRead bounds the entries one Changes call reads (its transaction and its
// answer stay small); the caller calls again from the returned position.
const maxChangesRead = 2000

// Change is an interaction of a live list: its list item as it is now, and the stream
// position at which the item last changed.
type Change struct {
	Seq  uint64
	Item Item
}

// Changes returns the interactions whose list item changed after position after, up to
// the view's checkpoint (read in the same transaction), that match q (its range and
// filters; not its sort or page) and that r may see, in position order, and upto: the
// position up to which every change has been looked at, to pass as after next time.
// more is true when changes past upto remain (it read maxChangesRead entries). It is
// ReadChanges and Match in one call, for a reader on its own (a resume).
func (v *View) Changes(r domain.Reader, q Query, after uint64) (out []Change, upto uint64, more bool, err error) {
	if !r.HistoryAccess {
		cp, err := v.db.Checkpoint()
		return nil, max(cp, after), false, err
	}
	b, err := v.ReadChanges(after)
	if err != nil {
		return nil, after, false, err
	}
	return b.Match(r, q), b.Upto, b.More, nil
}

// ChangeBatch is what changed in the list in positions (After, Upto]: the row of every
// interaction whose entry in the change index lies there, as it is at Upto. It is read
// once and then matched by every open live list (Match), so that a batch of the
// projector costs one read however many lists are open. A batch is immutable and safe
// for concurrent Match calls.
type ChangeBatch struct {
	// After and Upto bound the positions looked at: pass Upto as after next time.
	After, Upto uint64
	// More is true when changes past Upto remain (the read stopped at maxChangesRead
	// entries).
	More bool
	v    *View // its region parses the contacts searched
	rows []changedRow
	// customers maps each stored customer id of rows to its surviving id, resolved in
	// the read's transaction (Match has none).
	customers map[string]string
}

type changedRow struct {
	seq uint64
	row *row
}

// ReadChanges reads the rows that changed after position after, up to the view's
// checkpoint (read in the same transaction), in position order.
func (v *View) ReadChanges(after uint64) (*ChangeBatch, error) {
	b := &ChangeBatch{After: after, Upto: after, v: v, customers: map[string]string{}}
	err := v.db.View(func(tx *bolt.Tx) error {
		cp := projections.ReadCheckpoint(tx)
		if cp <= after {
			return nil
		}
		b.Upto = cp
		rows, handles, merges := tx.Bucket(bRows), tx.Bucket(bHandles), tx.Bucket(bMerges)
		c := tx.Bucket(bChanges).Cursor()
		var last uint64
		for k, _ := c.Seek(binary.BigEndian.AppendUint64(nil, after+1)); k != nil; k, _ = c.Next() {
			seq := binary.BigEndian.Uint64(k[:8])
			if seq > cp {
				break
			}
			// Stop between positions only: the entries of one position (an erasure
			// refolds several interactions at its position) are read together.
			if len(b.rows) >= maxChangesRead && seq != last {
				b.Upto, b.More = last, true
				break
			}
			last = seq
			id := string(k[8:])
			_, start, err := lookup(handles, id)
			if err != nil {
				return err
			}
			if start == nil {
				continue // removed since (erased, swept)
			}
			rw, err := rowAt(rows, start, id)
			if err != nil {
				return err
			}
			if _, ok := b.customers[rw.customer]; !ok {
				b.customers[rw.customer] = resolve(merges, rw.customer)
			}
			b.rows = append(b.rows, changedRow{seq: seq, row: rw})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("history: changes after %d: %w", after, err)
	}
	return b, nil
}

// Match returns the batch's interactions that match q (its range and filters; not its
// sort or page) and that r may see, in position order: the list's own test (plan.match).
func (b *ChangeBatch) Match(r domain.Reader, q Query) []Change {
	if !r.HistoryAccess || len(b.rows) == 0 {
		return nil
	}
	p := b.v.planFor(r, &q, nil)
	p.resolved = b.customers // complete for the batch's rows: the plan only reads it
	var out []Change
	for _, cr := range b.rows {
		if p.match(cr.row) {
			out = append(out, Change{Seq: cr.seq, Item: cr.row.item(p.customer(cr.row.customer))})
		}
	}
	return out
}

func changeKey(seq uint64, id string) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(id)), seq), id...)
}

// noteChanges moves the change entries of the interactions whose row a flush wrote to
// their batch's position.
func (w *writer) noteChanges(changed []change) error {
	if len(changed) == 0 {
		return nil
	}
	at, chg := w.tx.Bucket(bChangedAt), w.tx.Bucket(bChanges)
	at.FillPercent, chg.FillPercent = projections.AppendFill, projections.AppendFill
	var del [][]byte
	put := make([]kv, 0, len(changed))
	atPut := make([]kv, 0, len(changed))
	for _, c := range changed {
		if old := at.Get(c.h); len(old) == 8 {
			if binary.BigEndian.Uint64(old) == c.seq {
				continue
			}
			del = append(del, changeKey(binary.BigEndian.Uint64(old), c.id))
		}
		put = append(put, kv{k: changeKey(c.seq, c.id)})
		atPut = append(atPut, kv{c.h, binary.BigEndian.AppendUint64(nil, c.seq)})
	}
	if err := deleteSorted(chg, del); err != nil {
		return err
	}
	if err := putSorted(chg, put); err != nil {
		return err
	}
	return putSorted(at, atPut)
}

// dropChange removes the change entry of a removed interaction (handle h).
func (w *writer) dropChange(id string, h []byte) error {
	at := w.tx.Bucket(bChangedAt)
	old := at.Get(h)
	if len(old) != 8 {
		return nil
	}
	if err := w.tx.Bucket(bChanges).Delete(changeKey(binary.BigEndian.Uint64(old), id)); err != nil {
		return err
	}
	return at.Delete(h)
}

// change is an interaction (its id and handle) whose row a flush wrote, and the position
// of the batch's last event that touched it.
type change struct {
	id  string
	h   []byte
	seq uint64
}
