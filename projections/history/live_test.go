package history

import (
	"encoding/binary"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
)

// applyCommitted is apply plus the checkpoint, written in the batch's transaction as the
// projector does: Changes reads up to it. It returns the batch's last position.
func applyCommitted(t testing.TB, v *View, db *projections.DB, evs ...domain.Event) uint64 {
	t.Helper()
	apply(t, v, db, evs...)
	err := db.Update(func(tx *bolt.Tx) error {
		return projections.PutMeta(tx, "checkpoint", binary.BigEndian.AppendUint64(nil, seq))
	})
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// TestChanges checks the live list's read: what changed after a position, filtered by
// the query and the reader's visibility, each interaction once at its latest position,
// and a resume from any earlier position missing nothing.
func TestChanges(t *testing.T) {
	v, db := openView(t)
	at := testNow.Add(-time.Hour)
	c := "cust-live"
	col1 := domain.Reader{AgentID: "col1", Role: domain.RoleCollaborator, HistoryAccess: true}
	p0 := applyCommitted(t, v, db,
		started(t, "before", at, c, "voice", "direct", "", "col1", nil))
	p1 := applyCommitted(t, v, db,
		started(t, "own-voice", at.Add(time.Minute), c, "voice", "direct", "", "col1", nil),
		started(t, "not-mine", at.Add(2*time.Minute), c, "voice", "direct", "", "col3", nil),
		started(t, "yesterday", testNow.AddDate(0, 0, -1), c, "voice", "direct", "", "col1", nil))
	p2 := applyCommitted(t, v, db,
		ended(t, "own-voice", at.Add(3*time.Minute), c, "delivered"),
		started(t, "own-email", at.Add(4*time.Minute), c, "email", "direct", "", "col1",
			map[string]any{"contact": map[string]any{"email": "a@b.c"}}),
		ended(t, "not-mine", at.Add(5*time.Minute), c, "delivered"))

	// Each interaction is at the position of its own last event in the batch.
	ownVoice, ownEmail, notMine := p1+1, p1+2, p2
	today := func(mod func(*Query)) Query {
		q := Query{From: testNow.Truncate(24 * time.Hour), To: testNow.Truncate(24*time.Hour).AddDate(0, 0, 1)}
		if mod != nil {
			mod(&q)
		}
		return q
	}
	voice := func(q *Query) { q.Flow = []domain.Flow{domain.FlowVoice} }
	tests := []struct {
		name   string
		reader domain.Reader
		q      Query
		after  uint64
		want   []string
		wantAt []uint64
	}{
		{"everything visible since the start", col1, today(nil), 0, []string{"before", "own-voice", "own-email"}, []uint64{p0, ownVoice, ownEmail}},
		{"only what changed after p1", col1, today(nil), p1, []string{"own-voice", "own-email"}, []uint64{ownVoice, ownEmail}},
		{"a changed row is sent at its new position only", col1, today(nil), p0, []string{"own-voice", "own-email"}, []uint64{ownVoice, ownEmail}},
		{"the filter applies", col1, today(voice), p1, []string{"own-voice"}, []uint64{ownVoice}},
		{"the range applies", col1, Query{From: testNow.AddDate(0, 0, -1).Truncate(24 * time.Hour), To: testNow.Truncate(24 * time.Hour)}, 0, []string{"yesterday"}, []uint64{p1}},
		{"nothing after the checkpoint", col1, today(nil), p2, nil, nil},
		{"another reader sees their own", domain.Reader{AgentID: "col3", Role: domain.RoleCollaborator, HistoryAccess: true}, today(nil), p0, []string{"not-mine"}, []uint64{notMine}},
		{"no history access, nothing", domain.Reader{AgentID: "col1", Role: domain.RoleCollaborator}, today(nil), 0, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, upto, more, err := v.Changes(tt.reader, tt.q, tt.after)
			if err != nil {
				t.Fatal(err)
			}
			if upto != p2 || more {
				t.Errorf("upto, more = %d, %v; want %d, false", upto, more, p2)
			}
			var gotIDs []string
			var gotAt []uint64
			for _, c := range got {
				gotIDs, gotAt = append(gotIDs, c.Item.InteractionID), append(gotAt, c.Seq)
			}
			if !slices.Equal(gotIDs, tt.want) || !slices.Equal(gotAt, tt.wantAt) {
				t.Errorf("got %v at %v, want %v at %v", gotIDs, gotAt, tt.want, tt.wantAt)
			}
			for _, c := range got {
				if c.Item.InteractionID == "own-voice" && c.Item.Status != "delivered" {
					t.Errorf("own-voice status %q, want its current delivered", c.Item.Status)
				}
			}
		})
	}
}

