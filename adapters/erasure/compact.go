package erasure

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/projections"
)

// CompactSuffix is appended to a view file's path for its compacted copy, which Swap then
// renames over the view file.
const CompactSuffix = ".compact"

// compactTxBytes bounds one write transaction of a compaction (bbolt keeps a transaction's
// dirty pages in memory).
const compactTxBytes = 64 << 20

// CompactFile copies what db holds, as one read transaction sees it, into a fresh bbolt
// file beside it (db.Path() + CompactSuffix, replaced if it exists), synced and closed,
// and returns its path. Only live keys and values are copied: the pages that deletes
// freed in db, which still hold the deleted bytes (bbolt never overwrites a freed page by
// itself), are not. Buckets, nested buckets and their sequences are kept; pages are
// filled to 100% as bbolt's own Compact does.
//
// It reads through db.View, so projectors and readers go on meanwhile (bbolt.Compact
// needs the source *bolt.DB, which projections.DB keeps to itself; this is the same walk
// over a transaction). Writes committed after the read transaction began are not in the
// copy: swap it in under the view's gate after catching up (see ViewFile).
func CompactFile(ctx context.Context, db *projections.DB) (string, error) {
	path := db.Path() + CompactSuffix
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("erasure: remove stale %s: %w", path, err)
	}
	dst, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoSync: true,
		NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return "", fmt.Errorf("erasure: create %s: %w", path, err)
	}
	fail := func(err error) (string, error) {
		dst.Close()
		os.Remove(path)
		return "", err
	}
	if err := db.View(func(src *bolt.Tx) error { return copyTx(ctx, dst, src) }); err != nil {
		return fail(fmt.Errorf("erasure: compact %s: %w", db.Path(), err))
	}
	if err := dst.Sync(); err != nil {
		return fail(fmt.Errorf("erasure: sync %s: %w", path, err))
	}
	if err := dst.Close(); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("erasure: close %s: %w", path, err)
	}
	return path, nil
}

// copier writes a walk of a source transaction into dst in transactions of at most
// compactTxBytes.
type copier struct {
	ctx  context.Context
	dst  *bolt.DB
	tx   *bolt.Tx
	size int64
	gen  int // incremented on every commit: buckets of an older gen are invalid
}

func copyTx(ctx context.Context, dst *bolt.DB, src *bolt.Tx) (err error) {
	c := &copier{ctx: ctx, dst: dst}
	if c.tx, err = dst.Begin(true); err != nil {
		return err
	}
	defer func() {
		if c.tx != nil {
			_ = c.tx.Rollback()
		}
	}()
	err = src.ForEach(func(name []byte, b *bolt.Bucket) error {
		return c.bucket(b, [][]byte{name})
	})
	if err != nil {
		return err
	}
	err = c.tx.Commit()
	c.tx = nil
	return err
}

// resolve returns the destination bucket at path in the current transaction.
func (c *copier) resolve(path [][]byte) *bolt.Bucket {
	b := c.tx.Bucket(path[0])
	for _, k := range path[1:] {
		b = b.Bucket(k)
	}
	b.FillPercent = 1.0
	return b
}

// rotate commits the current transaction when adding n bytes would pass the bound.
func (c *copier) rotate(n int64) error {
	if c.size+n <= compactTxBytes || c.size == 0 {
		c.size += n
		return nil
	}
	if err := c.ctx.Err(); err != nil {
		return err
	}
	if err := c.tx.Commit(); err != nil {
		c.tx = nil
		return err
	}
	tx, err := c.dst.Begin(true)
	if err != nil {
		c.tx = nil
		return err
	}
	c.tx, c.size = tx, n
	c.gen++
	return nil
}

// bucket creates the bucket at path (its last element is src's name) and copies src
// into it, recursively.
func (c *copier) bucket(src *bolt.Bucket, path [][]byte) error {
	if err := c.rotate(int64(len(path[len(path)-1]))); err != nil {
		return err
	}
	var nb *bolt.Bucket
	var err error
	if len(path) == 1 {
		nb, err = c.tx.CreateBucket(path[0])
	} else {
		nb, err = c.resolve(path[:len(path)-1]).CreateBucket(path[len(path)-1])
	}
	if err != nil {
		return err
	}
	if err := nb.SetSequence(src.Sequence()); err != nil {
		return err
	}
	nb.FillPercent = 1.0
	gen := c.gen
	cur := src.Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if v == nil { // a nested bucket
			if err := c.bucket(src.Bucket(k), append(path[:len(path):len(path)], k)); err != nil {
				return err
			}
			gen = -1 // the recursion may have committed: resolve again
			continue
		}
		if err := c.rotate(int64(len(k) + len(v))); err != nil {
			return err
		}
		if gen != c.gen {
			nb, gen = c.resolve(path), c.gen
		}
		if err := nb.Put(k, v); err != nil {
			return err
		}
	}
	return nil
}

// ViewFile is a View backed by a projections.DB whose projector holds Gate shared around
// every batch (cmd/ledger's viewRunner): Compact swaps the compacted file in while
// holding Gate exclusively, so between two batches.
type ViewFile struct {
	// ViewName names the view in logs and errors. Required.
	ViewName string
	// DB is the view's live file. Required.
	DB *projections.DB
	// Gate is held exclusively for the swap (the projector holds it shared per batch).
	// Required.
	Gate sync.Locker
	// CatchUp, if set, applies the stream after db's checkpoint to db (the projector's
	// view on another file, as an online rebuild's catch-up does). With it, the copy is
	// made while the projector goes on, and only the catch-up and the swap hold Gate.
	// Without it (nil), Gate is held for the whole copy.
	CatchUp func(ctx context.Context, db *projections.DB) error
}

var _ View = (*ViewFile)(nil)

// Name implements View.
func (v *ViewFile) Name() string { return v.ViewName }

// WaitCheckpoint implements View.
func (v *ViewFile) WaitCheckpoint(ctx context.Context, seq uint64) error {
	return v.DB.WaitCheckpoint(ctx, seq)
}

// Compact implements View: CompactFile, then (under Gate) CatchUp and DB.Swap.
func (v *ViewFile) Compact(ctx context.Context) error {
	if v.CatchUp == nil {
		v.Gate.Lock()
		defer v.Gate.Unlock()
		path, err := CompactFile(ctx, v.DB)
		if err != nil {
			return err
		}
		return v.swap(path)
	}
	path, err := CompactFile(ctx, v.DB)
	if err != nil {
		return err
	}
	v.Gate.Lock()
	defer v.Gate.Unlock()
	ndb, err := projections.OpenDB(path, projections.Options{NoSync: true})
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("erasure: open compacted %s: %w", v.ViewName, err)
	}
	if err := v.CatchUp(ctx, ndb); err != nil {
		ndb.Close()
		os.Remove(path)
		return fmt.Errorf("erasure: catch up compacted %s: %w", v.ViewName, err)
	}
	if err := ndb.Sync(); err != nil {
		ndb.Close()
		os.Remove(path)
		return fmt.Errorf("erasure: sync compacted %s: %w", v.ViewName, err)
	}
	if err := ndb.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("erasure: close compacted %s: %w", v.ViewName, err)
	}
	return v.swap(path)
}

func (v *ViewFile) swap(path string) error {
	if err := v.DB.Swap(path); err != nil {
		os.Remove(path)
		return fmt.Errorf("erasure: swap compacted %s: %w", v.ViewName, err)
	}
	// Make the rename durable: the old file, with the erased bytes in its free pages, must
	// not come back after a power loss.
	if d, err := os.Open(filepath.Dir(v.DB.Path())); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
