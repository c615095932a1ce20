package history

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/projections"
)

// A rebuild fills a fresh file (projections.BulkLoader). Most of an event's cost there was
// the posting lists and sort indexes: their keys start with an agent, a queue, a phone
// number or an email, so each insert lands on a random page of a large tree, and replaying
// without them took a third less CPU per event (73k interactions: 48 → 32 µs). While the
// stream is read none of them is written; EndBulk then derives them from the final rows,
// which is what a live view holds once every event is applied: every key of a row's
// indexKeys and sortKeys, the counted lists' entries valued with the row's postingValue,
// and the counts. The customers' lists are the one thing the fold reads (erasure finds an
// erased customer's interactions there): a row names only an interaction's last
// customer, so the entries of the others it carried (rare) are kept as the events come;
// the first erasure of a rebuild writes the rows' own from the rows so far, and from then
// on all of them are kept as the events come. Deferring them too
// matters as the data grows: customers are many and random, so at 2 million interactions
// nearly every new entry dirtied a page of its own.
//
// Memory stays bounded: the rows are read once per group of columns, and the keys of
// one group are sorted and written in transactions of bulkChunk keys (at 2 million
// interactions the largest group, the agents' lists, is about 60 MB of keys).

// bulkGroup is one of EndBulk's passes over the rows: the columns of the index (or of the
// sort indexes, with sorts set) it writes, about one key per row each.
type bulkGroup struct {
	cols  []byte
	sorts bool
}

// bulkGroups are EndBulk's passes, but the customers' lists' (when they were deferred).
var bulkGroups = []bulkGroup{
	{cols: []byte{colAgent}},
	{cols: []byte{colQueue}},
	{cols: []byte{colDirect, colCampaign, colTemplate, colPhone, colEmail}},
	{cols: []byte{'A'}, sorts: true},
	{cols: []byte{'Q'}, sorts: true},
}

// bulkChunk is how many keys EndBulk writes per transaction (a variable for the test).
var bulkChunk = 200_000

// BeginBulk implements projections.BulkLoader.
func (v *View) BeginBulk() { v.bulk, v.bulkCustomers = true, true }

