package timeline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/projections"
)

// A rebuild fills a fresh file (projections.BulkLoader). Some of what a batch writes is
// keyed by customer, and customers are many and random: at 2 million interactions nearly
// every such write dirtied a page of its own. In bulk mode the fold writes none of it
// that it does not read again:
//
//   - an interaction's item (rewritten each time its events arrive) is a function of its
//     record (encodeInteractionItem of the record's position), so EndBulk writes the items of
//     the final records, in key order, bulkItems keys per pass over the records;
//   - counts (each customer's items per kind, which the card shows) are the number of
//     items under their customer and kind (every place and unplace moves both), so
//     EndBulk counts them once the items are all there;
//   - touched (each customer's last position, which an open card waits on) is kept in
//     memory and written in key order, bulkTouched customers at a time at most.
//
// The fold still writes what it reads: records, owners (merges and erasures find a
// customer's interactions there), refs, tasks and the other kinds' items.

// bulkTouched bounds the customers whose position a bulk load holds in memory (about
// 100 bytes each) before it writes them (a variable for the test).
var bulkTouched = 500_000

// bulkChunk is how many items or counts EndBulk writes per transaction (a variable for
// the test).
var bulkChunk = 200_000

// bulkItems bounds the interactions' item keys EndBulk sorts at once (about 70 bytes
// each); beyond it, it reads the records again for the next keys (a variable for the
// test).
var bulkItems = 1_000_000

// BeginBulk implements projections.BulkLoader.
func (v *View) BeginBulk() {
	v.bulk = true
	v.touched = map[string]uint64{}
}

// keepTouched is Apply's putTouched in bulk mode: the batch's positions replace the
// customers' earlier ones in memory, written once there are too many.
func (v *View) keepTouched(tx *bolt.Tx, touched map[string]uint64) error {
	for c, seq := range touched {
		// c points into its event's whole envelope (domain.DecodeStored): kept for the
		// rest of the rebuild, it kept that envelope alive, one per customer (tens of
		// MB at 2M envelopes, which the collector marked again and again). An overwrite
		// of a map's string key stores the new key, so every one is copied.
		v.touched[strings.Clone(c)] = seq
	}
	if len(v.touched) < bulkTouched {
		return nil
	}
	return v.writeTouched(tx)
}

func (v *View) writeTouched(tx *bolt.Tx) error {
	if err := putTouched(tx.Bucket(bTouched), v.touched); err != nil {
		return fmt.Errorf("timeline: bulk: write positions: %w", err)
	}
	clear(v.touched)
	return nil
}

// EndBulk implements projections.BulkLoader: it writes the positions still in memory,
// the interactions' items and every customer's counts, and turns bulk mode off.
func (v *View) EndBulk(update func(fn func(*bolt.Tx) error) error) error {
	if !v.bulk {
		return nil
	}
	v.bulk = false
	if err := update(v.writeTouched); err != nil {
		return err
	}
	v.touched = nil
	if err := writeInteractionItems(update); err != nil {
		return err
	}
	err := update(func(tx *bolt.Tx) error { return projections.ResetBucket(tx, bCounts) })
	if err != nil {
		return fmt.Errorf("timeline: bulk: reset counts: %w", err)
	}
	// The items are read in key order, so the counts come out in key order: each
	// transaction counts on from where the last one stopped and appends what it counted.
	var from []byte
	for done := false; !done; {
		err := update(func(tx *bolt.Tx) error {
			counts := tx.Bucket(bCounts)
			counts.FillPercent = projections.AppendFill // not 1.0: the live view inserts later
			c := tx.Bucket(bItems).Cursor()
			k, _ := c.First()
			if from != nil {
				k, _ = c.Seek(from)
			}
			for n := 0; ; n++ {
				if k == nil {
					done = true
					return nil
				}
				sep := bytes.IndexByte(k, 0)
				if sep < 0 || len(k) < sep+2 {
					return fmt.Errorf("item key %x: no customer and kind", k)
				}
				run := k[:sep+2] // customer \x00 kind: the count's key
				if n == bulkChunk {
					from = bytes.Clone(run)
					return nil
				}
				var items uint64
				for ; k != nil && bytes.HasPrefix(k, run); k, _ = c.Next() {
					items++
				}
				if err := counts.Put(bytes.Clone(run), binary.BigEndian.AppendUint64(nil, items)); err != nil {
					return err
				}
			}
		})
		if err != nil {
			return fmt.Errorf("timeline: bulk: count items: %w", err)
		}
	}
	return nil
}

