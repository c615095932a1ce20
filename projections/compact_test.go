package projections

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestCompactInto: the copy (bbolt.Compact) holds every bucket, nested bucket, sequence and value, and
// none of the bytes of deleted values that the source still holds in its free pages.
func TestCompactInto(t *testing.T) {
	path := filepath.Join(t.TempDir(), "view.db")
	db, err := OpenDB(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	secret := []byte("deleted-secret-value")
	big := bytes.Repeat([]byte("k"), 3000) // values over a page, and over several copy transactions' worth of keys
	err = db.Update(func(tx *bolt.Tx) error {
		a, err := tx.CreateBucketIfNotExists([]byte("a"))
		if err != nil {
			return err
		}
		if err := a.SetSequence(42); err != nil {
			return err
		}
		nested, err := a.CreateBucket([]byte("nested"))
		if err != nil {
			return err
		}
		if err := nested.SetSequence(7); err != nil {
			return err
		}
		for i := range 5000 {
			k := fmt.Appendf(nil, "key-%05d", i)
			if err := a.Put(k, append(k, big[:i%3000]...)); err != nil {
				return err
			}
			if err := nested.Put(k, k); err != nil {
				return err
			}
			if i%10 == 0 {
				if err := a.Put(fmt.Appendf(nil, "gone-%05d", i), secret); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		a := tx.Bucket([]byte("a"))
		for i := 0; i < 5000; i += 10 {
			if err := a.Delete(fmt.Appendf(nil, "gone-%05d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); !bytes.Contains(b, secret) {
		t.Fatal("the source holds no deleted bytes in its free pages: the test proves nothing")
	}

	out, err := db.compactInto(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); bytes.Contains(b, secret) {
		t.Error("the compacted file holds deleted bytes")
	}
	want := dump(t, db.View)
	cdb, err := OpenDB(out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := dump(t, cdb.View)
	cdb.Close()
	if got != want {
		t.Errorf("compacted content differs: got %d bytes of dump, want %d", len(got), len(want))
	}
	if err := db.Swap(out); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); bytes.Contains(b, secret) {
		t.Error("the swapped-in view file holds deleted bytes")
	}
}

// dump renders every bucket (with its sequence) and key of a database.
func dump(t *testing.T, view func(func(*bolt.Tx) error) error) string {
	t.Helper()
	var buf bytes.Buffer
	var walk func(b *bolt.Bucket, depth int)
	walk = func(b *bolt.Bucket, depth int) {
		fmt.Fprintf(&buf, "%d seq=%d\n", depth, b.Sequence())
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v == nil {
				fmt.Fprintf(&buf, "%d bucket %q\n", depth, k)
				walk(b.Bucket(k), depth+1)
				continue
			}
			fmt.Fprintf(&buf, "%d %q=%q\n", depth, k, v)
		}
	}
	if err := view(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			fmt.Fprintf(&buf, "root %q\n", name)
			walk(b, 1)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}
