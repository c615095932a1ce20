package projections

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

var (
	metaBucket    = []byte("_meta")
	checkpointKey = []byte("checkpoint")
)

// Errors of a view file.
var (
	// ErrClosed is returned by a DB used after Close.
	ErrClosed = errors.New("view database closed")
	// ErrCorrupt: the file cannot be trusted: bbolt refused it, its pages reach past its
	// end (a truncated file), bbolt's consistency check failed, or reading it panicked.
	// Views are disposable: the runner moves such a file aside and rebuilds it.
	ErrCorrupt = errors.New("view file is corrupt")
	// ErrLayoutChanged: a view's Init found a file written in another key layout than its
	// code reads (an earlier version's, or a later one's after a downgrade). The runner
	// replaces it with a rebuild from the stream.
	ErrLayoutChanged = errors.New("view file has another key layout")
)

// checkAtOpenBytes: files up to this size are read whole at open (every bucket, key and
// value: about a second per 500 MiB here); larger ones get the cheap checks only, and any
// corruption met later surfaces as ErrCorrupt from View or Update.
const checkAtOpenBytes = 512 << 20

// guard runs fn, turning a panic into ErrCorrupt: bbolt panics on pages it cannot
// decode, and a page past the end of a truncated file is a memory fault, which
// SetPanicOnFault turns into a panic. bbolt's View and Update roll their transaction back
// on the way out, so no lock stays held.
func guard(path string, fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", ErrCorrupt, path, r)
		}
	}()
	return fn()
}

// DB is one view's bbolt file behind a lock that lets Swap replace the file while readers
// wait a moment rather than fail: reads keep being served from the old file until the
// new one is in place.
type DB struct {
	mu    sync.RWMutex
	db    *bolt.DB
	path  string
	swaps atomic.Uint64 // files swapped in (Generation)

	waitMu  sync.Mutex
	reached uint64        // highest checkpoint committed through this DB
	moved   chan struct{} // closed and replaced when reached moves
}

// Options tune how a view file is opened.
type Options struct {
	// NoSync skips bbolt's fsync per commit. Only for a rebuild into a fresh file, which is
	// synced once at the end (Sync) before it is swapped in; a crash mid-rebuild loses
	// nothing but the rebuild.
	NoSync bool
}

