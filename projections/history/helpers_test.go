package history

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
)

// testNow is the clock of every test: events lie in the days before it.
var testNow = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// openView opens a real view file in a temp dir and closes it on cleanup.
func openView(t testing.TB) (*View, *projections.DB) {
	t.Helper()
	db, err := projections.OpenDB(filepath.Join(t.TempDir(), "history.db"), projections.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	v := New(db, Options{Region: "FR"})
	if err := db.Update(v.Init); err != nil {
		t.Fatal(err)
	}
	return v, db
}

var seq uint64

// apply applies events as one batch, in one transaction, as the projector does.
func apply(t testing.TB, v *View, db *projections.DB, evs ...domain.Event) {
	t.Helper()
	batch := make([]projections.Applied, len(evs))
	for i, ev := range evs {
		seq++
		batch[i] = projections.Applied{Seq: seq, Subject: "ledger.events." + ev.Type.String(), Event: ev}
	}
	if err := db.Update(func(tx *bolt.Tx) error { return v.Apply(tx, batch) }); err != nil {
		t.Fatal(err)
	}
}

var evCounter int

func eventID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// mk builds a validated event, exactly as ingest would accept it at testNow.
func mk(t testing.TB, typ domain.EventType, at time.Time, customer string, data map[string]any) domain.Event {
	t.Helper()
	evCounter++
	ev, err := domain.NewEventFromData(eventID(evCounter), typ, at, customer, "test", data, testNow)
	if err != nil {
		t.Fatalf("build %s: %v", typ, err)
	}
	return ev
}

// started is interaction.started with the usual fields; extra overrides them.
func started(t testing.TB, id string, at time.Time, customer, flow, routing, queue, agent string, extra map[string]any) domain.Event {
	t.Helper()
	d := map[string]any{"interaction_id": id, "flow": flow, "direction": "incoming", "routing": routing}
	if queue != "" {
		d["queue_id"] = queue
	}
	if agent != "" {
		d["agent_id"] = agent
	}
	for k, v := range extra {
		d[k] = v
	}
	return mk(t, domain.TypeInteractionStarted, at, customer, d)
}

func routed(t testing.TB, id string, at time.Time, customer, routing, queue, agent string) domain.Event {
	t.Helper()
	d := map[string]any{"interaction_id": id, "routing": routing}
	if queue != "" {
		d["queue_id"] = queue
	}
	if agent != "" {
		d["agent_id"] = agent
	}
	return mk(t, domain.TypeInteractionRouted, at, customer, d)
}

func ended(t testing.TB, id string, at time.Time, customer, status string) domain.Event {
	t.Helper()
	d := map[string]any{"interaction_id": id, "status": status}
	if status == "dissuaded" {
		d["reason"] = "closed"
	}
	return mk(t, domain.TypeInteractionEnded, at, customer, d)
}

// dump returns every bucket of the view as sorted "bucket key=value" lines, to compare
// two files (the meta bucket, with the checkpoint, is left out). Handles are written as
// the ids they stand for: two files of the same events given other stream positions (or
// in another order) compare equal. rawDump keeps them.
func dump(t testing.TB, db *projections.DB) []string {
	t.Helper()
	return dumpFile(t, db, false)
}

func rawDump(t testing.TB, db *projections.DB) []string {
	t.Helper()
	return dumpFile(t, db, true)
}

func dumpFile(t testing.TB, db *projections.DB, raw bool) []string {
	t.Helper()
	var out []string
	err := db.View(func(tx *bolt.Tx) error {
		ids := map[string]string{}
		err := tx.Bucket(bHandles).ForEach(func(k, v []byte) error {
			if len(v) != 16 {
				return fmt.Errorf("handle of %s: %q", k, v)
			}
			if other, ok := ids[string(v[:8])]; ok {
				return fmt.Errorf("handle %x of %s is %s's too", v[:8], k, other)
			}
			ids[string(v[:8])] = string(k)
			return nil
		})
		if err != nil {
			return err
		}
		for _, b := range [][]byte{bRows, bHandles, bDetails, bIndex, bCounts, bMerges, bMerged, bSorts, bEvents, bEventIDs} {
			err := tx.Bucket(b).ForEach(func(k, v []byte) error {
				if !raw {
					switch {
					case bytes.Equal(b, bHandles):
						v = v[8:]
					case bytes.Equal(b, bDetails) || bytes.Equal(b, bEvents) || bytes.Equal(b, bEventIDs):
						id, ok := ids[string(k[:8])]
						if !ok {
							return fmt.Errorf("%s %q: no interaction has its handle", b, k)
						}
						k = append(append([]byte(id), 0), k[8:]...)
					}
				}
				out = append(out, fmt.Sprintf("%s %q=%q", b, k, v))
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// indexKeysContaining lists the keys of index and merge buckets that contain s.
func indexKeysContaining(t testing.TB, db *projections.DB, s string) []string {
	t.Helper()
	var out []string
	db.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bIndex, bCounts, bMerges, bMerged, bHandles, bDetails, bEvents, bEventIDs} {
			tx.Bucket(b).ForEach(func(k, v []byte) error {
				if bytes.Contains(k, []byte(s)) || bytes.Contains(v, []byte(s)) {
					out = append(out, fmt.Sprintf("%s %q", b, k))
				}
				return nil
			})
		}
		c := tx.Bucket(bRows).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if bytes.Contains(v, []byte(s)) {
				out = append(out, fmt.Sprintf("rows %q", k))
			}
		}
		return nil
	})
	return out
}

func ids(items []Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.InteractionID
	}
	return out
}

// listAll walks every page of q and returns the concatenated items.
func listAll(t testing.TB, v *View, r domain.Reader, q Query) []Item {
	t.Helper()
	var all []Item
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("cursor does not end")
		}
		p, err := v.List(r, q)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		all = append(all, p.Items...)
		if p.NextCursor == "" {
			return all
		}
		if len(p.Items) == 0 {
			t.Fatal("empty page with a next cursor")
		}
		q.Cursor = p.NextCursor
	}
}
