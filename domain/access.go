package domain

import (
	"slices"
	"time"
)

// Reader is an agent reading the History of interactions, with what the directory says
// about them at the time of the request.
type Reader struct {
	AgentID string
	Role    Role
	// TeamAgents are the agents of the teams the reader manages (managers only).
	TeamAgents []string
	// Teams names, for each team the reader manages, its agents (managers only): what a
	// "team" reason cites. A reader built without it still sees by TeamAgents, and its
	// team reasons name no team.
	Teams []ManagedTeam
	// ProfileID is the reader's active profile, cited by "queue" and "direct" reasons.
	ProfileID string
	// ProfileQueues and ProfileFlows come from the reader's active profile.
	ProfileQueues []string
	ProfileFlows  []Flow
	HistoryAccess bool
}

// ManagedTeam is one team a manager manages, with its agents.
type ManagedTeam struct {
	TeamID string
	Agents []string
}

// Visibility is what the access rules look at in an interaction.
type Visibility struct {
	Agents          []string // every agent who handled it, current and earlier
	Queues          []string // every queue it passed through
	OriginalRouting Routing
	Flow            Flow
	// CurrentAgent is the agent handling it now: a reason tells "own" (CurrentAgent) from
	// "before_transfer" (one of the others). Optional: without it every agent reason is "own".
	CurrentAgent string
	// Since tells when an agent first handled it (a reason's since); optional.
	Since map[string]time.Time
}

// Rule is why a reader may see an interaction: a closed set.
type Rule struct{ enum }

// The access rules of CONTRACT.md §3 as a reason names them.
var (
	RuleOwn            = Rule{enum{"own"}}             // the reader handles it now
	RuleBeforeTransfer = Rule{enum{"before_transfer"}} // the reader handled it before a transfer
	RuleTeam           = Rule{enum{"team"}}            // an agent of a team the reader manages handled it
	RuleQueue          = Rule{enum{"queue"}}           // smart, through a queue of the reader's profile
	RuleDirect         = Rule{enum{"direct"}}          // direct, seen by an administrator
)

// Reason is one reason why a reader may see an interaction (visible_because), with what
// the rule concerns: the agent who handled it, the team, the queue, the profile.
type Reason struct {
	Rule    Rule       `json:"rule"`
	Agent   string     `json:"agent,omitempty"`
	Team    string     `json:"team,omitempty"`
	Queue   string     `json:"queue,omitempty"`
	Profile string     `json:"profile,omitempty"`
	Since   *time.Time `json:"since,omitempty"` // when Agent first handled it, when known
}

// CanSee applies CONTRACT.md §3:
//   - collaborator: interactions they handled (now or before a transfer);
//   - manager: their own, their teams' agents', and smart ones that passed through one of
//     their active profile's queues;
//   - administrator: smart ones that passed through one of their profile's queues with a
//     flow of the profile's flows, and every direct one.
//
// A reader whose profile lacks history access sees nothing. It is true exactly when
// Reasons would return at least one reason: both walk the same rule (grants).
func (r Reader) CanSee(v Visibility) bool {
	seen := false
	r.grants(&v, func(Reason) bool { seen = true; return false })
	return seen
}

// Reasons returns every reason why r may see the interaction, none when r may not: the
// visible_because of the detail.
func (r Reader) Reasons(v Visibility) []Reason {
	var out []Reason
	r.grants(&v, func(rs Reason) bool { out = append(out, rs); return true })
	return out
}

// grants is the access rule itself: it calls yield with each reason r may see v for,
// until yield returns false. CanSee and Reasons are two ways of asking it, so the reason
// given can never disagree with the access granted.
func (r *Reader) grants(v *Visibility, yield func(Reason) bool) {
	if !r.HistoryAccess {
		return
	}
	switch r.Role {
	case RoleCollaborator:
		r.own(v, yield)
	case RoleManager:
		if r.own(v, yield) && r.team(v, yield) {
			r.queue(v, false, yield)
		}
	case RoleAdministrator:
		if v.OriginalRouting == RoutingDirect {
			if !yield(Reason{Rule: RuleDirect, Profile: r.ProfileID}) {
				return
			}
		}
		r.queue(v, true, yield)
	}
}

// own yields the reader's own handling; false when yield asked to stop.
func (r *Reader) own(v *Visibility, yield func(Reason) bool) bool {
	if !slices.Contains(v.Agents, r.AgentID) {
		return true
	}
	rule := RuleOwn
	if v.CurrentAgent != "" && v.CurrentAgent != r.AgentID {
		rule = RuleBeforeTransfer
	}
	return yield(Reason{Rule: rule, Agent: r.AgentID, Since: v.since(r.AgentID)})
}

// team yields each agent of the reader's teams who handled v; false when yield asked to stop.
func (r *Reader) team(v *Visibility, yield func(Reason) bool) bool {
	if !intersects(v.Agents, r.TeamAgents) {
		return true
	}
	for _, a := range v.Agents {
		if !slices.Contains(r.TeamAgents, a) {
			continue
		}
		rs := Reason{Rule: RuleTeam, Agent: a, Since: v.since(a)}
		for _, t := range r.Teams {
			if slices.Contains(t.Agents, a) {
				rs.Team = t.TeamID
				break
			}
		}
		if !yield(rs) {
			return false
		}
	}
	return true
}

// queue yields each profile queue a smart v passed through (with a flow of the profile's
// flows when flows is set); false when yield asked to stop.
func (r *Reader) queue(v *Visibility, flows bool, yield func(Reason) bool) bool {
	if v.OriginalRouting != RoutingSmart || (flows && !slices.Contains(r.ProfileFlows, v.Flow)) {
		return true
	}
	for _, q := range v.Queues {
		if slices.Contains(r.ProfileQueues, q) && !yield(Reason{Rule: RuleQueue, Queue: q, Profile: r.ProfileID}) {
			return false
		}
	}
	return true
}

func (v *Visibility) since(agent string) *time.Time {
	t, ok := v.Since[agent]
	if !ok {
		return nil
	}
	t = t.UTC()
	return &t
}

func intersects(a, b []string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