// OpenDB opens (creating) the view file at path and makes sure the meta bucket exists.
func OpenDB(path string, opts Options) (*DB, error) {
	db, err := openBolt(path, opts)
	if err != nil {
		return nil, err
	}
	d := &DB{db: db, path: path, moved: make(chan struct{})}
	if err := db.View(func(tx *bolt.Tx) error { d.reached = ReadCheckpoint(tx); return nil }); err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

// advanced records that the checkpoint reached seq and wakes WaitCheckpoint callers.
func (d *DB) advanced(seq uint64) {
	d.waitMu.Lock()
	defer d.waitMu.Unlock()
	if seq > d.reached {
		d.reached = seq
		close(d.moved)
		d.moved = make(chan struct{})
	}
}

// Moved returns the highest checkpoint committed through this DB and a channel closed
// when it moves past it (or the file is swapped): live readers wait on it after each
// read instead of polling.
func (d *DB) Moved() (uint64, <-chan struct{}) {
	d.waitMu.Lock()
	defer d.waitMu.Unlock()
	return d.reached, d.moved
}

// WaitCheckpoint blocks until the view has applied the stream up to seq, or ctx ends.
// Commands use it to answer only once their own event is visible (read your writes).
func (d *DB) WaitCheckpoint(ctx context.Context, seq uint64) error {
	for {
		d.waitMu.Lock()
		reached, moved := d.reached, d.moved
		d.waitMu.Unlock()
		if reached >= seq {
			return nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return fmt.Errorf("wait for view to reach seq %d (at %d): %w", seq, reached, ctx.Err())
		}
	}
}

// WaitChange waits until read answers something other than at and returns the new
// answer; an error when ctx ends first. read is the view's position of one thing (an
// interaction, a customer's card): it is read again only when the checkpoint moves, so a
// waiting page costs nothing between batches.
func (d *DB) WaitChange(ctx context.Context, at uint64, read func() (uint64, error)) (uint64, error) {
	for {
		// The checkpoint first: a batch committed after this read wakes the wait below.
		cp, err := d.Checkpoint()
		if err != nil {
			return at, err
		}
		now, err := read()
		if err != nil || now != at {
			return now, err
		}
		if err := d.WaitCheckpoint(ctx, cp+1); err != nil {
			return at, err
		}
	}
}

// boltOptions is the one set of options every view file is opened with. Commits do not
// write the freelist (a write per commit saved); closeBolt writes it once, at the close,
// so that the next open reads it instead of rebuilding it. The map freelist keeps frees
// fast in large files.
func boltOptions(opts Options) *bolt.Options {
	return &bolt.Options{Timeout: 2 * time.Second, NoSync: opts.NoSync, NoFreelistSync: true, FreelistType: bolt.FreelistMapType}
}

// closeBolt closes a view file opened with boltOptions after a last, empty commit that
// writes the freelist. Without it bbolt rebuilds the freelist at the next open by walking
// every page of the file (1.3 s for the 1.4 GB history file of 2M envelopes, and linear
// beyond: every start, and the swap that ends every rebuild, paid it). The next live
// commit drops the written freelist again, so a file that a crash leaves is walked at
// open, as it always was.
func closeBolt(path string, db *bolt.DB) error {
	err := guard(path, func() error {
		db.NoFreelistSync = false
		if err := db.Update(func(*bolt.Tx) error { return nil }); err != nil {
			return err
		}
		if db.NoSync {
			return db.Sync()
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("write the freelist of %s: %w", path, err)
	}
	return errors.Join(err, db.Close())
}

func openBolt(path string, opts Options) (db *bolt.DB, err error) {
	if err := checkFile(path); err != nil {
		return nil, err
	}
	err = guard(path, func() error {
		db, err = bolt.Open(path, 0o600, boltOptions(opts))
		return err
	})
	if err != nil {
		return nil, classifyOpenErr(path, err)
	}
	if err := guard(path, func() error {
		return db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists(metaBucket)
			return err
		})
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("init view file %s: %w", path, err)
	}
	return db, nil
}

// classifyOpenErr tells a file bbolt refuses (invalid meta pages, checksum, version:
// corrupt) from a file it cannot have now (locked, not permitted).
func classifyOpenErr(path string, err error) error {
	if errors.Is(err, bolterrors.ErrTimeout) || errors.Is(err, fs.ErrPermission) || errors.Is(err, ErrCorrupt) {
		return fmt.Errorf("open view file %s: %w", path, err)
	}
	return fmt.Errorf("%w: open view file %s: %v", ErrCorrupt, path, err)
}

// checkFile finds corruption before the file is opened for writing. A read-write open
// rebuilds the freelist by walking every page in a goroutine of bbolt's own, where a page
// past the end of a truncated file is a fatal memory fault that nothing can recover; so
// the file is first opened read-only (no such walk) and checked here, under guard: its
// pages must not reach past its end (a power cut, a copy cut short), and, for files up to
// checkAtOpenBytes, every bucket, key and value must be readable.
func checkFile(path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) || err == nil && st.Size() == 0 {
		return nil // a new file
	}
	if err != nil {
		return fmt.Errorf("stat view file: %w", err)
	}
	var ro *bolt.DB
	if err := guard(path, func() (err error) {
		ro, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
		return err
	}); err != nil {
		return classifyOpenErr(path, err)
	}
	defer ro.Close()
	return guard(path, func() error {
		return ro.View(func(tx *bolt.Tx) error {
			if tx.Size() > st.Size() {
				return fmt.Errorf("%w: %s is %d bytes but its pages reach %d (truncated)", ErrCorrupt, path, st.Size(), tx.Size())
			}
			if st.Size() > checkAtOpenBytes {
				return nil
			}
			return tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walkBucket(b) })
		})
	})
}

// walkBucket reads every key and value of b and of its nested buckets.
func walkBucket(b *bolt.Bucket) error {
	var sink byte
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			nb := b.Bucket(k)
			if nb == nil {
				return fmt.Errorf("%w: key %q is neither a value nor a bucket", ErrCorrupt, k)
			}
			if err := walkBucket(nb); err != nil {
				return err
			}
			continue
		}
		if len(v) > 0 {
			sink ^= v[0] ^ v[len(v)-1] // touch the pages (values may span overflow pages)
		}
	}
	_ = sink
	return nil
}