// EndBulk implements projections.BulkLoader: it writes the posting lists (the customers'
// unless an erasure wrote them already), the sort indexes and the counts of every row,
// and turns bulk mode off.
func (v *View) EndBulk(update func(fn func(*bolt.Tx) error) error) error {
	if !v.bulk {
		return nil
	}
	deferred := v.bulkCustomers // no erasure wrote the customers' lists
	v.bulk, v.bulkCustomers = false, false
	groups := bulkGroups
	if deferred {
		groups = append(slices.Clip(groups), bulkGroup{cols: []byte{colCustomer}})
	}
	for _, name := range [][]byte{bSorts, bCounts} {
		err := update(func(tx *bolt.Tx) error { return projections.ResetBucket(tx, name) })
		if err != nil {
			return fmt.Errorf("history: bulk: reset %s: %w", name, err)
		}
	}
	var counts bulkKeys // col|value -> count, and the totals
	var rows, entries uint64
	for i, g := range groups {
		var keys bulkKeys
		// A write transaction that writes nothing: the rowView's pages stay as they are.
		err := update(func(tx *bolt.Tx) error {
			var rv rowView
			var tk []byte
			err := tx.Bucket(bRows).ForEach(func(k, val []byte) error {
				r, err := rv.decode(k, val)
				if err != nil {
					return fmt.Errorf("row %x: %w", k, err)
				}
				if i == 0 {
					rows++
				}
				tk = appendTkey(tk[:0], r.start, r.id)
				if g.sorts {
					var screen []byte // once per row
					for _, sk := range r.sortKeys() {
						if slices.Contains(g.cols, sk[0]) {
							if screen == nil {
								screen = r.screen()
							}
							keys.add(sk, screen)
						}
					}
					return nil
				}
				var pv []byte // the counted lists' value, once per row
				r.indexEntries(func(col byte, v string) {
					if !slices.Contains(g.cols, col) {
						return
					}
					var val []byte
					if counted(col) {
						if pv == nil {
							pv = r.postingValue()
						}
						val = pv
					}
					keys.addEntry(col, v, tk, val)
				})
				return nil
			})
			if err != nil || i != 0 {
				return err
			}
			// The customers' lists were written as the events came, or (deferred) the
			// entries of the customers the rows do not name: count them.
			c := tx.Bucket(bIndex).Cursor()
			for k, _ := c.Seek([]byte{colCustomer}); k != nil && k[0] == colCustomer; k, _ = c.Next() {
				entries++
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("history: bulk: read rows: %w", err)
		}
		keys.sort()
		name := bIndex
		if g.sorts {
			name = bSorts
		} else {
			entries += uint64(len(keys.ents))
			keys.countLists(&counts)
		}
		if err := keys.put(update, name); err != nil {
			return fmt.Errorf("history: bulk: write %s: %w", name, err)
		}
	}
	counts.add(countTotal, binary.BigEndian.AppendUint64(nil, rows))
	counts.add(countIndex, binary.BigEndian.AppendUint64(nil, entries))
	counts.sort()
	if err := counts.put(update, bCounts); err != nil {
		return fmt.Errorf("history: bulk: write counts: %w", err)
	}
	return nil
}

// bulkKeys holds one pass's entries in one buffer: no allocation per entry, and in memory
// about the bytes of the entries themselves.
type bulkKeys struct {
	buf  []byte
	ents []bulkEntry
}

type bulkEntry struct{ off, klen, vlen uint32 }

// add appends an entry of key k and value v.
func (b *bulkKeys) add(k, v []byte) {
	off := len(b.buf)
	b.buf = append(b.buf, k...)
	klen := len(b.buf) - off
	b.buf = append(b.buf, v...)
	b.ents = append(b.ents, bulkEntry{uint32(off), uint32(klen), uint32(len(v))})
}

// addEntry appends the posting entry col | value | 0x00 | tk with value val.
func (b *bulkKeys) addEntry(col byte, value string, tk, val []byte) {
	off := len(b.buf)
	b.buf = append(append(append(append(b.buf, col), value...), 0), tk...)
	klen := len(b.buf) - off
	b.buf = append(b.buf, val...)
	b.ents = append(b.ents, bulkEntry{uint32(off), uint32(klen), uint32(len(val))})
}

func (b *bulkKeys) key(e bulkEntry) []byte { return b.buf[e.off : e.off+e.klen] }

func (b *bulkKeys) val(e bulkEntry) []byte {
	return b.buf[e.off+e.klen : e.off+e.klen+e.vlen : e.off+e.klen+e.vlen]
}

// sort orders the entries by key and drops repeated keys (a row lists a value once).
func (b *bulkKeys) sort() {
	slices.SortFunc(b.ents, func(x, y bulkEntry) int { return bytes.Compare(b.key(x), b.key(y)) })
	b.ents = slices.CompactFunc(b.ents, func(x, y bulkEntry) bool { return bytes.Equal(b.key(x), b.key(y)) })
}

// countLists adds to counts, for each counted list among the sorted entries, its number of
// entries, under the list's col | value (what addCounts keeps).
func (b *bulkKeys) countLists(counts *bulkKeys) {
	var list []byte
	var n uint64
	emit := func() {
		if n > 0 {
			counts.add(list, binary.BigEndian.AppendUint64(nil, n))
		}
	}
	for _, e := range b.ents {
		k := b.key(e)
		if !counted(k[0]) {
			continue
		}
		l := k[:bytes.IndexByte(k, 0)]
		if !bytes.Equal(l, list) {
			emit()
			list, n = l, 0
		}
		n++
	}
	emit()
}

// put writes the sorted entries into the bucket name, bulkChunk per transaction. The
// slices handed to bbolt point into b.buf, which stays as it is until the commits.
func (b *bulkKeys) put(update func(fn func(*bolt.Tx) error) error, name []byte) error {
	for ents := b.ents; len(ents) > 0; {
		n := min(len(ents), bulkChunk)
		err := update(func(tx *bolt.Tx) error {
			bk := tx.Bucket(name)
			bk.FillPercent = projections.AppendFill // not 1.0: the live view inserts into these lists later
			for _, e := range ents[:n] {
				if err := bk.Put(b.key(e), b.val(e)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		ents = ents[n:]
	}
	return nil
}

// putCustomerLists writes the entries of every row's own customer in the customers'
// posting lists (bulk mode, where they were deferred; those of the other customers an
// interaction carried are written as they come), sorted.
func (w *writer) putCustomerLists() error {
	var keys bulkKeys
	var rv rowView
	var tk []byte
	err := w.rows.ForEach(func(k, val []byte) error {
		r, err := rv.decode(k, val)
		if err != nil {
			return fmt.Errorf("row %x: %w", k, err)
		}
		tk = appendTkey(tk[:0], r.start, r.id)
		r.indexEntries(func(col byte, v string) {
			if col == colCustomer {
				keys.addEntry(col, v, tk, nil)
			}
		})
		return nil
	})
	if err != nil {
		return fmt.Errorf("customers' lists: %w", err)
	}
	keys.sort()
	for _, e := range keys.ents {
		if err := w.index.Put(keys.key(e), keys.val(e)); err != nil {
			return fmt.Errorf("customers' lists: %w", err)
		}
	}
	return nil
}

// customerKeys returns the customers' posting keys of keys (sorted, as indexKeys gives
// them): what a bulk load writes as it goes.
func customerKeys(keys [][]byte) [][]byte {
	out := keys[:0]
	for _, k := range keys {
		if k[0] == colCustomer {
			out = append(out, k)
		}
	}
	return out
}
