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
	// The merge as the event says it, before any alias: what an erasure of either
	// customer follows to who else it erases (mergeClosure).
	if err := w.edges.Put(pairKey(into, from), nil); err != nil {
		return err
	}
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
		val, err := movedItem(w.items.Get(k), a)
		if err != nil {
			return err
		}
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
		val, err := movedItem(w.items.Get(src.itemKey()), a)
		if err != nil {
			return err
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
		if err := w.deleteTask(a, &rec); err != nil {
			return err
		}
		into, had, err := w.loadTask(b, id)
		if err != nil {
			return err
		}
		var was time.Time // b's record's place in b's tab
		if had {
			if err := w.unplace(into.expiryPos(b)); err != nil {
				return err
			}
			was = into.orderAt()
			into.absorb(rec)
			rec = into
		}
		if err := w.place(rec.expiryPos(b), nil); err != nil {
			return err
		}
		if err := w.saveTask(b, &rec, was); err != nil {
			return err
		}
	}
	return nil
}

// movedItem returns the stored item val as a merge re-files it from under customer a: it
// came from a unless it already names where it came from.
func movedItem(val []byte, a string) ([]byte, error) {
	var it Item
	if val != nil {
		var err error
		if it, err = decodeItem(val); err != nil {
			return nil, err
		}
	}
	if it.from == "" {
		it.from = a
	}
	return encodeItem(&it), nil
}

// mergeClosure returns c and every customer merged into c, directly or into one merged
// into c, by the merges as their events named them: the customers the stream's eraser
// erases with c (adapters/erasure).
func (w *writer) mergeClosure(c string) map[string]bool {
	out := map[string]bool{c: true}
	queue := []string{c}
	for len(queue) > 0 {
		into := queue[0]
		queue = queue[1:]
		for _, k := range prefixKeys(w.edges, custPrefix(into)) {
			if from := string(k[len(into)+1:]); !out[from] {
				out[from] = true
				queue = append(queue, from)
			}
		}
	}
	return out
}

// forgetMerges removes the merges that name an erased customer on either side, as the
// eraser removes their events, and the aliases of the erased customers.
func (w *writer) forgetMerges(erased map[string]bool) error {
	var gone [][]byte
	c := w.edges.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		i := bytes.IndexByte(k, 0)
		if i >= 0 && (erased[string(k[:i])] || erased[string(k[i+1:])]) {
			gone = append(gone, bytes.Clone(k))
		}
	}
	for _, k := range gone {
		if err := w.edges.Delete(k); err != nil {
			return err
		}
	}
	for _, e := range slices.Sorted(maps.Keys(erased)) {
		if to := w.alias.Get([]byte(e)); to != nil {
			if err := w.merged.Delete(pairKey(string(to), e)); err != nil {
				return err
			}
			if err := w.alias.Delete([]byte(e)); err != nil {
				return err
			}
		}
	}
	return nil
}

// erase removes every entry of customer c and of every customer merged into c, by the
// merges as their events named them (the customers the stream's eraser erases with c),
// and their aliases. An erased customer filed under another (an alias) takes with it
// what its events put under that customer (eraseMerged); one that is not takes all it
// holds (deleteAll). w.erased is set to the customers erased.
func (w *writer) erase(c string) error {
	erased := w.mergeClosure(c)
	var survivors []string // erased customers that are no alias: all they hold goes
	for _, e := range slices.Sorted(maps.Keys(erased)) {
		if w.alias.Get([]byte(e)) == nil {
			survivors = append(survivors, e)
		}
	}
	for _, s := range survivors { // the ids merged into them go with them
		for _, k := range prefixKeys(w.merged, custPrefix(s)) {
			erased[string(k[len(s)+1:])] = true
		}
	}
	w.erased = erased
	if err := w.refoldShared(erased); err != nil {
		return fmt.Errorf("erase %s: %w", c, err)
	}
	// What the erased customers' events put under customers not erased: under those they
	// are merged into now, and under those they were merged into before (a merged id
	// merged again is repointed, and what it had sent stays where it went), wherever
	// those live now.
	owners := map[string]bool{}
	for e := range erased {
		owners[w.resolve(e)] = true
	}
	ec := w.edges.Cursor()
	for k, _ := ec.First(); k != nil; k, _ = ec.Next() {
		if i := bytes.IndexByte(k, 0); i >= 0 && erased[string(k[i+1:])] {
			owners[w.resolve(string(k[:i]))] = true
		}
	}
	for _, owner := range slices.Sorted(maps.Keys(owners)) {
		if erased[owner] {
			continue
		}
		if err := w.eraseMerged(erased, owner); err != nil {
			return fmt.Errorf("erase %s, from under %s: %w", c, owner, err)
		}
	}
	for _, s := range survivors {
		if err := w.deleteAll(s); err != nil {
			return fmt.Errorf("erase %s: %s: %w", c, s, err)
		}
	}
	return w.forgetMerges(erased)
}

