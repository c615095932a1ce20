package history

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// An interaction's detail, events and change position are keyed by a handle of 8 bytes,
// not by its id. Ids are chosen by producers: unless they sort by time (UUIDv7), id-keyed
// entries land on random pages of the view's largest trees, and every batch dirtied about
// one page per event across the file (issue 16: with random ids at 2M envelopes, replay
// 12.1k → 21.0k events/s and end-to-end ingest 4.8k → 6.6k with handles). A handle is the
// stream sequence of the first event the view applied to the interaction: new
// interactions append at the end of each tree, and a batch's events (of interactions that
// are mostly recent) fill a few pages there. The sequence is the same in the live
// projector and in any replay of the stream, so a rebuilt file equals the live one byte
// for byte.
//
//	handles  id -> handle(8) | start(8)
//	         The id's handle and its row's start (the row key is start | id): one small
//	         entry per interaction. In id order: the list sorted by interaction_id walks it.
//	details  handle(8) -> detail (the row's start is the handle entry's alone)
var bHandles = []byte("handles")

// handleValue is an interaction's entry in bHandles.
func handleValue(h []byte, start int64) []byte {
	v := make([]byte, 0, 16)
	return binary.BigEndian.AppendUint64(append(v, h...), uint64(start)^(1<<63))
}

// lookup returns the handle of interaction id and the key of its row (start | id), or
// nils when the view has no such interaction. The slices are the bucket's: valid during
// the transaction, and not to be modified.
func lookup(handles *bolt.Bucket, id string) (h, start []byte, err error) {
	v := handles.Get([]byte(id))
	if v == nil {
		return nil, nil, nil
	}
	if len(v) != 16 {
		return nil, nil, fmt.Errorf("interaction %s: handle: %w", id, errCorrupt)
	}
	return v[:8:8], v[8:16:16], nil
}

// detailOf returns the stored detail of interaction id and its handle, nils when there
// is none.
func detailOf(tx *bolt.Tx, id string) (val, h []byte, err error) {
	h, _, err = lookup(tx.Bucket(bHandles), id)
	if h == nil || err != nil {
		return nil, nil, err
	}
	val = tx.Bucket(bDetails).Get(h)
	if val == nil {
		return nil, nil, fmt.Errorf("interaction %s: no detail at its handle: %w", id, errCorrupt)
	}
	return val, h, nil
}
