package history

import (
	"reflect"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/domain"
)

// TestVisibleBecause: the detail and Reasons say why each reader sees an interaction that
// was transferred, with when each agent took it, and say nothing to a reader who may not.
func TestVisibleBecause(t *testing.T) {
	v, db := openView(t)
	t0 := testNow.Add(-2 * time.Hour)
	t1 := t0.Add(5 * time.Minute)
	apply(t, v, db,
		started(t, "x", t0, "c", "voice", "smart", "Q1", "ag1", nil),
		routed(t, "x", t1, "c", "smart", "Q2", "ag2"))
	mgr := domain.Reader{AgentID: "boss", Role: domain.RoleManager, TeamAgents: []string{"ag2"},
		Teams: []domain.ManagedTeam{{TeamID: "t1", Agents: []string{"ag2"}}}, ProfileID: "p",
		ProfileQueues: []string{"Q1"}, HistoryAccess: true}
	tests := []struct {
		name string
		r    domain.Reader
		want []domain.Reason
	}{
		{"first agent, before the transfer", domain.Reader{AgentID: "ag1", Role: domain.RoleCollaborator, HistoryAccess: true},
			[]domain.Reason{{Rule: domain.RuleBeforeTransfer, Agent: "ag1", Since: &t0}}},
		{"current agent", domain.Reader{AgentID: "ag2", Role: domain.RoleCollaborator, HistoryAccess: true},
			[]domain.Reason{{Rule: domain.RuleOwn, Agent: "ag2", Since: &t1}}},
		{"manager: team and queue", mgr, []domain.Reason{{Rule: domain.RuleTeam, Agent: "ag2", Team: "t1", Since: &t1},
			{Rule: domain.RuleQueue, Queue: "Q1", Profile: "p"}}},
		{"stranger", domain.Reader{AgentID: "ag9", Role: domain.RoleCollaborator, HistoryAccess: true}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := v.Get(tc.r, "x")
			if tc.want == nil {
				if err != ErrNotFound {
					t.Fatalf("Get = %v, want ErrNotFound", err)
				}
			} else {
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				if !reflect.DeepEqual(d.VisibleBecause, tc.want) {
					t.Errorf("detail visible_because = %+v, want %+v", d.VisibleBecause, tc.want)
				}
			}
			// The list's reasons come from the row, which keeps no times.
			got, err := v.Reasons(tc.r, []string{"x", "missing"})
			if err != nil {
				t.Fatal(err)
			}
			var want []domain.Reason
			for _, rs := range tc.want {
				rs.Since = nil
				want = append(want, rs)
			}
			if !reflect.DeepEqual(got[0], want) || got[1] != nil {
				t.Errorf("Reasons = %+v, want [%+v nil]", got, want)
			}
		})
	}
}
