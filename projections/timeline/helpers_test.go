package timeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
)

// harness is a real timeline file in a temp dir, fed through DB.Update + View.Apply.
type harness struct {
	t   testing.TB
	db  *projections.DB
	v   *View
	seq uint64
	now time.Time
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	db, err := projections.OpenDB(filepath.Join(t.TempDir(), "timeline.db"), projections.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	v := New(db)
	if err := db.Update(v.Init); err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, db: db, v: v, now: time.Now().UTC().Truncate(time.Second)}
}

// at is a time n minutes before the harness's now.
func (h *harness) at(minutesAgo int) time.Time {
	return h.now.Add(-time.Duration(minutesAgo) * time.Minute)
}

// id returns a stable UUID for a name, so tests can repeat an event.
func id(name string) string { return uuid.NewSHA1(uuid.NameSpaceOID, []byte(name)).String() }

// ev builds a valid event; name becomes its (stable) id.
func (h *harness) ev(name string, t domain.EventType, at time.Time, cust string, data any) domain.Event {
	h.t.Helper()
	e, err := domain.NewEventFromData(id(name), t, at, cust, "test", data, h.now)
	if err != nil {
		h.t.Fatalf("event %s: %v", name, err)
	}
	return e
}

// taskSubjectKey mirrors eventstore's per-task subject token.
func taskSubjectKey(cust, taskID string) string {
	s := sha256.Sum256([]byte(cust + "\x00" + taskID))
	return "k" + hex.EncodeToString(s[:])[:32]
}

// subject is where eventstore would store ev: task events on their keyed subject.
func subject(ev domain.Event) string {
	s := "ledger.events." + ev.Type.String()
	if d, ok := ev.Payload.(*domain.TaskData); ok {
		s += "." + taskSubjectKey(ev.CustomerID, d.TaskID)
	}
	return s
}

// apply applies the events as one batch, each at the next stream sequence, on the subject
// eventstore would use. It returns the sequence of the last one.
func (h *harness) apply(evs ...domain.Event) uint64 {
	h.t.Helper()
	batch := make([]projections.Applied, len(evs))
	for i, e := range evs {
		h.seq++
		batch[i] = projections.Applied{Seq: h.seq, Subject: subject(e), Event: e}
	}
	h.applyBatch(batch)
	return h.seq
}

// applyOn applies one event on the given subject.
func (h *harness) applyOn(subj string, e domain.Event) uint64 {
	h.t.Helper()
	h.seq++
	h.applyBatch([]projections.Applied{{Seq: h.seq, Subject: subj, Event: e}})
	return h.seq
}

func (h *harness) applyBatch(batch []projections.Applied) {
	h.t.Helper()
	if err := h.db.Update(func(tx *bolt.Tx) error { return h.v.Apply(tx, batch) }); err != nil {
		h.t.Fatalf("apply: %v", err)
	}
}

func (h *harness) timeline(cust string, kinds ...Kind) []Item {
	h.t.Helper()
	p, err := h.v.Timeline(cust, kinds, MaxLimit, "")
	if err != nil {
		h.t.Fatalf("timeline %s: %v", cust, err)
	}
	if p.NextCursor != "" {
		h.t.Fatalf("timeline %s: more than %d items", cust, MaxLimit)
	}
	return p.Items
}

// snapshot is everything the view answers about a customer, as JSON.
func (h *harness) snapshot(cust string, taskIDs ...string) string {
	h.t.Helper()
	card, err := h.v.Card(cust, nil)
	must(h.t, err)
	chats, err := h.chats(cust)
	must(h.t, err)
	tasks, err := h.tasks(cust)
	must(h.t, err)
	visits, err := h.visits(cust)
	must(h.t, err)
	segs, err := h.segments(cust)
	must(h.t, err)
	type taskState struct {
		State string
		Task  Task
	}
	var ts []taskState
	for _, tid := range taskIDs {
		st, t, err := h.v.Task(cust, tid)
		must(h.t, err)
		ts = append(ts, taskState{st.String(), t})
	}
	b, err := json.MarshalIndent(map[string]any{"timeline": h.timeline(cust), "card": card, "chats": chats,
		"tasks": tasks, "visits": visits, "segments": segs, "task_states": ts}, "", " ")
	must(h.t, err)
	return string(b)
}

// The whole of each tab, for customers with fewer than MaxLimit rows in it.
func (h *harness) chats(cust string) ([]Chat, error) {
	p, err := h.v.Chats(cust, MaxLimit, "", nil)
	return p.Items, err
}

func (h *harness) tasks(cust string) ([]Task, error) {
	p, err := h.v.Tasks(cust, MaxLimit, "")
	return p.Items, err
}

func (h *harness) visits(cust string) ([]Visit, error) {
	p, err := h.v.Visits(cust, MaxLimit, "")
	return p.Items, err
}

func (h *harness) segments(cust string) ([]SegmentChange, error) {
	p, err := h.v.Segments(cust, MaxLimit, "")
	return p.Items, err
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Event data builders.
func started(iid, flow, dir string) map[string]any {
	return map[string]any{"interaction_id": iid, "flow": flow, "direction": dir, "routing": "direct", "agent_id": "ag-1"}
}

func ended(iid, status string) map[string]any {
	return map[string]any{"interaction_id": iid, "status": status}
}

func message(iid, dir string) map[string]any {
	return map[string]any{"interaction_id": iid, "direction": dir}
}

func task(tid, title string) map[string]any { return map[string]any{"task_id": tid, "title": title} }

// numbered is evs as a stream holds them: each at the next sequence from 1, on the subject
// eventstore would use.
func numbered(evs []domain.Event) []projections.Applied {
	out := make([]projections.Applied, len(evs))
	for i, e := range evs {
		out[i] = projections.Applied{Seq: uint64(i + 1), Subject: subject(e), Event: e}
	}
	return out
}

// checkNoTrace fails t for every key or value of the view's file that holds one of
// needles.
func checkNoTrace(t testing.TB, db *projections.DB, needles ...string) {
	t.Helper()
	must(t, db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				for _, s := range needles {
					if bytes.Contains(k, []byte(s)) || bytes.Contains(v, []byte(s)) {
						t.Errorf("bucket %s still holds %q: key %q value %q", name, s, k, v)
					}
				}
				return nil
			})
		})
	}))
}

// load applies stream as a projector does: in batches of n, the last live events applied
// live; with bulk, the others as a rebuild applies them (BeginBulk, then EndBulk).
func (h *harness) load(stream []projections.Applied, n int, bulk bool, live int) {
	h.t.Helper()
	if bulk {
		h.v.BeginBulk()
	}
	last := len(stream) - live
	for i := 0; i < last; i += n {
		h.applyBatch(stream[i:min(i+n, last)])
	}
	if bulk {
		must(h.t, h.v.EndBulk(h.db.Update))
	}
	if last < len(stream) {
		h.applyBatch(stream[last:])
	}
}

// batchings are ways a projector may apply a stream (harness.load): n events a batch,
// live or as a rebuild.
var batchings = []struct {
	name string
	n    int
	bulk bool
}{{"one event a batch", 1, false}, {"batches of 3", 3, false}, {"batches of 7", 7, false},
	{"one batch", 1 << 30, false}, {"bulk, batches of 4", 4, true}, {"bulk, one batch", 1 << 30, true}}
