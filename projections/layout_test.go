package projections

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestInitLayout: a file with content in another layout (none recorded, an earlier or a
// later version) is ErrLayoutChanged; one of this layout, or without content, is taken as
// it is and records this version.
func TestInitLayout(t *testing.T) {
	data := []byte("data")
	for _, tc := range []struct {
		name    string
		version uint64 // recorded; 0: none
		content bool
		want    error
	}{
		{"new file", 0, false, nil},
		{"no version, content", 0, true, ErrLayoutChanged},
		{"earlier version, content", 1, true, ErrLayoutChanged},
		{"later version, content", 3, true, ErrLayoutChanged},
		{"this version, content", 2, true, nil},
		{"earlier version, no content", 1, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := bolt.Open(filepath.Join(t.TempDir(), "v.db"), 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			err = db.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket(data)
				if err != nil {
					return err
				}
				if tc.content {
					if err := b.Put([]byte("k"), []byte("v")); err != nil {
						return err
					}
				}
				if tc.version != 0 {
					lb, err := tx.CreateBucket(LayoutBucket)
					if err != nil {
						return err
					}
					return lb.Put(layoutKey, binary.BigEndian.AppendUint64(nil, tc.version))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(tx *bolt.Tx) error { return InitLayout(tx, 2, data) })
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("InitLayout: %v, want %v", err, tc.want)
			}
			if err != nil {
				return
			}
			db.View(func(tx *bolt.Tx) error {
				if v := tx.Bucket(LayoutBucket).Get(layoutKey); len(v) != 8 || binary.BigEndian.Uint64(v) != 2 {
					t.Errorf("recorded version %x, want 2", v)
				}
				return nil
			})
		})
	}
}
