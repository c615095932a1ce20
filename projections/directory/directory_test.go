package directory

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
)

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

func event(t *testing.T, n int, typ domain.EventType, minute int, data map[string]any) domain.Event {
	t.Helper()
	at := t0.Add(time.Duration(minute) * time.Minute)
	ev, err := domain.NewEventFromData(fmt.Sprintf("00000000-0000-7000-8000-%012d", n), typ, at, "", "test", data, at)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func open(t *testing.T) (*View, *projections.DB) {
	t.Helper()
	db, err := projections.OpenDB(filepath.Join(t.TempDir(), "directory.db"), projections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	v := New(db)
	if err := db.Update(v.Init); err != nil {
		t.Fatal(err)
	}
	return v, db
}

func apply(t *testing.T, v *View, db *projections.DB, evs ...domain.Event) {
	t.Helper()
	batch := make([]projections.Applied, len(evs))
	for i, e := range evs {
		batch[i] = projections.Applied{Seq: uint64(i + 1), Event: e}
	}
	if err := db.Update(func(tx *bolt.Tx) error { return v.Apply(tx, batch) }); err != nil {
		t.Fatal(err)
	}
}

func TestReader(t *testing.T) {
	evs := []domain.Event{
		event(t, 1, domain.TypeDirectoryProfile, 0, map[string]any{"profile_id": "p", "queues": []string{"q1"}, "flows": []string{"voice"}, "history_access": true}),
		event(t, 2, domain.TypeDirectoryTeam, 0, map[string]any{"team_id": "t1", "manager_ids": []string{"boss"}}),
		event(t, 3, domain.TypeDirectoryTeam, 0, map[string]any{"team_id": "t2", "manager_ids": []string{"boss"}}),
		event(t, 4, domain.TypeDirectoryAgent, 0, map[string]any{"agent_id": "ann", "role": "collaborator", "team_id": "t1", "active_profile_id": "p"}),
		event(t, 5, domain.TypeDirectoryAgent, 0, map[string]any{"agent_id": "bob", "role": "collaborator", "team_id": "t2"}),
		event(t, 6, domain.TypeDirectoryAgent, 0, map[string]any{"agent_id": "boss", "role": "manager", "active_profile_id": "p"}),
		// ann moves to t3 later; an older record of ann arriving late must not undo it.
		event(t, 8, domain.TypeDirectoryAgent, 10, map[string]any{"agent_id": "ann", "role": "collaborator", "team_id": "t3", "active_profile_id": "p"}),
		event(t, 7, domain.TypeDirectoryAgent, 5, map[string]any{"agent_id": "ann", "role": "collaborator", "team_id": "t2", "active_profile_id": "p"}),
	}
	tests := []struct {
		name    string
		agent   string
		ok      bool
		role    domain.Role
		team    []string
		queues  []string
		history bool
	}{
		{"manager sees the agents of both teams, not ann who moved away", "boss", true, domain.RoleManager, []string{"bob"}, []string{"q1"}, true},
		{"collaborator", "ann", true, domain.RoleCollaborator, nil, []string{"q1"}, true},
		{"no profile means no history access", "bob", true, domain.RoleCollaborator, nil, nil, false},
		{"unknown agent", "zed", false, domain.Role{}, nil, nil, false},
	}
	v, db := open(t)
	apply(t, v, db, evs...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok, err := v.Reader(tt.agent)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.ok || r.Role != tt.role || !slices.Equal(r.TeamAgents, tt.team) || !slices.Equal(r.ProfileQueues, tt.queues) || r.HistoryAccess != tt.history {
				t.Errorf("Reader(%s) = %+v, %v; want role %v team %v queues %v access %v", tt.agent, r, ok, tt.role, tt.team, tt.queues, tt.history)
			}
		})
	}
	// The same events in reverse order give the same answers.
	v2, db2 := open(t)
	rev := slices.Clone(evs)
	slices.Reverse(rev)
	apply(t, v2, db2, rev...)
	for _, agent := range []string{"boss", "ann", "bob"} {
		a, _, _ := v.Reader(agent)
		b, _, _ := v2.Reader(agent)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("order changes Reader(%s): %+v vs %+v", agent, a, b)
		}
	}
	// A team losing its manager takes effect at once.
	apply(t, v, db, event(t, 9, domain.TypeDirectoryTeam, 20, map[string]any{"team_id": "t2", "manager_ids": []string{}}))
	if r, _, _ := v.Reader("boss"); len(r.TeamAgents) != 0 {
		t.Errorf("boss still manages %v after t2 dropped him", r.TeamAgents)
	}
	if a, tm, p, _ := v.Counts(); a != 3 || tm != 2 || p != 1 {
		t.Errorf("Counts = %d, %d, %d", a, tm, p)
	}
}

// TestReaderCache: a Reader comes from the cache until the file changes, and a caller
// that changes its copy changes nothing for the next one.
func TestReaderCache(t *testing.T) {
	v, db := open(t)
	apply(t, v, db,
		event(t, 1, domain.TypeDirectoryProfile, 0, map[string]any{"profile_id": "p", "queues": []string{"q1"}, "history_access": true}),
		event(t, 2, domain.TypeDirectoryTeam, 0, map[string]any{"team_id": "t1", "manager_ids": []string{"boss"}}),
		event(t, 3, domain.TypeDirectoryAgent, 0, map[string]any{"agent_id": "ann", "role": "collaborator", "team_id": "t1"}),
		event(t, 4, domain.TypeDirectoryAgent, 0, map[string]any{"agent_id": "boss", "role": "manager", "active_profile_id": "p"}))
	r, _, _ := v.Reader("boss")
	r.ProfileQueues[0], r.TeamAgents[0], r.Teams[0].Agents[0] = "x", "x", "x"
	again, _, _ := v.Reader("boss")
	if !slices.Equal(again.ProfileQueues, []string{"q1"}) || !slices.Equal(again.TeamAgents, []string{"ann"}) || !slices.Equal(again.Teams[0].Agents, []string{"ann"}) {
		t.Errorf("a caller's change reached the next Reader: %+v", again)
	}
	apply(t, v, db, event(t, 5, domain.TypeDirectoryProfile, 1, map[string]any{"profile_id": "p", "queues": []string{"q2"}, "history_access": false}))
	if r, _, _ := v.Reader("boss"); !slices.Equal(r.ProfileQueues, []string{"q2"}) || r.HistoryAccess {
		t.Errorf("Reader after the profile changed = %+v", r)
	}
}
