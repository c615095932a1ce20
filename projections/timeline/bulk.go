package timeline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
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

// bulkItemBytes bounds the interactions' items (keys and values, about 180 bytes each)
// EndBulk sorts at once: it holds at most half as much again while it reads the records,
// and beyond that reads them again for the next items (a variable for the test).
var bulkItemBytes = 64 << 20

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
// a pass over the records encodes the items whose keys lie above the last one written
// (the smallest, up to bulkItemBytes and at most half as much again: once it has to drop
// some, it keeps no key above those it kept), then writes them sorted. The items are
// encoded in the pass that reads the records: written from their keys, each took a
// lookup of its handle and of its record and a second decode, half of this step's time
// (4 of 8 s of CPU at 2M envelopes).
func writeInteractionItems(update func(fn func(*bolt.Tx) error) error) error {
	var after []byte // the greatest key written so far
	for {
		var items itemEntries
		var upto []byte // once some were left for the next pass: the greatest key kept
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
				if (after != nil && bytes.Compare(k, after) <= 0) || (upto != nil && bytes.Compare(k, upto) > 0) {
					return nil
				}
				kind, _ := kindOfByte(p.kb)
				items.add(k, &rec.Fold, kind)
				if items.size() >= bulkItemBytes+bulkItemBytes/2 {
					items.keepSmallest(bulkItemBytes)
					k, _ := items.entry(items.len() - 1)
					upto = bytes.Clone(k)
				}
				return nil
			})
		})
		if err != nil {
			return fmt.Errorf("timeline: bulk: read interactions: %w", err)
		}
		items.sort()
		if items.len() == 0 {
			return nil
		}
		for i := 0; i < items.len(); i += bulkChunk {
			err := update(func(tx *bolt.Tx) error {
				b := tx.Bucket(bItems)
				for j := i; j < min(i+bulkChunk, items.len()); j++ {
					k, v := items.entry(j)
					if err := b.Put(k, v); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("timeline: bulk: write interactions' items: %w", err)
			}
		}
		if upto == nil {
			return nil
		}
		after = upto
	}
}

// itemEntries holds items, each its key then its value, in one buffer: no allocation per
// item.
type itemEntries struct {
	buf []byte
	// Entry i is buf[ends[i-1].val:ends[i].key] (its key), then up to ends[i].val.
	ends []itemEnd
	// order is the entries' indexes, in key order once sorted.
	order []uint32
}

type itemEnd struct{ key, val uint32 }

// add appends the item of f (of kind) under key k.
func (es *itemEntries) add(k []byte, f *domain.Interaction, kind Kind) {
	es.buf = append(es.buf, k...)
	kend := uint32(len(es.buf))
	es.buf = appendInteractionItem(es.buf, f, kind)
	es.ends = append(es.ends, itemEnd{kend, uint32(len(es.buf))})
	es.order = append(es.order, uint32(len(es.ends)-1))
}

func (es *itemEntries) len() int  { return len(es.order) }
func (es *itemEntries) size() int { return len(es.buf) }

func (es *itemEntries) raw(i uint32) (k, v []byte) {
	var start uint32
	if i > 0 {
		start = es.ends[i-1].val
	}
	e := es.ends[i]
	return es.buf[start:e.key:e.key], es.buf[e.key:e.val:e.val]
}

func (es *itemEntries) rawKey(i uint32) []byte {
	k, _ := es.raw(i)
	return k
}

// entry is the i-th entry in key order (after sort or keepSmallest).
func (es *itemEntries) entry(i int) (k, v []byte) { return es.raw(es.order[i]) }

func (es *itemEntries) sort() {
	slices.SortFunc(es.order, func(a, b uint32) int { return bytes.Compare(es.rawKey(a), es.rawKey(b)) })
}

// keepSmallest sorts the entries and keeps the smallest keys, up to budget bytes (one at
// least), compacting the buffer.
func (es *itemEntries) keepSmallest(budget int) {
	es.sort()
	kept := itemEntries{}
	for _, i := range es.order {
		k, v := es.raw(i)
		if kept.len() > 0 && kept.size()+len(k)+len(v) > budget {
			break
		}
		kept.buf = append(append(kept.buf, k...), v...)
		kept.ends = append(kept.ends, itemEnd{uint32(len(kept.buf) - len(v)), uint32(len(kept.buf))})
		kept.order = append(kept.order, uint32(len(kept.ends)-1))
	}
	*es = kept
}
