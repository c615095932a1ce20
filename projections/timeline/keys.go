package timeline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/interaction-ledger/ledger/domain"
)

// Buckets (doc.go, "Key layout"). WARNING: renaming a bucket needs a rebuild.
var (
	bItems        = []byte("items")
	bExpiry       = []byte("expiry")
	bCounts       = []byte("counts")
	bRefs         = []byte("refs")
	bTasks        = []byte("tasks")
	bTaskOrder    = []byte("taskorder") // customer \x00 ^created(8) task id -> "": the tasks tab's order
	bOwned        = []byte("owned")
	bInteractions = []byte("interactions")
	bAliases      = []byte("aliases")
	bMerged       = []byte("merged")
	bTouched      = []byte("touched") // customer (as resolved) -> seq(8): its card's last change
	bHandles      = []byte("handles") // interaction id -> handle(8): its record's key in interactions
	bCarried      = []byte("carried") // customer \x00 interaction id -> "": interactions of several customers
	bEdges        = []byte("edges")   // into \x00 from -> "": every merge as its event named it
)

func allBuckets() [][]byte {
	return [][]byte{bItems, bExpiry, bCounts, bRefs, bTasks, bTaskOrder, bOwned, bInteractions, bAliases, bMerged, bTouched, bHandles, bCarried, bEdges}
}

// layoutVersion names the key layout this code reads and writes (projections.InitLayout).
// 2: interaction records keyed by handle. 4: per-customer parts of shared interactions
// and the carried index (an erasure folds them again); interaction items that hold
// their visibility (the card judges access itself). (3 was a step between them.)
// 5: the tasks tab's order (taskorder).
const layoutVersion = 5

// An interaction's record is keyed by a handle, not by its id: the stream position of the
// first event that changed it. Ids are the producers' (random, unless they sort by time
// as UUIDv7 do), and a record is rewritten whenever its interaction's events arrive: keyed
// by id, those writes landed on random pages of a tree as large as the number of
// interactions; by handle, recent interactions' records sit together at its end. The
// position is the same live and in any replay of the stream, so a rebuilt file equals
// the live one byte for byte (projections.HandleOf). handles maps the id to it.

// pos is where an item (or a pseudo-item of the expiry bucket) sits.
type pos struct {
	cust string
	kb   byte
	at   int64 // occurred_at, Unix nanoseconds
	key  string
}

func (p pos) listed() bool {
	_, ok := kindOfByte(p.kb)
	return ok
}

// custPrefix is customer \x00: the start of every per-customer key.
func custPrefix(cust string) []byte {
	k := make([]byte, 0, len(cust)+1)
	k = append(k, cust...)
	return append(k, 0)
}

// runPrefix is customer \x00 kind: one kind's newest-first run.
func runPrefix(cust string, kb byte) []byte {
	return append(custPrefix(cust), kb)
}

func (p pos) itemKey() []byte {
	k := make([]byte, 0, len(p.cust)+10+len(p.key))
	k = append(k, p.cust...)
	k = append(k, 0, p.kb)
	k = binary.BigEndian.AppendUint64(k, ^uint64(p.at))
	return append(k, p.key...)
}

func (p pos) expiryKey() []byte {
	k := make([]byte, 0, len(p.cust)+10+len(p.key))
	k = binary.BigEndian.AppendUint64(k, uint64(p.at))
	k = append(k, p.cust...)
	k = append(k, 0, p.kb)
	return append(k, p.key...)
}

// parseItemKey reads an items key back.
func parseItemKey(k []byte) (pos, error) {
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k) < i+10 {
		return pos{}, fmt.Errorf("malformed item key %q", k)
	}
	return pos{cust: string(k[:i]), kb: k[i+1], at: int64(^binary.BigEndian.Uint64(k[i+2 : i+10])), key: string(k[i+10:])}, nil
}

// parseExpiryKey reads an expiry key back.
func parseExpiryKey(k []byte) (pos, error) {
	if len(k) < 10 {
		return pos{}, fmt.Errorf("malformed expiry key %q", k)
	}
	at := int64(binary.BigEndian.Uint64(k[:8]))
	rest := k[8:]
	i := bytes.IndexByte(rest, 0)
	if i < 0 || len(rest) < i+2 {
		return pos{}, fmt.Errorf("malformed expiry key %q", k)
	}
	return pos{cust: string(rest[:i]), kb: rest[i+1], at: at, key: string(rest[i+2:])}, nil
}

// taskOrderKey is a task's place in its customer's tasks tab: newest created first, then
// by task id (taskRecord.orderAt).
func taskOrderKey(cust string, at time.Time, taskID string) []byte {
	k := make([]byte, 0, len(cust)+9+len(taskID))
	k = append(k, cust...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint64(k, ^uint64(at.UnixNano()))
	return append(k, taskID...)
}

func pairKey(a, b string) []byte {
	return append(custPrefix(a), b...)
}

func countKey(cust string, kb byte) []byte { return runPrefix(cust, kb) }

func refKey(cust string, kb byte, id string) []byte {
	return append(runPrefix(cust, kb), id...)
}

// refVal is where a ref-tracked item sits and which event put it there.
func refVal(st domain.Stamp) []byte {
	v := binary.BigEndian.AppendUint64(nil, uint64(st.At.UnixNano()))
	return append(v, st.ID...)
}

func parseRefVal(v []byte) (domain.Stamp, bool) {
	if len(v) < 8 {
		return domain.Stamp{}, false
	}
	return domain.Stamp{At: time.Unix(0, int64(binary.BigEndian.Uint64(v[:8]))).UTC(), ID: string(v[8:])}, true
}