// ResetBucket empties the bucket name of tx, creating it if it is missing: a bulk load
// (BulkLoader) writes afresh, at its end, what it derives.
func ResetBucket(tx *bolt.Tx, name []byte) error {
	if err := tx.DeleteBucket(name); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
		return err
	}
	_, err := tx.CreateBucket(name)
	return err
}

// AppendFill is the FillPercent for buckets whose new keys mostly go to the end (start
// times, stream positions, ids that sort by time: UUIDv7, DESIGN.md). Their pages then
// split full rather than half full (bbolt's default, 0.5, is for random inserts): about
// half the pages to write and to keep (the history file at 73k interactions: 440 → 272
// MiB). A view sets it on such buckets in each write transaction.
const AppendFill = 0.9

// Generation counts the files swapped in: with a transaction's ID (the last write's),
// it names one version of what the DB holds, for caches of what is read from it.
func (d *DB) Generation() uint64 { return d.swaps.Load() }

// Path is the file the DB reads.
func (d *DB) Path() string { return d.path }

// View runs fn in a read-only transaction.
func (d *DB) View(fn func(*bolt.Tx) error) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.db == nil {
		return ErrClosed
	}
	return guard(d.path, func() error { return d.db.View(fn) })
}

// Update runs fn in a read-write transaction.
func (d *DB) Update(fn func(*bolt.Tx) error) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.db == nil {
		return ErrClosed
	}
	return guard(d.path, func() error { return d.db.Update(fn) })
}

// Sync fsyncs the file (after a NoSync rebuild).
func (d *DB) Sync() error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.db == nil {
		return ErrClosed
	}
	return d.db.Sync()
}

// Size is the file's size in bytes.
func (d *DB) Size() int64 {
	st, err := os.Stat(d.path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// Checkpoint returns the last stream sequence applied (0 for a new file).
func (d *DB) Checkpoint() (uint64, error) {
	var seq uint64
	err := d.View(func(tx *bolt.Tx) error {
		seq = ReadCheckpoint(tx)
		return nil
	})
	return seq, err
}

// ReadCheckpoint returns the checkpoint as seen by tx.
func ReadCheckpoint(tx *bolt.Tx) uint64 {
	b := tx.Bucket(metaBucket)
	if b == nil {
		return 0
	}
	v := b.Get(checkpointKey)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

var (
	checkpointTimeKey = []byte("checkpoint_time")
	checkpointFPKey   = []byte("checkpoint_fp")
)

// Fingerprint identifies a stored message: its subject and bytes. A view keeps the
// fingerprint of the message it checkpointed, so that it can tell, after a power cut,
// whether the stream still holds that message at that sequence.
func Fingerprint(m Message) []byte {
	h := sha256.New()
	h.Write([]byte(m.Subject))
	h.Write([]byte{0})
	h.Write(m.Data)
	return h.Sum(nil)[:16]
}

func writeCheckpoint(tx *bolt.Tx, last Message) error {
	b, err := tx.CreateBucketIfNotExists(metaBucket)
	if err != nil {
		return err
	}
	if err := b.Put(checkpointTimeKey, binary.BigEndian.AppendUint64(nil, uint64(last.Published.UnixNano()))); err != nil {
		return err
	}
	if err := b.Put(checkpointFPKey, Fingerprint(last)); err != nil {
		return err
	}
	return b.Put(checkpointKey, binary.BigEndian.AppendUint64(nil, last.Seq))
}

// CheckpointFingerprint returns the checkpoint and the fingerprint of the checkpointed
// message, read together (fp is nil for a file written before fingerprints were kept, or
// a new one).
func (d *DB) CheckpointFingerprint() (seq uint64, fp []byte, err error) {
	err = d.View(func(tx *bolt.Tx) error {
		seq = ReadCheckpoint(tx)
		fp = bytes.Clone(Meta(tx, string(checkpointFPKey)))
		return nil
	})
	return seq, fp, err
}

// CheckpointTime returns the stream timestamp of the last message applied: with the
// stream's last timestamp it tells how far behind, in time, the view is.
func (d *DB) CheckpointTime() (time.Time, error) {
	var t time.Time
	err := d.View(func(tx *bolt.Tx) error {
		if v := Meta(tx, string(checkpointTimeKey)); len(v) == 8 {
			t = time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
		}
		return nil
	})
	return t, err
}

// Meta returns a value of the meta bucket (views keep small facts there: last sweep, ...).
func Meta(tx *bolt.Tx, key string) []byte {
	if b := tx.Bucket(metaBucket); b != nil {
		return b.Get([]byte(key))
	}
	return nil
}

// PutMeta stores a value in the meta bucket.
func PutMeta(tx *bolt.Tx, key string, val []byte) error {
	b, err := tx.CreateBucketIfNotExists(metaBucket)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), val)
}

// Swap replaces the file with the one at newPath (a finished rebuild): it waits for
// in-flight transactions, closes the old file, renames the new one over it and reopens.
// Readers block for the moment of the rename only.
func (d *DB) Swap(newPath string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.db == nil {
		return ErrClosed
	}
	// Closed without its freelist: the file is replaced.
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("close %s for swap: %w", d.path, err)
	}
	d.db = nil
	if err := os.Rename(newPath, d.path); err != nil {
		// Reopen the old file so the view keeps serving.
		db, oerr := openBolt(d.path, Options{})
		if oerr == nil {
			d.db = db
		}
		return errors.Join(fmt.Errorf("swap %s into %s: %w", newPath, d.path, err), oerr)
	}
	db, err := openBolt(d.path, Options{})
	if err != nil {
		return fmt.Errorf("reopen swapped %s: %w", d.path, err)
	}
	d.db = db
	d.swaps.Add(1)
	var cp uint64
	if err := db.View(func(tx *bolt.Tx) error { cp = ReadCheckpoint(tx); return nil }); err != nil {
		return err
	}
	d.waitMu.Lock()
	d.reached = cp
	close(d.moved)
	d.moved = make(chan struct{})
	d.waitMu.Unlock()
	return nil
}