// TestChangesForgetsRemoved checks that an erased interaction leaves the change index.
func TestChangesForgetsRemoved(t *testing.T) {
	v, db := openView(t)
	at := testNow.Add(-time.Hour)
	col1 := domain.Reader{AgentID: "col1", Role: domain.RoleCollaborator, HistoryAccess: true}
	applyCommitted(t, v, db, started(t, "gone", at, "cust-erased", "voice", "direct", "", "col1", nil))
	applyCommitted(t, v, db, mk(t, domain.TypeCustomerErased, at.Add(time.Minute), "cust-erased", map[string]any{}))
	got, _, _, err := v.Changes(col1, Query{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("changes after erasure: %+v, want none", got)
	}
	if keys := indexKeysContaining(t, db, "gone"); len(keys) != 0 {
		t.Errorf("erased interaction still indexed: %v", keys)
	}
	db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bChanges).Stats().KeyN + tx.Bucket(bChangedAt).Stats().KeyN; n != 0 {
			t.Errorf("%d change entries left after erasure", n)
		}
		return nil
	})
}

// TestChangeBatchSharedByReaders checks the live list's shared read: one ReadChanges,
// matched by many readers and queries at once (as the open streams do), gives each
// exactly what its own Changes gives, customers resolved through a merge included.
func TestChangeBatchSharedByReaders(t *testing.T) {
	v, db := openView(t)
	at := testNow.Add(-time.Hour)
	applyCommitted(t, v, db,
		started(t, "a-voice", at, "cust-a", "voice", "direct", "", "col1", map[string]any{"contact": map[string]any{"phone": "+33612345678"}}),
		started(t, "b-email", at.Add(time.Minute), "cust-b", "email", "direct", "", "col3",
			map[string]any{"contact": map[string]any{"email": "b@example.com"}}),
		started(t, "c-voice", at.Add(2*time.Minute), "cust-c", "voice", "direct", "", "col1", nil))
	applyCommitted(t, v, db, mk(t, domain.TypeCustomerMerged, at.Add(3*time.Minute), "cust-c", map[string]any{"from_customer_id": "cust-a"}))

	col1 := domain.Reader{AgentID: "col1", Role: domain.RoleCollaborator, HistoryAccess: true}
	col3 := domain.Reader{AgentID: "col3", Role: domain.RoleCollaborator, HistoryAccess: true}
	tests := []struct {
		name   string
		reader domain.Reader
		q      Query
		want   []string
	}{
		{"all of col1", col1, Query{}, []string{"a-voice", "c-voice"}},
		{"all of col3", col3, Query{}, []string{"b-email"}},
		{"the surviving customer finds the merged one's", col1, Query{CustomerID: []string{"cust-c"}}, []string{"a-voice", "c-voice"}},
		{"a phone searched in another format", col1, Query{Q: "06 12 34 56 78"}, []string{"a-voice"}},
		{"an email filter", col3, Query{Contact: []string{"b@example.com"}}, []string{"b-email"}},
		{"no history access", domain.Reader{AgentID: "col1", Role: domain.RoleCollaborator}, Query{}, nil},
	}
	b, err := v.ReadChanges(0)
	if err != nil {
		t.Fatal(err)
	}
	got := make([][]Change, len(tests))
	var wg sync.WaitGroup
	for i, tt := range tests {
		wg.Go(func() { got[i] = b.Match(tt.reader, tt.q) })
	}
	wg.Wait()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			own, upto, _, err := v.Changes(tt.reader, tt.q, 0)
			if err != nil {
				t.Fatal(err)
			}
			if upto != b.Upto {
				t.Errorf("Changes read up to %d, the batch %d", upto, b.Upto)
			}
			var ids []string
			for _, c := range got[i] {
				ids = append(ids, c.Item.InteractionID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("batch matched %v, want %v", ids, tt.want)
			}
			if !slices.EqualFunc(got[i], own, func(a, b Change) bool {
				return a.Seq == b.Seq && a.Item.InteractionID == b.Item.InteractionID && a.Item.CustomerID == b.Item.CustomerID
			}) {
				t.Errorf("batch matched %+v, Changes %+v", got[i], own)
			}
			for _, c := range got[i] {
				if c.Item.InteractionID == "a-voice" && c.Item.CustomerID != "cust-c" {
					t.Errorf("a-voice customer %q, want the surviving cust-c", c.Item.CustomerID)
				}
			}
		})
	}
}
