package timeline

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/projections"
)

// merge moves everything of customer from under the customer it was merged into, and
// remembers the alias so later events addressed to from land there too.
func (w *writer) merge(from, into string) error {
	to := w.resolve(into)
	if to == from {
		return nil // a merge back into a customer merged into this one: a cycle, ignored
	}
	if w.alias.Get([]byte(from)) == nil {
		if err := w.move(from, to); err != nil {
			return fmt.Errorf("merge %s into %s: %w", from, to, err)
		}
	} else if err := w.merged.Delete(pairKey(string(w.alias.Get([]byte(from))), from)); err != nil {
		return err // merged before: its entries already live elsewhere; only repoint it
	}
	// Aliases that pointed to from now point to to, so that every alias is one hop.
	for _, k := range prefixKeys(w.merged, custPrefix(from)) {
		m := string(k[len(from)+1:])
		if err := w.merged.Delete(k); err != nil {
			return err
		}
		if m == to {
			if err := w.alias.Delete([]byte(m)); err != nil {
				return err
			}
			continue
		}
		if err := w.alias.Put([]byte(m), []byte(to)); err != nil {
			return err
		}
		if err := w.merged.Put(pairKey(to, m), nil); err != nil {
			return err
		}
	}
	if err := w.alias.Put([]byte(from), []byte(to)); err != nil {
		return err
	}
	return w.merged.Put(pairKey(to, from), nil)
}

// move re-files every entry of customer a under customer b.
func (w *writer) move(a, b string) error {
	// Items made by one event each (order, segment, task, card). Interactions move with
	// their records (owned) and notes, files and visits with their refs, below.
	for _, k := range prefixKeys(w.items, custPrefix(a)) {
		p, err := parseItemKey(k)
		if err != nil {
			return err
		}
		if isInteractionByte(p.kb) || hasRef(p.kb) {
			continue
		}
		val := bytes.Clone(w.items.Get(k))
		if err := w.unplace(p); err != nil {
			return err
		}
		p.cust = b
		if err := w.place(p, val); err != nil {
			return err
		}
	}
	for _, k := range prefixKeys(w.refs, custPrefix(a)) {
		kb, id := k[len(a)+1], string(k[len(a)+2:])
		st, _ := parseRefVal(w.refs.Get(k))
		src := pos{cust: a, kb: kb, at: st.At.UnixNano(), key: id}
		val := bytes.Clone(w.items.Get(src.itemKey()))
		if val == nil {
			val = encodeItem(&Item{})
		}
		if err := w.unplace(src); err != nil {
			return err
		}
		if err := w.refs.Delete(k); err != nil {
			return err
		}
		bk := refKey(b, kb, id)
		if old, ok := parseRefVal(w.refs.Get(bk)); ok {
			if !st.After(old) {
				continue // the survivor's own is newer
			}
			if err := w.unplace(pos{cust: b, kb: kb, at: old.At.UnixNano(), key: id}); err != nil {
				return err
			}
		}
		if err := w.refs.Put(bk, refVal(st)); err != nil {
			return err
		}
		src.cust = b
		if err := w.place(src, val); err != nil {
			return err
		}
	}
	for _, k := range prefixKeys(w.owned, custPrefix(a)) {
		id := string(k[len(a)+1:])
		rec, found, err := w.loadInteraction(id)
		if err != nil {
			return err
		}
		if !found {
			if err := w.owned.Delete(k); err != nil {
				return err
			}
			continue
		}
		if err := w.reposition(&rec, true, b); err != nil {
			return err
		}
	}
	for _, k := range prefixKeys(w.tasks, custPrefix(a)) {
		id := string(k[len(a)+1:])
		rec, _, err := w.loadTask(a, id)
		if err != nil {
			return err
		}
		if err := w.unplace(rec.expiryPos(a)); err != nil {
			return err
		}
		if err := w.tasks.Delete(k); err != nil {
			return err
		}
		into, had, err := w.loadTask(b, id)
		if err != nil {
			return err
		}
		if had {
			if err := w.unplace(into.expiryPos(b)); err != nil {
				return err
			}
			into.absorb(rec)
			rec = into
		}
		if err := w.place(rec.expiryPos(b), nil); err != nil {
			return err
		}
		if err := w.saveTask(b, &rec); err != nil {
			return err
		}
	}
	return nil
}

