package projections

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestCloseWritesTheFreelist: a view file closed cleanly holds its freelist, so the next
// open reads it rather than walking every page, and it is the freelist a walk finds; the
// first live commit drops it again, so that a file a crash leaves is walked as before.
func TestCloseWritesTheFreelist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "view.db")
	db, err := OpenDB(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	put := func(db *DB, from, to int) {
		t.Helper()
		if err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			for i := from; i < to; i++ {
				if err := b.Put(fmt.Appendf(nil, "k%06d", i), make([]byte, 200)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	put(db, 0, 20000)
	if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("b")) }); err != nil {
		t.Fatal(err) // frees about a thousand pages
	}
	put(db, 0, 1) // the next write transaction releases them (pending until then)
	if synced := freelistWritten(t, path); synced {
		t.Fatal("a live commit wrote the freelist (NoFreelistSync is off)")
	}
	free := db.db.Stats().FreePageN
	if free < 500 {
		t.Fatalf("%d free pages: the test frees too little", free)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if !freelistWritten(t, path) {
		t.Fatal("Close left no freelist: the next open walks the whole file")
	}

	db, err = OpenDB(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The freelist written at close takes a few of the free pages itself.
	if got := db.db.Stats().FreePageN; got > free || got < free-8 {
		t.Fatalf("reopened with %d free pages, closed with %d", got, free)
	}
	put(db, 0, 5000)
	if freelistWritten(t, path) {
		t.Fatal("the freelist written at close outlived a live commit: a crash now would open with a stale one")
	}
	// As a crash leaves it: a copy of the open file, walked at open.
	crashed := filepath.Join(t.TempDir(), "crashed.db")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crashed, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	walked, err := OpenDB(crashed, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer walked.Close()
	pages := func(db *DB) int { st := db.db.Stats(); return st.FreePageN + st.PendingPageN }
	if got, want := pages(walked), pages(db); got != want {
		t.Fatalf("walked at open: %d free pages, the live file has %d", got, want)
	}
}

// freelistWritten reads the current meta page of the bbolt file at path (the one of the
// higher transaction id of the two): whether it names a freelist page.
func freelistWritten(t *testing.T, path string) bool {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A page: 16 bytes of header, then the meta: magic, version, page size, flags (4
	// bytes each), the root bucket (16), freelist, pgid, txid (8 each).
	const meta = 16
	pageSize := int(binary.LittleEndian.Uint32(raw[meta+8:]))
	var freelist, txid uint64
	for _, at := range []int{0, pageSize} {
		m := raw[at+meta:]
		if tx := binary.LittleEndian.Uint64(m[48:]); tx >= txid {
			txid, freelist = tx, binary.LittleEndian.Uint64(m[32:])
		}
	}
	return freelist != ^uint64(0)
}
