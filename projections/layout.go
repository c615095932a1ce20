package projections

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// LayoutBucket holds, in each view file, the version of the key layout it was written in
// (key "version", 8 bytes big-endian). A file from before versions were kept is version 1.
var LayoutBucket = []byte("layout")

var layoutKey = []byte("version")

// InitLayout is the first step of a view's Init: it reads the file's layout version and,
// when it is not want while the bucket named data holds any key (the file has content in
// another layout), returns ErrLayoutChanged, which the runner answers with a rebuild from
// the stream rather than a conversion in place. Otherwise it records want: a file
// without content takes this code's layout as it is.
func InitLayout(tx *bolt.Tx, want uint64, data []byte) error {
	have := uint64(1)
	if b := tx.Bucket(LayoutBucket); b != nil {
		if v := b.Get(layoutKey); len(v) == 8 {
			have = binary.BigEndian.Uint64(v)
		}
	}
	if have == want {
		return nil
	}
	if b := tx.Bucket(data); b != nil {
		if k, _ := b.Cursor().First(); k != nil {
			return fmt.Errorf("file of key layout %d, this code reads %d: %w", have, want, ErrLayoutChanged)
		}
	}
	b, err := tx.CreateBucketIfNotExists(LayoutBucket)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", LayoutBucket, err)
	}
	return b.Put(layoutKey, binary.BigEndian.AppendUint64(nil, want))
}
