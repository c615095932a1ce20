// Package directory holds the directory view: agents, teams and profiles (CONTRACT.md §2,
// directory.*), the reference data that decides who sees what. It reads the directory
// stream, which no retention removes, and answers Reader(agent) on every request, so a
// change of team, profile or access takes effect on the next request without touching
// the history view.
package directory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
)

// Name is the view's name. WARNING: renaming re-consumes the directory stream.
const Name = "directory"

var (
	bAgents   = []byte("agents")
	bTeams    = []byte("teams")
	bProfiles = []byte("profiles")
	bMembers  = []byte("team_agents") // team \x00 agent
	bManaged  = []byte("managed")     // manager \x00 team
)

// Agent, Team and Profile are the stored records: the last directory event's data, with
// the stamp that decides which event is the latest.
type Agent struct {
	AgentID         string          `json:"agent_id"`
	Role            domain.Role     `json:"role"`
	Name            string          `json:"name,omitempty"`
	TeamID          string          `json:"team_id,omitempty"`
	ActiveProfileID string          `json:"active_profile_id,omitempty"`
	Buttons         []domain.Button `json:"buttons,omitempty"`
	Stamp           domain.Stamp    `json:"stamp"`
}

// Team is a stored team.
type Team struct {
	TeamID     string       `json:"team_id"`
	Name       string       `json:"name,omitempty"`
	ManagerIDs []string     `json:"manager_ids,omitempty"`
	Stamp      domain.Stamp `json:"stamp"`
}

// Profile is a stored profile.
type Profile struct {
	ProfileID     string          `json:"profile_id"`
	Name          string          `json:"name,omitempty"`
	Queues        []string        `json:"queues,omitempty"`
	Flows         []domain.Flow   `json:"flows,omitempty"`
	HistoryAccess bool            `json:"history_access"`
	Buttons       []domain.Button `json:"buttons,omitempty"`
	Stamp         domain.Stamp    `json:"stamp"`
}

// View is the directory view.
type View struct {
	db *projections.DB
	// readers remembers the Readers built at one version of the file: every request asks
	// for its agent's, and building one decodes the agent, the profile and the teams
	// (7 % of the CPU of a list request, profiled). A write to the file makes a new
	// version, so a change of rights is seen by the next request, as without the cache.
	mu      sync.Mutex
	readers map[string]cachedReader
	version [2]uint64 // the file generation and transaction id readers were built at
}

type cachedReader struct {
	r  domain.Reader
	ok bool
}

// maxCachedReaders bounds the cache; past it, it starts again empty.
const maxCachedReaders = 10_000

var _ projections.View = (*View)(nil)

// New returns the directory view over db.
func New(db *projections.DB) *View { return &View{db: db, readers: map[string]cachedReader{}} }

// Name implements projections.View.
func (*View) Name() string { return Name }

// Stream implements projections.View: the directory stream, never expired.
func (*View) Stream() string { return "LEDGER_DIRECTORY" }

// Init implements projections.View.
func (*View) Init(tx *bolt.Tx) error {
	for _, b := range [][]byte{bAgents, bTeams, bProfiles, bMembers, bManaged} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return nil
}

// Apply implements projections.View: each directory event is the record's whole state;
// the latest (occurred_at, id) wins whatever the order of arrival.
func (v *View) Apply(tx *bolt.Tx, batch []projections.Applied) error {
	for _, a := range batch {
		st := domain.Stamp{At: a.Event.OccurredAt, ID: a.Event.ID}
		var err error
		switch d := a.Event.Payload.(type) {
		case *domain.AgentData:
			err = v.putAgent(tx, Agent{AgentID: d.AgentID, Role: d.Role, Name: d.Name, TeamID: d.TeamID, ActiveProfileID: d.ActiveProfileID, Buttons: d.Buttons, Stamp: st})
		case *domain.TeamData:
			err = v.putTeam(tx, Team{TeamID: d.TeamID, Name: d.Name, ManagerIDs: d.ManagerIDs, Stamp: st})
		case *domain.ProfileData:
			err = putIfNewer(tx.Bucket(bProfiles), d.ProfileID, st, Profile{ProfileID: d.ProfileID, Name: d.Name, Queues: d.Queues, Flows: d.Flows, HistoryAccess: d.HistoryAccess, Buttons: d.Buttons, Stamp: st}, nil)
		}
		if err != nil {
			return fmt.Errorf("apply %s %s (seq %d): %w", a.Event.Type, a.Event.ID, a.Seq, err)
		}
	}
	return nil
}

func (v *View) putAgent(tx *bolt.Tx, ag Agent) error {
	var old Agent
	return putIfNewer(tx.Bucket(bAgents), ag.AgentID, ag.Stamp, ag, &old, func() error {
		m := tx.Bucket(bMembers)
		if old.TeamID != "" {
			if err := m.Delete(pair(old.TeamID, ag.AgentID)); err != nil {
				return err
			}
		}
		if ag.TeamID != "" {
			return m.Put(pair(ag.TeamID, ag.AgentID), nil)
		}
		return nil
	})
}