// writeInteractionItems writes the item of every listed interaction record, in key order:
// a pass over the records collects the keys above the last one written (the bulkItems
// smallest), then each is written from its record.
func writeInteractionItems(update func(fn func(*bolt.Tx) error) error) error {
	var after []byte // the greatest key written so far
	for {
		var keys itemKeys
		more := false
		err := update(func(tx *bolt.Tx) error {
			return tx.Bucket(bInteractions).ForEach(func(h, v []byte) error {
				rec, err := decodeInteraction(v)
				if err != nil {
					return fmt.Errorf("interaction at handle %x: %w", h, err)
				}
				p := rec.pos()
				if !p.listed() {
					return nil
				}
				k := p.itemKey()
				if after != nil && bytes.Compare(k, after) <= 0 {
					return nil
				}
				keys.add(k)
				if keys.len() >= bulkItems+bulkItems/2 {
					keys.keepSmallest(bulkItems)
					more = true
				}
				return nil
			})
		})
		if err != nil {
			return fmt.Errorf("timeline: bulk: read interactions: %w", err)
		}
		keys.keepSmallest(bulkItems)
		if more = more || keys.len() == bulkItems; keys.len() == 0 {
			return nil
		}
		for i := 0; i < keys.len(); i += bulkChunk {
			err := update(func(tx *bolt.Tx) error {
				items, inters, handles := tx.Bucket(bItems), tx.Bucket(bInteractions), tx.Bucket(bHandles)
				for j := i; j < min(i+bulkChunk, keys.len()); j++ {
					k := keys.key(j)
					p, err := parseItemKey(k)
					if err != nil {
						return err
					}
					h := handles.Get([]byte(p.key))
					if h == nil {
						return fmt.Errorf("interaction %s: no handle: %w", p.key, projections.ErrCorrupt)
					}
					rec, err := decodeInteraction(inters.Get(h))
					if err != nil {
						return fmt.Errorf("interaction %s: %w", p.key, err)
					}
					kind, _ := kindOfByte(p.kb)
					if err := items.Put(k, encodeInteractionItem(&rec.Fold, kind)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("timeline: bulk: write interactions' items: %w", err)
			}
		}
		if !more {
			return nil
		}
		after = bytes.Clone(keys.key(keys.len() - 1))
	}
}

// itemKeys holds keys in one buffer: no allocation per key.
type itemKeys struct {
	buf  []byte
	ends []uint32 // key i is buf[ends[i-1]:ends[i]]
	// order is the keys' indexes, sorted by keepSmallest.
	order []uint32
}

func (ks *itemKeys) add(k []byte) {
	ks.buf = append(ks.buf, k...)
	ks.ends = append(ks.ends, uint32(len(ks.buf)))
	ks.order = append(ks.order, uint32(len(ks.ends)-1))
}

func (ks *itemKeys) len() int { return len(ks.order) }

func (ks *itemKeys) raw(i uint32) []byte {
	var start uint32
	if i > 0 {
		start = ks.ends[i-1]
	}
	return ks.buf[start:ks.ends[i]:ks.ends[i]]
}

// key is the i-th key in sorted order (after keepSmallest).
func (ks *itemKeys) key(i int) []byte { return ks.raw(ks.order[i]) }

// keepSmallest sorts the keys and keeps the n smallest, compacting the buffer.
func (ks *itemKeys) keepSmallest(n int) {
	slices.SortFunc(ks.order, func(a, b uint32) int { return bytes.Compare(ks.raw(a), ks.raw(b)) })
	if len(ks.order) <= n && len(ks.order) == len(ks.ends) {
		return
	}
	kept := itemKeys{}
	for _, i := range ks.order[:min(n, len(ks.order))] {
		kept.add(ks.raw(i))
	}
	*ks = kept
}