// CompactSuffix is appended to a view file's path for its compacted copy.
const CompactSuffix = ".compact"

// compactTxBytes bounds one write transaction of a compaction (bbolt keeps a
// transaction's dirty pages in memory).
const compactTxBytes = 64 << 20

// compactInto copies what the file holds, as one read transaction sees it, into a fresh
// file beside it with bbolt's own Compact, and returns the new file's path, synced and
// closed. Only live keys and values are copied, not the freed pages that still hold
// deleted bytes. Writes committed after the copy's read transaction began are not in it:
// the caller catches the copy up before swapping it in.
func (d *DB) compactInto(ctx context.Context) (string, error) {
	path := d.path + CompactSuffix
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("remove stale %s: %w", path, err)
	}
	dst, err := bolt.Open(path, 0o600, boltOptions(Options{NoSync: true}))
	if err != nil {
		return "", fmt.Errorf("create %s: %w", path, err)
	}
	fail := func(err error) (string, error) {
		dst.Close()
		os.Remove(path)
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	d.mu.RLock()
	src := d.db
	if src == nil {
		d.mu.RUnlock()
		return fail(ErrClosed)
	}
	err = bolt.Compact(dst, src, compactTxBytes)
	d.mu.RUnlock()
	if err != nil {
		return fail(fmt.Errorf("compact %s: %w", d.path, err))
	}
	if err := closeBolt(path, dst); err != nil { // synced there
		os.Remove(path)
		return "", fmt.Errorf("close %s: %w", path, err)
	}
	return path, nil
}

// discard closes the file without writing its freelist (closeBolt would sync a rebuild's
// gigabytes first) and removes it: a rebuild or a copy thrown away, a file of another
// layout.
func (d *DB) discard() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var err error
	if d.db != nil {
		err = d.db.Close()
		d.db = nil
	}
	if rerr := os.Remove(d.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return err
}

// Close closes the file; later calls return ErrClosed.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.db == nil {
		return nil
	}
	err := closeBolt(d.path, d.db)
	d.db = nil
	return err
}
