package history

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/domain"
)

// TestAccessMatrix checks CONTRACT.md §3 for every role against every kind of
// interaction, in the list, in the detail and in Visible (the customer card's check).
func TestAccessMatrix(t *testing.T) {
	v, db := openView(t)
	at := testNow.Add(-2 * time.Hour)
	c := "cust-1"
	apply(t, v, db,
		// col1's own, direct.
		started(t, "own", at, c, "voice", "direct", "", "col1", nil),
		// col1 handled it, then it was transferred to col3 through Q3.
		started(t, "transferred", at.Add(time.Minute), c, "voice", "direct", "", "col1", nil),
		routed(t, "transferred", at.Add(2*time.Minute), c, "direct", "Q3", "col3"),
		// col2 is in col1's team (T1, managed by mgr).
		started(t, "teammate", at.Add(3*time.Minute), c, "voice", "direct", "", "col2", nil),
		// col3 is in another team; smart through a queue of no profile.
		started(t, "other-team", at.Add(4*time.Minute), c, "voice", "smart", "Q3", "col3", nil),
		// Smart through Q1, the managers' and administrators' profile queue, voice flow.
		started(t, "smart-q1-voice", at.Add(5*time.Minute), c, "voice", "smart", "Q1", "col3", nil),
		// Smart through Q1 but email: the administrator's profile has only voice.
		started(t, "smart-q1-email", at.Add(6*time.Minute), c, "email", "smart", "Q1", "col3", map[string]any{"contact": map[string]any{"email": "a@b.c"}}),
		// Direct to col3, first through Q1 (a direct interaction is never "smart in Q1").
		started(t, "direct-q1", at.Add(7*time.Minute), c, "voice", "direct", "Q1", "col3", nil),
		// Smart, first through Q2, then transferred into Q1 (passed through Q1).
		started(t, "smart-via-q1", at.Add(8*time.Minute), c, "voice", "smart", "Q2", "", nil),
		routed(t, "smart-via-q1", at.Add(9*time.Minute), c, "smart", "Q1", "col3"),
		routed(t, "smart-via-q1", at.Add(10*time.Minute), c, "smart", "Q2", "col3"),
	)
	readers := map[string]domain.Reader{
		"collaborator": {AgentID: "col1", Role: domain.RoleCollaborator, ProfileQueues: []string{"Q1"}, ProfileFlows: domain.Flows(), HistoryAccess: true},
		"manager": {AgentID: "mgr", Role: domain.RoleManager, TeamAgents: []string{"col1", "col2"},
			ProfileQueues: []string{"Q1"}, ProfileFlows: []domain.Flow{domain.FlowVoice}, HistoryAccess: true},
		"administrator": {AgentID: "adm", Role: domain.RoleAdministrator, ProfileQueues: []string{"Q1"},
			ProfileFlows: []domain.Flow{domain.FlowVoice}, HistoryAccess: true},
		"administrator-no-flows": {AgentID: "adm2", Role: domain.RoleAdministrator, ProfileQueues: []string{"Q1"}, HistoryAccess: true},
		"manager-no-access": {AgentID: "mgr", Role: domain.RoleManager, TeamAgents: []string{"col1", "col2"},
			ProfileQueues: []string{"Q1"}, ProfileFlows: domain.Flows()},
		"colleague-col3": {AgentID: "col3", Role: domain.RoleCollaborator, HistoryAccess: true},
	}
	all := []string{"own", "transferred", "teammate", "other-team", "smart-q1-voice", "smart-q1-email", "direct-q1", "smart-via-q1", "missing"}
	want := map[string][]string{
		"collaborator":           {"own", "transferred"},
		"manager":                {"own", "transferred", "teammate", "smart-q1-voice", "smart-q1-email", "smart-via-q1"},
		"administrator":          {"own", "transferred", "teammate", "smart-q1-voice", "direct-q1", "smart-via-q1"},
		"administrator-no-flows": {"own", "transferred", "teammate", "direct-q1"},
		"manager-no-access":      {},
		"colleague-col3":         {"transferred", "other-team", "smart-q1-voice", "smart-q1-email", "direct-q1", "smart-via-q1"},
	}
	for name, r := range readers {
		t.Run(name+"/list", func(t *testing.T) {
			for _, sort := range []string{"start_at", "agent_id"} {
				got := ids(listAll(t, v, r, Query{From: at.Add(-time.Hour), To: testNow, Sort: sort, Limit: 2}))
				slices.Sort(got)
				w := slices.Clone(want[name])
				slices.Sort(w)
				if !slices.Equal(got, w) {
					t.Errorf("sort %s: got %v, want %v", sort, got, w)
				}
			}
			// A filter never widens what the reader sees.
			got := ids(listAll(t, v, r, Query{From: at.Add(-time.Hour), To: testNow, AgentID: []string{"col3"}}))
			for _, id := range got {
				if !slices.Contains(want[name], id) {
					t.Errorf("filter agent_id=col3 shows %s", id)
				}
			}
		})
		t.Run(name+"/visible", func(t *testing.T) {
			got, err := v.Visible(r, all)
			if err != nil {
				t.Fatal(err)
			}
			for i, id := range all {
				if w := slices.Contains(want[name], id); got[i] != w {
					t.Errorf("Visible(%s) = %v, want %v (as Get answers)", id, got[i], w)
				}
			}
		})
		for _, id := range all {
			t.Run(name+"/get/"+id, func(t *testing.T) {
				d, err := v.Get(r, id)
				if slices.Contains(want[name], id) {
					if err != nil || d.InteractionID != id {
						t.Fatalf("Get = %q, %v; want it", d.InteractionID, err)
					}
					return
				}
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("Get = %q, %v; want ErrNotFound", d.InteractionID, err)
				}
			})
		}
	}
}
