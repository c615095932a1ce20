package domain

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestReaderCanSee(t *testing.T) {
	const me, mate, stranger = "ag-me", "ag-mate", "ag-stranger"
	reader := func(role Role) Reader {
		r := Reader{AgentID: me, Role: role, ProfileQueues: []string{"q-sales", "q-vip"},
			ProfileFlows: []Flow{FlowVoice, FlowEmail}, HistoryAccess: true}
		if role == RoleManager {
			r.TeamAgents = []string{mate, "ag-other-mate"}
		}
		return r
	}
	smart := func(flow Flow, queues []string, agents ...string) Visibility {
		return Visibility{Agents: agents, Queues: queues, OriginalRouting: RoutingSmart, Flow: flow}
	}
	direct := func(flow Flow, agents ...string) Visibility {
		return Visibility{Agents: agents, OriginalRouting: RoutingDirect, Flow: flow}
	}
	elsewhere := []string{"q-elsewhere"}

	tests := []struct {
		name               string
		v                  Visibility
		collab, mgr, admin bool
	}{
		{"own, smart outside the profile's queues", smart(FlowVoice, elsewhere, me), true, true, false},
		{"own, direct", direct(FlowVoice, me), true, true, true},
		{"handled before a transfer", smart(FlowVoice, elsewhere, me, stranger), true, true, false},
		{"handled before a transfer, direct", direct(FlowSMS, stranger, me), true, true, true},
		{"team-mate's", smart(FlowVoice, elsewhere, mate), false, true, false},
		{"team-mate's before a transfer", smart(FlowChat, elsewhere, stranger, mate), false, true, false},
		{"other team's", smart(FlowVoice, elsewhere, stranger), false, false, false},
		{"smart in a profile queue", smart(FlowVoice, []string{"q-elsewhere", "q-sales"}, stranger), false, true, true},
		{"smart in a profile queue, no agent yet", smart(FlowEmail, []string{"q-vip"}), false, true, true},
		{"smart in a profile queue, flow not in the profile", smart(FlowWhatsApp, []string{"q-sales"}, stranger), false, true, false},
		{"smart outside the profile's queues", smart(FlowVoice, elsewhere, stranger), false, false, false},
		{"smart through no queue", smart(FlowVoice, nil, stranger), false, false, false},
		{"direct", direct(FlowVoice, stranger), false, false, true},
		{"direct, flow not in the profile", direct(FlowTelegram, stranger), false, false, true},
		{"direct that passed a profile queue", Visibility{Agents: []string{stranger}, Queues: []string{"q-sales"}, OriginalRouting: RoutingDirect, Flow: FlowVoice}, false, false, true},
		{"no routing known yet, in a profile queue", Visibility{Agents: []string{stranger}, Queues: []string{"q-sales"}, Flow: FlowVoice}, false, false, false},
	}
	for _, tc := range tests {
		for _, rc := range []struct {
			role Role
			want bool
		}{{RoleCollaborator, tc.collab}, {RoleManager, tc.mgr}, {RoleAdministrator, tc.admin}} {
			t.Run(fmt.Sprintf("%s/%s", rc.role, tc.name), func(t *testing.T) {
				r := reader(rc.role)
				if got := r.CanSee(tc.v); got != rc.want {
					t.Errorf("CanSee(%+v) = %v, want %v", tc.v, got, rc.want)
				}
				if got := len(r.Reasons(tc.v)) > 0; got != rc.want {
					t.Errorf("Reasons(%+v) = %v: some = %v, want %v", tc.v, r.Reasons(tc.v), got, rc.want)
				}
				r.HistoryAccess = false
				if r.CanSee(tc.v) || len(r.Reasons(tc.v)) > 0 {
					t.Errorf("without history access: CanSee = true, want false")
				}
			})
		}
		t.Run("unknown role/"+tc.name, func(t *testing.T) {
			r := reader(Role{})
			if r.CanSee(tc.v) {
				t.Errorf("a reader without a role sees %+v", tc.v)
			}
		})
	}
}

