package timeline

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/interaction-ledger/ledger/projections"
)

// A rebuild fills a fresh file (projections.BulkLoader). Two of the buckets a batch writes
// are never read by the fold: counts (each customer's items per kind, which the card
// shows) and touched (each customer's last position, which an open card waits on). Both
// are keyed by customer, and customers are many and random: at 2 million interactions
// nearly every one of their writes dirtied a page of its own. In bulk mode counts are
// derived at the end from the items (a count is the number of items under its customer
// and kind: every place and unplace moves both), and touched is kept in memory and
// written in key order, bulkTouched customers at a time at most.

// bulkTouched bounds the customers whose position a bulk load holds in memory (about
// 100 bytes each) before it writes them (a variable for the test).
var bulkTouched = 500_000

// bulkChunk is how many counts EndBulk writes per transaction (a variable for the test).
var bulkChunk = 200_000

// BeginBulk implements projections.BulkLoader.
func (v *View) BeginBulk() {
	v.bulk = true
	v.touched = map[string]uint64{}
}

// keepTouched is Apply's putTouched in bulk mode: the batch's positions replace the
// customers' earlier ones in memory, written once there are too many.
func (v *View) keepTouched(tx *bolt.Tx, touched map[string]uint64) error {
	maps.Copy(v.touched, touched)
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

// EndBulk implements projections.BulkLoader: it writes the positions still in memory and
// every customer's counts, and turns bulk mode off.
func (v *View) EndBulk(update func(fn func(*bolt.Tx) error) error) error {
	if !v.bulk {
		return nil
	}
	v.bulk = false
	if err := update(v.writeTouched); err != nil {
		return err
	}
	v.touched = nil
	err := update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bCounts); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
			return err
		}
		_, err := tx.CreateBucket(bCounts)
		return err
	})
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