// deleteAll removes every entry filed under customer c, and the aliases that point to c.
func (w *writer) deleteAll(c string) error {
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
		if err := w.deleteTask(c, &rec); err != nil {
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

// eraseMerged removes, from under owner, what the events of the erased customers (ids
// merged into owner) put there: the interactions of theirs alone (refoldShared has
// folded those shared with another customer again without them), the items their events
// made, and the task records only
// their events made. A task record that another customer's events also made stays,
// without their names (its state may still be what their last event set); a note, file
// or visit whose latest version was theirs goes whole.
func (w *writer) eraseMerged(erased map[string]bool, owner string) error {
	for _, k := range prefixKeys(w.owned, custPrefix(owner)) {
		id := string(k[len(owner)+1:])
		rec, found, err := w.loadInteraction(id)
		if err != nil {
			return err
		}
		if !found || !erased[rec.Fold.CustomerID] ||
			slices.ContainsFunc(rec.Parts, func(p part) bool { return !erased[p.Customer] }) {
			continue // not theirs alone: refoldShared folded it again
		}
		if err := w.unplace(rec.pos()); err != nil {
			return err
		}
		if err := w.owned.Delete(k); err != nil {
			return err
		}
		if err := w.deleteInteraction(id, &rec); err != nil {
			return err
		}
	}
	for _, k := range prefixKeys(w.items, custPrefix(owner)) {
		p, err := parseItemKey(k)
		if err != nil {
			return err
		}
		if isInteractionByte(p.kb) {
			continue
		}
		it, err := decodeItem(w.items.Get(k))
		if err != nil {
			return err
		}
		if !erased[it.from] {
			continue
		}
		if hasRef(p.kb) {
			if err := w.refs.Delete(refKey(owner, p.kb, p.key)); err != nil {
				return err
			}
		}
		if err := w.unplace(p); err != nil {
			return err
		}
	}
	for _, k := range prefixKeys(w.tasks, custPrefix(owner)) {
		rec, _, err := w.loadTask(owner, string(k[len(owner)+1:]))
		if err != nil {
			return err
		}
		kept := slices.DeleteFunc(slices.Clone(rec.Customers), func(c string) bool { return erased[c] })
		switch {
		case len(kept) == len(rec.Customers):
			continue
		case len(kept) == 0:
			if err := w.unplace(rec.expiryPos(owner)); err != nil {
				return err
			}
			if err := w.deleteTask(owner, &rec); err != nil {
				return err
			}
		default:
			rec.Customers = kept
			maps.DeleteFunc(rec.Seqs, func(c string, _ uint64) bool { return erased[c] })
			if err := w.saveTask(owner, &rec, rec.orderAt()); err != nil { // its times stay
				return err
			}
		}
	}
	w.refolded = append(w.refolded, owner)
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
		// The item stays with its owner while its latest event does: applied when that
		// event came, it was filed where that customer's card was then (a merged id
		// merged again is repointed, and what it had stays).
		owner := rec.Owner
		if fold.CustomerID != rec.Fold.CustomerID {
			owner = w.resolve(fold.CustomerID)
		}
		rec.Fold, rec.Parts = fold, kept
		if len(kept) == 1 {
			rec.Parts = nil
		}
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
			if err := w.deleteTask(p.cust, &rec); err != nil {
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