func (v *View) putTeam(tx *bolt.Tx, t Team) error {
	var old Team
	return putIfNewer(tx.Bucket(bTeams), t.TeamID, t.Stamp, t, &old, func() error {
		m := tx.Bucket(bManaged)
		for _, id := range old.ManagerIDs {
			if err := m.Delete(pair(id, t.TeamID)); err != nil {
				return err
			}
		}
		for _, id := range t.ManagerIDs {
			if err := m.Put(pair(id, t.TeamID), nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// stamped lets putIfNewer read a stored record's stamp.
type stamped struct {
	Stamp domain.Stamp `json:"stamp"`
}

// putIfNewer stores rec under id unless the stored record is newer. old, if not nil,
// receives the stored record, and then (if given) runs to fix secondary keys.
func putIfNewer(b *bolt.Bucket, id string, st domain.Stamp, rec any, old any, then ...func() error) error {
	if cur := b.Get([]byte(id)); cur != nil {
		var s stamped
		if err := json.Unmarshal(cur, &s); err != nil {
			return fmt.Errorf("decode stored %s: %w", id, err)
		}
		if !st.After(s.Stamp) {
			return nil
		}
		if old != nil {
			if err := json.Unmarshal(cur, old); err != nil {
				return fmt.Errorf("decode stored %s: %w", id, err)
			}
		}
	}
	val, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := b.Put([]byte(id), val); err != nil {
		return err
	}
	for _, f := range then {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

func pair(a, b string) []byte {
	k := make([]byte, 0, len(a)+1+len(b))
	k = append(k, a...)
	k = append(k, 0)
	return append(k, b...)
}

// Reader returns what the access rules need to know about agentID now. ok is false for
// an agent the directory does not know. The Reader's slices are the caller's own.
func (v *View) Reader(agentID string) (r domain.Reader, ok bool, err error) {
	gen := v.db.Generation()
	err = v.db.View(func(tx *bolt.Tx) error {
		version := [2]uint64{gen, uint64(tx.ID())} // tx.ID is the last write's
		v.mu.Lock()
		c, hit := v.readers[agentID]
		hit = hit && v.version == version
		v.mu.Unlock()
		if hit {
			r, ok = cloneReader(c.r), c.ok
			return nil
		}
		r, ok = buildReader(tx, agentID)
		v.mu.Lock()
		if v.version != version || len(v.readers) >= maxCachedReaders {
			clear(v.readers)
			v.version = version
		}
		v.readers[agentID] = cachedReader{cloneReader(r), ok}
		v.mu.Unlock()
		return nil
	})
	return r, ok, err
}

// buildReader reads the Reader of agentID from the file.
func buildReader(tx *bolt.Tx, agentID string) (r domain.Reader, ok bool) {
	var ag Agent
	if !get(tx.Bucket(bAgents), agentID, &ag) {
		return r, false
	}
	r = domain.Reader{AgentID: agentID, Role: ag.Role}
	var p Profile
	if ag.ActiveProfileID != "" && get(tx.Bucket(bProfiles), ag.ActiveProfileID, &p) {
		r.ProfileID = ag.ActiveProfileID
		r.ProfileQueues, r.ProfileFlows, r.HistoryAccess = p.Queues, p.Flows, p.HistoryAccess
	}
	if ag.Role == domain.RoleManager {
		for _, team := range prefixed(tx.Bucket(bManaged), agentID) {
			members := prefixed(tx.Bucket(bMembers), team)
			r.Teams = append(r.Teams, domain.ManagedTeam{TeamID: team, Agents: members})
			r.TeamAgents = append(r.TeamAgents, members...)
		}
		slices.Sort(r.TeamAgents)
		r.TeamAgents = slices.Compact(r.TeamAgents)
	}
	return r, true
}

// cloneReader copies r's slices, so that no caller shares them with the cache.
func cloneReader(r domain.Reader) domain.Reader {
	r.TeamAgents, r.ProfileQueues, r.ProfileFlows = slices.Clone(r.TeamAgents), slices.Clone(r.ProfileQueues), slices.Clone(r.ProfileFlows)
	teams := slices.Clone(r.Teams)
	for i := range teams {
		teams[i].Agents = slices.Clone(teams[i].Agents)
	}
	r.Teams = teams
	return r
}

// Buttons returns the My buttons of agentID: the agent's own, then those of their active
// profile (none for an agent the directory does not know). Their URL templates were
// validated when their directory event arrived.
func (v *View) Buttons(agentID string) ([]domain.Button, error) {
	var out []domain.Button
	err := v.db.View(func(tx *bolt.Tx) error {
		var ag Agent
		if !get(tx.Bucket(bAgents), agentID, &ag) {
			return nil
		}
		out = append(out, ag.Buttons...)
		var p Profile
		if ag.ActiveProfileID != "" && get(tx.Bucket(bProfiles), ag.ActiveProfileID, &p) {
			out = append(out, p.Buttons...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("directory: buttons of %s: %w", agentID, err)
	}
	return out, nil
}

// Agent returns the stored agent record.
func (v *View) Agent(id string) (Agent, bool, error) {
	var ag Agent
	var ok bool
	err := v.db.View(func(tx *bolt.Tx) error { ok = get(tx.Bucket(bAgents), id, &ag); return nil })
	return ag, ok, err
}

// Counts returns how many agents, teams and profiles the directory holds.
func (v *View) Counts() (agents, teams, profiles int, err error) {
	err = v.db.View(func(tx *bolt.Tx) error {
		agents, teams, profiles = tx.Bucket(bAgents).Stats().KeyN, tx.Bucket(bTeams).Stats().KeyN, tx.Bucket(bProfiles).Stats().KeyN
		return nil
	})
	return
}

func get(b *bolt.Bucket, id string, dst any) bool {
	if b == nil {
		return false
	}
	v := b.Get([]byte(id))
	return v != nil && json.Unmarshal(v, dst) == nil
}

// prefixed returns the second halves of the pair keys that start with first.
func prefixed(b *bolt.Bucket, first string) []string {
	if b == nil {
		return nil
	}
	p := append([]byte(first), 0)
	var out []string
	c := b.Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		out = append(out, string(k[len(p):]))
	}
	return out
}
