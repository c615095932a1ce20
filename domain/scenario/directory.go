package scenario

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/interaction-ledger/ledger/domain"
)

// AgentInfo is one agent of the generated directory, for callers that act as a reader
// (benchmarks picking a manager, an administrator or a collaborator).
type AgentInfo struct {
	AgentID   string
	Name      string
	Role      domain.Role
	TeamID    string // the agent's own team; "" for administrators
	ProfileID string // the active profile
	// ManagedTeamIDs are the teams a manager manages (one or two).
	ManagedTeamIDs []string
	// HistoryAccess is the active profile's history_access: false for the agents on the
	// one profile without it.
	HistoryAccess bool
}

type team struct {
	id       string
	name     string
	managers []int // agent indexes
	members  []int // agents whose own team this is (its manager and collaborators)
}

type profile struct {
	id     string
	name   string
	queues []string
	flows  []domain.Flow
	access bool
}

var queueNames = []string{"sales", "support", "billing", "retention", "claims", "onboarding", "vip", "tech", "returns", "collections"}

func queueID(q int) string {
	return queueNames[q%len(queueNames)] + "-" + strconv.Itoa(q/len(queueNames)+1)
}

// AgentID names agent i (0-based) of the directory.
func agentID(i int) string { return "agent-" + strconv.Itoa(i+1) }

// buildDirectory lays out profiles, teams and agents:
//   - profile-1 lacks history access; the others cover two residue classes of the queues
//     each, and either every flow, voice/email/SMS, or voice and messaging;
//   - agents are the administrators first (on profiles 2..4, subsets of queues and
//     flows), then one manager per team, the first third of them also managing one of
//     the last teams, then the collaborators, spread over the teams, one in fifteen on the
//     profile without history access.
func (s *Scenario) buildDirectory() {
	c := s.cfg
	r := rand.New(rand.NewPCG(c.Seed, 0x6469726563746f72)) // "director"

	s.queues = make([]string, c.Queues)
	for q := range s.queues {
		s.queues[q] = queueID(q)
	}
	n := c.Profiles - 1
	s.profiles = make([]profile, c.Profiles)
	s.profiles[0] = profile{id: "profile-1", name: "Agent without history", queues: slices.Clone(s.queues),
		flows: domain.Flows(), access: false}
	for k := 1; k < c.Profiles; k++ {
		p := profile{id: "profile-" + strconv.Itoa(k+1), access: true}
		for q, id := range s.queues {
			if q%n == k-1 || q%n == k%n {
				p.queues = append(p.queues, id)
			}
		}
		switch k % 3 {
		case 0:
			p.name = fmt.Sprintf("Omnichannel %d", k)
			p.flows = domain.Flows()
		case 1:
			p.name = fmt.Sprintf("Voice and email %d", k)
			p.flows = []domain.Flow{domain.FlowVoice, domain.FlowEmail, domain.FlowSMS}
		case 2:
			p.name = fmt.Sprintf("Messaging %d", k)
			p.flows = []domain.Flow{domain.FlowVoice, domain.FlowWhatsApp, domain.FlowWhatsAppCampaign,
				domain.FlowTelegram, domain.FlowChat, domain.FlowMessenger}
		}
		s.profiles[k] = p
	}

	s.teams = make([]team, c.Teams)
	for t := range s.teams {
		s.teams[t] = team{id: "team-" + strconv.Itoa(t+1), name: teamNames[t%len(teamNames)] + " " + strconv.Itoa(t/len(teamNames)+1)}
	}
	admins, managers := administratorCount(c.Agents), managerCount(c.Teams)
	s.agents = make([]AgentInfo, c.Agents)
	for i := range s.agents {
		a := AgentInfo{AgentID: agentID(i), Name: firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))]}
		var p int
		switch {
		case i < admins:
			a.Role = domain.RoleAdministrator
			p = 1 + i%n
		case i < admins+managers:
			m := i - admins
			a.Role = domain.RoleManager
			a.TeamID = s.teams[m].id
			s.teams[m].managers = append(s.teams[m].managers, i)
			s.teams[m].members = append(s.teams[m].members, i)
			a.ManagedTeamIDs = []string{s.teams[m].id}
			if second := managers + m; second < c.Teams {
				s.teams[second].managers = append(s.teams[second].managers, i)
				a.ManagedTeamIDs = append(a.ManagedTeamIDs, s.teams[second].id)
			}
			p = 1 + m%n
		default:
			k := i - admins - managers
			t := k % c.Teams
			a.Role = domain.RoleCollaborator
			a.TeamID = s.teams[t].id
			s.teams[t].members = append(s.teams[t].members, i)
			p = 1 + t%n
			if k%15 == 14 {
				p = 0
			}
			s.handlers = append(s.handlers, i)
		}
		if a.Role == domain.RoleManager {
			s.handlers = append(s.handlers, i)
		}
		a.ProfileID = s.profiles[p].id
		a.HistoryAccess = s.profiles[p].access
		s.agents[i] = a
	}
	slices.Sort(s.handlers)

	// Directory events, a little before the period.
	at := s.from.Add(-30 * time.Minute)
	add := func(t domain.EventType, data domain.Payload) {
		id := uuid7(r, at.UnixMilli())
		ev, err := domain.NewEvent(id, t, at, "", "scenario", data, at)
		if err != nil {
			// The directory is built from constants and validated counts.
			panic(fmt.Sprintf("scenario: invalid %s: %v", t, err))
		}
		s.directory = append(s.directory, ev)
		at = at.Add(time.Second)
	}
	for _, p := range s.profiles {
		add(domain.TypeDirectoryProfile, &domain.ProfileData{ProfileID: p.id, Name: p.name, Queues: p.queues,
			Flows: p.flows, HistoryAccess: p.access})
	}
	for _, t := range s.teams {
		ids := make([]string, len(t.managers))
		for k, m := range t.managers {
			ids[k] = s.agents[m].AgentID
		}
		add(domain.TypeDirectoryTeam, &domain.TeamData{TeamID: t.id, Name: t.name, ManagerIDs: ids})
	}
	for _, a := range s.agents {
		add(domain.TypeDirectoryAgent, &domain.AgentData{AgentID: a.AgentID, Role: a.Role, Name: a.Name,
			TeamID: a.TeamID, ActiveProfileID: a.ProfileID})
	}
}

// Reader returns the domain.Reader the directory makes of agent id (CONTRACT.md §3), and
// false for an unknown agent.
func (s *Scenario) Reader(agentID string) (domain.Reader, bool) {
	i := slices.IndexFunc(s.agents, func(a AgentInfo) bool { return a.AgentID == agentID })
	if i < 0 {
		return domain.Reader{}, false
	}
	a := s.agents[i]
	r := domain.Reader{AgentID: a.AgentID, Role: a.Role}
	for _, tid := range a.ManagedTeamIDs {
		for _, t := range s.teams {
			if t.id == tid {
				for _, m := range t.members {
					r.TeamAgents = append(r.TeamAgents, s.agents[m].AgentID)
				}
			}
		}
	}
	for _, p := range s.profiles {
		if p.id == a.ProfileID {
			r.ProfileQueues, r.ProfileFlows, r.HistoryAccess = slices.Clone(p.queues), slices.Clone(p.flows), p.access
		}
	}
	return r, true
}

var teamNames = []string{"Paris", "Lyon", "Montreal", "Boston", "Austin", "Lisbon", "Dublin", "Berlin", "Madrid", "Toronto"}
