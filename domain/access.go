package domain

import "slices"

// Reader is an agent reading the History of interactions, with what the directory says
// about them at the time of the request.
type Reader struct {
	AgentID string
	Role    Role
	// TeamAgents are the agents of the teams the reader manages (managers only).
	TeamAgents []string
	// ProfileQueues and ProfileFlows come from the reader's active profile.
	ProfileQueues []string
	ProfileFlows  []Flow
	HistoryAccess bool
}

// Visibility is what the access rules look at in an interaction.
type Visibility struct {
	Agents          []string // every agent who handled it, current and earlier
	Queues          []string // every queue it passed through
	OriginalRouting Routing
	Flow            Flow
}

// CanSee applies CONTRACT.md §3:
//   - collaborator: interactions they handled (now or before a transfer);
//   - manager: their own, their teams' agents', and smart ones that passed through one of
//     their active profile's queues;
//   - administrator: smart ones that passed through one of their profile's queues with a
//     flow of the profile's flows, and every direct one.
//
// A reader whose profile lacks history access sees nothing.
func (r Reader) CanSee(v Visibility) bool {
	if !r.HistoryAccess {
		return false
	}
	smartInQueue := v.OriginalRouting == RoutingSmart && intersects(v.Queues, r.ProfileQueues)
	switch r.Role {
	case RoleCollaborator:
		return slices.Contains(v.Agents, r.AgentID)
	case RoleManager:
		return slices.Contains(v.Agents, r.AgentID) || intersects(v.Agents, r.TeamAgents) || smartInQueue
	case RoleAdministrator:
		return v.OriginalRouting == RoutingDirect || (smartInQueue && slices.Contains(r.ProfileFlows, v.Flow))
	}
	return false
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
