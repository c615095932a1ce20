package history

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// A rebuild fills a fresh file (projections.BulkLoader). Most of an event's cost there was
// the posting lists and sort indexes: their keys start with an agent, a queue, a phone
// number or an email, so each insert lands on a random page of a large tree, and replaying
// without them took a third less CPU per event (73k interactions: 48 → 32 µs). While the
// stream is read only the customers' lists are kept (erasure finds an erased customer's
// interactions there); EndBulk then derives the rest from the final rows, which is what a
// live view holds once every event is applied: every key of a row's indexKeys and
// sortKeys, the counted lists' entries valued with the row's postingValue, and the counts.
//
// Memory stays bounded: the rows are read once per group of columns, and the keys of
// one group are sorted and written in transactions of bulkChunk keys (at 2 million
// interactions the largest group, the agents' lists, is about 60 MB of keys).

// bulkGroups are EndBulk's passes over the rows: the columns of the index (or of the sort
// indexes, with sorts set) each writes, about one key per row each.
var bulkGroups = []struct {
	cols  []byte
	sorts bool
}{
	{cols: []byte{colAgent}},
	{cols: []byte{colQueue}},
	{cols: []byte{colDirect, colCampaign, colTemplate, colPhone, colEmail}},
	{cols: []byte{'A'}, sorts: true},
	{cols: []byte{'Q'}, sorts: true},
}

// bulkChunk is how many keys EndBulk writes per transaction (a variable for the test).
var bulkChunk = 200_000

// bulkFill is the fill of pages written in key order into an empty bucket. Not 1.0: the
// live view inserts into these lists at random afterwards, and a full page splits on
// its first insert.
const bulkFill = 0.9

// BeginBulk implements projections.BulkLoader.
func (v *View) BeginBulk() { v.bulk = true }

// EndBulk implements projections.BulkLoader: it writes the posting lists (but the
// customers'), the sort indexes and the counts of every row, and turns bulk mode off.
func (v *View) EndBulk(update func(fn func(*bolt.Tx) error) error) error {
	if !v.bulk {
		return nil
	}
	v.bulk = false
	for _, name := range [][]byte{bSorts, bCounts} {
		err := update(func(tx *bolt.Tx) error {
			if err := tx.DeleteBucket(name); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
				return err
			}
			_, err := tx.CreateBucket(name)
			return err
		})
		if err != nil {
			return fmt.Errorf("history: bulk: reset %s: %w", name, err)
		}
	}
	counts := map[string]uint64{}
	for i, g := range bulkGroups {
		var keys []kv
		err := update(func(tx *bolt.Tx) error {
			return tx.Bucket(bRows).ForEach(func(k, val []byte) error {
				r, err := decodeRow(k, val)
				if err != nil {
					return fmt.Errorf("row %x: %w", k, err)
				}
				if g.sorts {
					for _, sk := range r.sortKeys() {
						if slices.Contains(g.cols, sk[0]) {
							keys = append(keys, kv{k: sk})
						}
					}
					return nil
				}
				var pv []byte
				for _, ik := range r.indexKeys() {
					if i == 0 {
						tally(counts, ik)
					}
					if !slices.Contains(g.cols, ik[0]) {
						continue
					}
					if pv == nil {
						pv = r.postingValue()
					}
					e := kv{k: ik}
					if counted(ik[0]) {
						e.v = pv
					}
					keys = append(keys, e)
				}
				if i == 0 {
					counts[string(countTotal)]++
				}
				return nil
			})
		})
		if err != nil {
			return fmt.Errorf("history: bulk: read rows: %w", err)
		}
		name := bIndex
		if g.sorts {
			name = bSorts
		}
		if err := putChunks(update, name, keys); err != nil {
			return fmt.Errorf("history: bulk: write %s: %w", name, err)
		}
	}
	cs := make([]kv, 0, len(counts))
	for k, n := range counts {
		cs = append(cs, kv{[]byte(k), binary.BigEndian.AppendUint64(nil, n)})
	}
	if err := putChunks(update, bCounts, cs); err != nil {
		return fmt.Errorf("history: bulk: write counts: %w", err)
	}
	return nil
}

// tally counts an index key as countKey does: every entry, and the entries of each
// counted list.
func tally(counts map[string]uint64, k []byte) {
	counts[string(countIndex)]++
	if !counted(k[0]) {
		return
	}
	if sep := bytes.IndexByte(k, 0); sep > 0 {
		counts[string(k[:sep])]++
	}
}

// putChunks writes kvs into the bucket name in key order, bulkChunk per transaction.
func putChunks(update func(fn func(*bolt.Tx) error) error, name []byte, kvs []kv) error {
	slices.SortFunc(kvs, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
	for len(kvs) > 0 {
		n := min(len(kvs), bulkChunk)
		err := update(func(tx *bolt.Tx) error {
			b := tx.Bucket(name)
			b.FillPercent = bulkFill
			for _, e := range kvs[:n] {
				v := e.v
				if v == nil {
					v = []byte{}
				}
				if err := b.Put(e.k, v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		kvs = kvs[n:]
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