// TestReaderCanSeeFolded checks the rules on an interaction folded from its events: the
// first agent keeps seeing it after a transfer to another team.
func TestReaderCanSeeFolded(t *testing.T) {
	var in Interaction
	in.Apply(mustEvent(t, eventID(1), TypeInteractionStarted, at(0, 0), obj{"interaction_id": "c", "flow": "voice",
		"direction": "incoming", "routing": "smart", "queue_id": "q-sales", "agent_id": "ag-1"}))
	in.Apply(mustEvent(t, eventID(2), TypeInteractionRouted, at(1, 0), obj{"interaction_id": "c", "routing": "direct", "agent_id": "ag-2"}))
	v := in.Visibility()
	tests := []struct {
		name string
		r    Reader
		want bool
	}{
		{"first agent", Reader{AgentID: "ag-1", Role: RoleCollaborator, HistoryAccess: true}, true},
		{"current agent", Reader{AgentID: "ag-2", Role: RoleCollaborator, HistoryAccess: true}, true},
		{"someone else", Reader{AgentID: "ag-3", Role: RoleCollaborator, HistoryAccess: true}, false},
		{"manager of the first agent", Reader{AgentID: "m", Role: RoleManager, TeamAgents: []string{"ag-1"}, HistoryAccess: true}, true},
		{"manager on the original queue", Reader{AgentID: "m", Role: RoleManager, ProfileQueues: []string{"q-sales"}, HistoryAccess: true}, true},
		{"admin: smart by origin, though transferred direct", Reader{AgentID: "a", Role: RoleAdministrator, ProfileQueues: []string{"q-sales"}, ProfileFlows: []Flow{FlowVoice}, HistoryAccess: true}, true},
		{"admin without the queue", Reader{AgentID: "a", Role: RoleAdministrator, ProfileFlows: []Flow{FlowVoice}, HistoryAccess: true}, false},
		{"first agent without history access", Reader{AgentID: "ag-1", Role: RoleCollaborator}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.CanSee(v); got != tc.want {
				t.Errorf("CanSee = %v, want %v (visibility %+v)", got, tc.want, v)
			}
		})
	}
}

// TestReaderReasons checks what visible_because says: which rule, and the agent, team,
// queue and profile it concerns.
func TestReaderReasons(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	mgr := Reader{AgentID: "me", Role: RoleManager, TeamAgents: []string{"mate"},
		Teams: []ManagedTeam{{TeamID: "t-sales", Agents: []string{"mate"}}}, ProfileID: "p-1",
		ProfileQueues: []string{"q-sales"}, HistoryAccess: true}
	admin := Reader{AgentID: "boss", Role: RoleAdministrator, ProfileID: "p-adm",
		ProfileQueues: []string{"q-sales"}, ProfileFlows: []Flow{FlowVoice}, HistoryAccess: true}
	collab := Reader{AgentID: "me", Role: RoleCollaborator, HistoryAccess: true}
	tests := []struct {
		name string
		r    Reader
		v    Visibility
		want []Reason
	}{
		{"own now", collab, Visibility{Agents: []string{"me"}, CurrentAgent: "me", Since: map[string]time.Time{"me": t0}},
			[]Reason{{Rule: RuleOwn, Agent: "me", Since: &t0}}},
		{"before a transfer", collab, Visibility{Agents: []string{"me", "other"}, CurrentAgent: "other"},
			[]Reason{{Rule: RuleBeforeTransfer, Agent: "me"}}},
		{"nothing", collab, Visibility{Agents: []string{"other"}, CurrentAgent: "other"}, nil},
		{"manager: own, team and queue", mgr, Visibility{Agents: []string{"mate", "me"}, CurrentAgent: "me",
			Queues: []string{"q-other", "q-sales"}, OriginalRouting: RoutingSmart},
			[]Reason{{Rule: RuleOwn, Agent: "me"}, {Rule: RuleTeam, Agent: "mate", Team: "t-sales"},
				{Rule: RuleQueue, Queue: "q-sales", Profile: "p-1"}}},
		{"manager: queue of a direct one is no reason", mgr, Visibility{Agents: []string{"x"},
			Queues: []string{"q-sales"}, OriginalRouting: RoutingDirect}, nil},
		{"administrator: direct", admin, Visibility{Agents: []string{"x"}, OriginalRouting: RoutingDirect, Flow: FlowSMS},
			[]Reason{{Rule: RuleDirect, Profile: "p-adm"}}},
		{"administrator: smart through a profile queue", admin, Visibility{Queues: []string{"q-sales"},
			OriginalRouting: RoutingSmart, Flow: FlowVoice}, []Reason{{Rule: RuleQueue, Queue: "q-sales", Profile: "p-adm"}}},
		{"administrator: smart, flow not in the profile", admin, Visibility{Queues: []string{"q-sales"},
			OriginalRouting: RoutingSmart, Flow: FlowSMS}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.r.Reasons(tc.v)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Reasons = %+v, want %+v", got, tc.want)
			}
			if tc.r.CanSee(tc.v) != (len(tc.want) > 0) {
				t.Errorf("CanSee = %v, want %v", tc.r.CanSee(tc.v), len(tc.want) > 0)
			}
		})
	}
}
