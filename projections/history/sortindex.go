package history

import (
	"bytes"
	"encoding/binary"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// bSorts holds the sort indexes: col | esc(value) | 0x00 0x01 | tkey -> the row's screen
// (screen.go), one entry per interaction and indexed column, the empty value included.
// Key order is the list's order for that column: (value, start_at, interaction_id).
var bSorts = []byte("sorts")

// sortIndexCols are the sort columns that have a sort index, and their key byte.
// interaction_id needs none: the handles bucket is keyed by id and its values end with
// the start_at. Measured (BenchmarkApply, 2 cores): agent_id and queue_id together cost
// about 10% of Apply; the low-cardinality columns (flow, status, direction, routings,
// reason, campaign, template, end_at) cost 40-60% more (each batch's new entries land in
// the middle of the bucket, one value's range after another), so those sorts keep the
// bounded-heap path. contact and customer_id: near-unique values would make every new
// interaction a random insert, and customer_id sorts by the surviving customer, which a
// merge changes without touching the rows.
var sortIndexCols = map[string]byte{"agent_id": 'A', "queue_id": 'Q'}

// sortIndexList is sortIndexCols as a list, in key order.
var sortIndexList = func() []sortIndexCol {
	var out []sortIndexCol
	for name, col := range sortIndexCols {
		out = append(out, sortIndexCol{name, col})
	}
	slices.SortFunc(out, func(a, b sortIndexCol) int { return int(a.col) - int(b.col) })
	return out
}()

type sortIndexCol struct {
	name string
	col  byte
}

// appendEsc appends v so that byte order of the results is byte order of the values,
// whatever bytes v holds: 0x00 is written 0x00 0xFF and the end is 0x00 0x01.
func appendEsc(dst, v []byte) []byte {
	for {
		i := bytes.IndexByte(v, 0)
		if i < 0 {
			break
		}
		dst = append(append(dst, v[:i]...), 0, 0xFF)
		v = v[i+1:]
	}
	return append(append(dst, v...), 0, 1)
}

// sortValueBytes is the indexed form of a sort value: the string, or for end_at the
// number in 8 bytes that sort like it.
func sortValueBytes(col byte, sv string, iv int64) []byte {
	if col == 'E' {
		return binary.BigEndian.AppendUint64(nil, uint64(iv)^(1<<63))
	}
	return []byte(sv)
}

// sortKey is one sort index entry.
func sortKey(col byte, val []byte, tk []byte) []byte {
	k := make([]byte, 0, 1+len(val)+2+len(tk))
	k = append(k, col)
	k = appendEsc(k, val)
	return append(k, tk...)
}

// splitSortKey returns the key's col | esc(value) | terminator and its tkey.
func splitSortKey(k []byte) (pv, tk []byte, ok bool) {
	for i := 1; i+1 < len(k); {
		j := bytes.IndexByte(k[i:len(k)-1], 0)
		if j < 0 {
			return nil, nil, false
		}
		i += j
		if k[i+1] == 1 {
			return k[:i+2], k[i+2:], true
		}
		i += 2
	}
	return nil, nil, false
}

// sortKeys returns every sort index entry of the row, sorted.
func (r *row) sortKeys() [][]byte {
	tk := r.tkey()
	keys := make([][]byte, 0, len(sortIndexList))
	for _, c := range sortIndexList {
		sv, iv := sortValue(c.name, r, nil)
		keys = append(keys, sortKey(c.col, sortValueBytes(c.col, sv, iv), tk))
	}
	slices.SortFunc(keys, bytes.Compare)
	return keys
}

// Plan choices, for tests that check every path against brute force.
const (
	planAuto = iota
	planHeap // posting lists or time index, then a bounded heap
	planWalk // the sort index (or handles, for interaction_id) in sort order
)

// useSortIndex decides, for a sort on another column than start_at, between reading
// every candidate of the best source (cost: its candidates in range) and walking the
// column's sort index in sort order until the page is full (cost: about limit+1 divided
// by the share of rows that match, each a row lookup). The share is estimated from the
// counts, the time range against the data's span, and the enum filters, assumed
// independent.
func (v *View) useSortIndex(tx *bolt.Tx, p *plan, col string, srcs []source, best *source, total uint64) bool {
	if _, ok := sortIndexCols[col]; !ok && col != "interaction_id" {
		return false
	}
	switch v.plan {
	case planHeap:
		return false
	case planWalk:
		return true
	}
	if total == 0 || best == nil {
		return false
	}
	if len(best.prefixes) > 0 || len(best.tkeys) > 0 {
		return false // contacts and ids: a few candidates
	}
	// Share of the rows in the time range.
	c := tx.Bucket(bRows).Cursor()
	fk, _ := c.First()
	lk, _ := c.Last()
	if fk == nil || lk == nil {
		return false
	}
	first, last := tsNanos(fk), tsNanos(lk)+1
	from, to := first, last
	if !p.q.From.IsZero() {
		from = max(from, p.q.From.UnixNano())
	}
	if !p.q.To.IsZero() {
		to = min(to, p.q.To.UnixNano())
	}
	if to <= from {
		return false
	}
	tf := float64(to-from) / float64(last-first)
	n := float64(total) * min(1, tf)
	cands := n
	if best.estimate < total {
		cands = float64(best.estimate) * min(1, tf)
		if (col == "agent_id" || col == "queue_id") && len(best.exact) == 1 {
			// One posting list read in order gives the sort value with each entry
			// (listSorted's pre): most candidates cost no row lookup. A union of many lists
			// (a manager's agents and queues) costs its merge per candidate: no discount.
			cands *= 0.15
		}
	} else {
		cands *= 0.4 // the time index is read in order: cheaper per row than lookups
	}
	share := 1.0
	for _, s := range srcs {
		share *= min(1, float64(s.estimate)/float64(total))
	}
	q := p.q
	frac := func(k, of int) float64 { return min(1, float64(max(k, 1))/float64(of)) }
	if len(q.Flow) > 0 {
		share *= frac(len(q.Flow), 8)
	}
	if len(q.Status) > 0 {
		share *= frac(len(q.Status), 5)
	}
	if len(q.Direction) > 0 {
		share *= frac(len(q.Direction), 2)
	}
	if len(q.OriginalRouting) > 0 {
		share *= frac(len(q.OriginalRouting), 2)
	}
	if len(q.CurrentRouting) > 0 {
		share *= frac(len(q.CurrentRouting), 2)
	}
	limit := float64(q.limit() + 1)
	walk := n
	if n*share >= limit {
		walk = limit / share
	}
	return walk < cands
}

// listBySortIndex walks the sort column's index (handles for interaction_id) in sort
// order from the cursor, checks each entry in the time range against the query and the
// reader, and stops when the page is full.
func (v *View) listBySortIndex(tx *bolt.Tx, p *plan, col string, cur *cursor) (Page, error) {
	rows := tx.Bucket(bRows)
	limit := p.q.limit()
	var page Page
	var last row
	var rv rowView      // candidates are checked without copies; the page's rows are cloned
	var sc screened     // and screened in place first
	rc := rows.Cursor() // one cursor for every lookup: Get makes one per call
	emit := func(tk, screen []byte) (bool, error) {
		if sc.read(screen) && !p.admits(&sc) {
			return true, nil
		}
		k, val := rc.Seek(tk)
		if val == nil || !bytes.Equal(k, tk) {
			return true, nil
		}
		r, err := rv.decode(tk, val)
		if err != nil {
			return false, err
		}
		if !p.match(r) {
			return true, nil
		}
		if len(page.Items) == limit {
			sv, iv := sortValue(col, &last, p)
			page.NextCursor = cursor{hash: p.q.hash(), sval: sv, ival: iv, start: last.start, id: last.id}.encode()
			return false, nil
		}
		last = r.clone()
		page.Items = append(page.Items, last.item(p.customer(last.customer)))
		return true, nil
	}
	var err error
	if col == "interaction_id" {
		err = walkHandles(tx.Bucket(bHandles), p, cur, emit)
	} else {
		err = walkSortIndex(tx.Bucket(bSorts), sortIndexCols[col], p, cur, emit)
	}
	return page, err
}

// walkSortIndex calls emit with the tkey and the screen (the value) of every entry of
// column col within [p.lo, p.hi), in key order (reverse if desc), after the cursor,
// until emit returns false. The entries of one value outside the time range are skipped
// with a Seek.
func walkSortIndex(b *bolt.Bucket, col byte, p *plan, cur *cursor, emit func(tk, screen []byte) (bool, error)) error {
	lo, hi, desc := p.lo, p.hi, p.q.Desc
	c := b.Cursor()
	colPrefix := []byte{col}
	var k, v []byte
	// The start: just after (or before, desc) the cursor's entry, or the column's end.
	switch {
	case cur != nil:
		ck := sortKey(col, sortValueBytes(col, cur.sval, cur.ival), tkeyNanos(cur.start, cur.id))
		k, v = c.Seek(ck)
		if desc {
			k, v = prevOf(c, k)
		} else if k != nil && bytes.Equal(k, ck) {
			k, v = c.Next()
		}
	case desc:
		k, _ = c.Seek([]byte{col + 1})
		k, v = prevOf(c, k)
	default:
		k, v = c.Seek(colPrefix)
	}
	for k != nil && k[0] == col {
		pv, tk, ok := splitSortKey(k)
		if !ok {
			return errCorrupt
		}
		switch {
		case desc && bytes.Compare(tk, hi) >= 0:
			k, _ = c.Seek(append(slices.Clip(pv), hi...))
			k, v = prevOf(c, k)
		case desc && bytes.Compare(tk, lo) < 0:
			k, _ = c.Seek(pv)
			k, v = prevOf(c, k)
		case !desc && bytes.Compare(tk, lo) < 0:
			k, v = c.Seek(append(slices.Clip(pv), lo...))
		case !desc && bytes.Compare(tk, hi) >= 0:
			next := slices.Clone(pv)
			next[len(next)-1]++ // col | esc(value) | 0x00 0x02: past every key of the value
			k, v = c.Seek(next)
		default:
			if ok, err := emit(tk, v); !ok || err != nil {
				return err
			}
			if desc {
				k, v = c.Prev()
			} else {
				k, v = c.Next()
			}
		}
	}
	return nil
}

// prevOf returns the entry before the cursor's position after a Seek that returned k
// (the last one when the Seek ran off the end).
func prevOf(c *bolt.Cursor, k []byte) ([]byte, []byte) {
	if k == nil {
		return c.Last()
	}
	return c.Prev()
}

// walkHandles walks the handles bucket in id order: its values end with the start_at, so
// the tkey and the time range need no other read.
func walkHandles(b *bolt.Bucket, p *plan, cur *cursor, emit func(tk, screen []byte) (bool, error)) error {
	c := b.Cursor()
	var k, val []byte
	switch {
	case cur != nil:
		ck := []byte(cur.sval)
		k, val = c.Seek(ck)
		if p.q.Desc {
			if k == nil {
				k, val = c.Last()
			} else {
				k, val = c.Prev()
			}
		} else if k != nil && bytes.Equal(k, ck) {
			k, val = c.Next()
		}
	case p.q.Desc:
		k, val = c.Last()
	default:
		k, val = c.First()
	}
	tk := make([]byte, 0, 64)
	for ; k != nil; k, val = step(c, p.q.Desc) {
		if len(val) != 16 {
			return errCorrupt
		}
		tk = append(append(tk[:0], val[8:]...), k...)
		if bytes.Compare(tk, p.lo) < 0 || bytes.Compare(tk, p.hi) >= 0 {
			continue
		}
		if ok, err := emit(tk, nil); !ok || err != nil {
			return err
		}
	}
	return nil
}

func step(c *bolt.Cursor, desc bool) ([]byte, []byte) {
	if desc {
		return c.Prev()
	}
	return c.Next()
}