// erase removes every entry of customer c and the aliases that point to it. An id merged
// into another only loses its alias (doc.go, "Merge and erase").
func (w *writer) erase(c string) error {
	if to := w.alias.Get([]byte(c)); to != nil {
		if err := w.merged.Delete(pairKey(string(to), c)); err != nil {
			return err
		}
		return w.alias.Delete([]byte(c))
	}
	erased := map[string]bool{c: true}
	for _, k := range prefixKeys(w.merged, custPrefix(c)) {
		erased[string(k[len(c)+1:])] = true
	}
	if err := w.refoldShared(erased); err != nil {
		return fmt.Errorf("erase %s: %w", c, err)
	}
	for _, k := range prefixKeys(w.items, custPrefix(c)) {
		p, err := parseItemKey(k)
		if err != nil {
			return err
		}
		if err := w.expiry.Delete(p.expiryKey()); err != nil {
			return err
		}
		if err := w.items.Delete(k); err != nil {
			return err
		}
	}
	for _, k := range prefixKeys(w.owned, custPrefix(c)) {
		id := string(k[len(c)+1:])
		if rec, found, err := w.loadInteraction(id); err != nil {
			return err
		} else if found {
			if err := w.expiry.Delete(rec.pos().expiryKey()); err != nil {
				return err
			}
			if err := w.deleteInteraction(id, &rec); err != nil {
				return err
			}
		}
		if err := w.owned.Delete(k); err != nil {
			return err
		}
	}
	for _, k := range prefixKeys(w.tasks, custPrefix(c)) {
		rec, _, err := w.loadTask(c, string(k[len(c)+1:]))
		if err != nil {
			return err
		}
		if err := w.expiry.Delete(rec.expiryPos(c).expiryKey()); err != nil {
			return err
		}
		if err := w.tasks.Delete(k); err != nil {
			return err
		}
	}
	for _, b := range []*bolt.Bucket{w.refs, w.counts} {
		for _, k := range prefixKeys(b, custPrefix(c)) {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
	}
	for _, k := range prefixKeys(w.merged, custPrefix(c)) {
		if err := w.alias.Delete(k[len(c)+1:]); err != nil {
			return err
		}
		if err := w.merged.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// refoldShared folds every interaction that an erased customer carried together with a
// customer not erased again from the others' parts alone (what a rebuild from the erased
// stream gives), and moves its item to where that fold puts it: under the customer of its
// latest remaining event, at its remaining start. Interactions that carried only erased
// customers are left to erase, which removes them with the rest of the customer's.
func (w *writer) refoldShared(erased map[string]bool) error {
	var ids []string
	seen := map[string]bool{}
	for _, c := range slices.Sorted(maps.Keys(erased)) {
		for _, k := range prefixKeys(w.carried, custPrefix(c)) {
			if id := string(k[len(c)+1:]); !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	for _, id := range ids {
		rec, found, err := w.loadInteraction(id)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("interaction %s: carried, but no record: %w", id, projections.ErrCorrupt)
		}
		var kept []part
		for _, p := range rec.Parts {
			if !erased[p.Customer] {
				kept = append(kept, p)
			}
		}
		if len(kept) == 0 {
			continue
		}
		for _, p := range rec.Parts {
			if erased[p.Customer] || len(kept) == 1 { // one left: no longer shared
				if err := w.carried.Delete(pairKey(p.Customer, id)); err != nil {
					return err
				}
			}
		}
		fold := kept[0].Fold.Clone()
		for k := 1; k < len(kept); k++ {
			if err := fold.Merge(&kept[k].Fold); err != nil {
				return fmt.Errorf("interaction %s: %w: %w", id, err, projections.ErrCorrupt)
			}
		}
		rec.Fold, rec.Parts = fold, kept
		if len(kept) == 1 {
			rec.Parts = nil
		}
		owner := w.resolve(fold.CustomerID)
		if err := w.reposition(&rec, true, owner); err != nil {
			return fmt.Errorf("interaction %s: %w", id, err)
		}
		w.refolded = append(w.refolded, owner)
	}
	return nil
}

// Sweep removes up to max entries whose occurred_at is before cutoff, in one write
// transaction, and returns how many it removed: 0 when nothing is left to remove. Task
// records go when their latest event is before cutoff, pending or not (doc.go,
// "Retention").
func (v *View) Sweep(cutoff time.Time, max int) (removed int, err error) {
	if max <= 0 {
		return 0, nil
	}
	limit := cutoff.UnixNano()
	err = v.db.Update(func(tx *bolt.Tx) error {
		w, err := newWriter(tx)
		if err != nil {
			return err
		}
		var expired []pos
		c := w.expiry.Cursor()
		for k, _ := c.First(); k != nil && len(expired) < max; k, _ = c.Next() {
			p, err := parseExpiryKey(k)
			if err != nil {
				return err
			}
			if p.at >= limit {
				break
			}
			expired = append(expired, p)
		}
		customers := map[string]bool{}
		for _, p := range expired {
			if err := w.expire(p); err != nil {
				return fmt.Errorf("sweep %s: %w", p.key, err)
			}
			customers[p.cust] = true
		}
		// A customer with nothing left in the window keeps no change position either,
		// nor do those merged into it.
		gone := map[string]uint64{}
		for _, c := range slices.Sorted(maps.Keys(customers)) {
			if w.holdsNothing(c) {
				gone[c] = 0
				for _, k := range prefixKeys(w.merged, custPrefix(c)) {
					gone[string(k[len(c)+1:])] = 0
				}
			}
		}
		if err := putTouched(tx.Bucket(bTouched), gone); err != nil {
			return err
		}
		removed = len(expired)
		return nil
	})
	return removed, err
}

// holdsNothing reports whether the view holds no item, interaction or task of customer c.
func (w *writer) holdsNothing(c string) bool {
	pr := custPrefix(c)
	for _, b := range []*bolt.Bucket{w.items, w.owned, w.tasks} {
		if k, _ := b.Cursor().Seek(pr); k != nil && bytes.HasPrefix(k, pr) {
			return false
		}
	}
	return true
}

// expire removes the entry at p and what hangs on it.
func (w *writer) expire(p pos) error {
	switch {
	case p.kb == kbTaskState:
		if rec, found, err := w.loadTask(p.cust, p.key); err != nil {
			return err
		} else if found && rec.LastAt.UnixNano() == p.at {
			if err := w.tasks.Delete(pairKey(p.cust, p.key)); err != nil {
				return err
			}
		}
	case isInteractionByte(p.kb):
		if rec, found, err := w.loadInteraction(p.key); err != nil {
			return err
		} else if found && rec.pos() == p {
			if err := w.deleteInteraction(p.key, &rec); err != nil {
				return err
			}
			if err := w.owned.Delete(pairKey(p.cust, p.key)); err != nil {
				return err
			}
		}
	case hasRef(p.kb):
		rk := refKey(p.cust, p.kb, p.key)
		if st, ok := parseRefVal(w.refs.Get(rk)); ok && st.At.UnixNano() == p.at {
			if err := w.refs.Delete(rk); err != nil {
				return err
			}
		}
	}
	return w.unplace(p)
}
