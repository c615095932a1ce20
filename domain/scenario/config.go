package scenario

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"time"
)

// Config describes the simulated contact centre. The zero value of a field means its
// default; New applies the defaults and then Validate.
type Config struct {
	// Seed drives every random choice; the same Config gives the same events.
	Seed uint64
	// Now is the end of the simulated period: no event occurs after it. Required. The
	// daily rhythm follows Now's location.
	Now time.Time
	// Days is the simulated period, ending at Now. Default 90. The period never starts
	// before domain.RetentionStart(Now)+1h, so every event is inside the retention window
	// of an ingest that runs up to an hour after Now.
	Days int
	// Interactions is the number of interactions started over the period. Default 1000.
	Interactions int
	// Agents is the number of agents (administrators, managers, collaborators). Default
	// 500 from 100,000 interactions, else Interactions/100, at least 6.
	Agents int
	// Teams is the number of teams, each with a manager. Default 50, fewer when there
	// are few agents (at least 2).
	Teams int
	// Queues is the number of queues of smart routing. Default 40 (at least 2).
	Queues int
	// Profiles is the number of profiles; exactly one of them lacks history access.
	// Default 8 (at least 3).
	Profiles int
	// Customers is the number of customers (CustomerID(0) to CustomerID(Customers-1)).
	// Default Interactions/4, at least 10.
	Customers int
	// DuplicateRate is the share of events delivered twice (same id, same content).
	// Default 0.02; negative means none.
	DuplicateRate float64
	// ReorderRate is the share of interaction events delivered after an event of the same
	// interaction that occurred later. Default 0.03; negative means none.
	ReorderRate float64
	// CustomerEventsPerInteraction is the mean number of customer-card events (orders,
	// segments, tasks, notes, files, visits, card changes) per interaction. Default 0.5;
	// negative means none.
	CustomerEventsPerInteraction float64
	// RandomIDs gives interactions random ids (UUIDv4), as a PBX or a provider's webhook
	// assigns them (a Twilio CallSid is random), instead of UUIDv7 ids that sort by time.
	RandomIDs bool
}

// The defaults of Config.
const (
	DefaultDays                         = 90
	DefaultInteractions                 = 1000
	DefaultTeams                        = 50
	DefaultQueues                       = 40
	DefaultProfiles                     = 8
	DefaultDuplicateRate                = 0.02
	DefaultReorderRate                  = 0.03
	DefaultCustomerEventsPerInteraction = 0.5
	maxAgents                           = 500
)

func (c *Config) setDefaults() {
	c.Days = cmp.Or(c.Days, DefaultDays)
	c.Interactions = cmp.Or(c.Interactions, DefaultInteractions)
	c.Agents = cmp.Or(c.Agents, max(6, min(maxAgents, c.Interactions/100)))
	if c.Teams == 0 {
		// Enough agents for 2 administrators, about 2 managers for 3 teams, and at least
		// one collaborator per team.
		c.Teams = max(2, min(DefaultTeams, (c.Agents-3)/3))
	}
	c.Queues = cmp.Or(c.Queues, DefaultQueues)
	c.Profiles = cmp.Or(c.Profiles, DefaultProfiles)
	c.Customers = cmp.Or(c.Customers, max(10, c.Interactions/4))
	c.DuplicateRate = cmp.Or(c.DuplicateRate, DefaultDuplicateRate)
	c.ReorderRate = cmp.Or(c.ReorderRate, DefaultReorderRate)
	c.CustomerEventsPerInteraction = cmp.Or(c.CustomerEventsPerInteraction, DefaultCustomerEventsPerInteraction)
}

// Validate reports every problem of the configuration at once, after applying the
// defaults.
func (c Config) Validate() error {
	c.setDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Now.IsZero() {
		bad("now is required (the end of the simulated period)")
	}
	// least reports a count below its lowest allowed value; true: the count is enough.
	least := func(name string, v, lowest int) bool {
		if v < lowest {
			bad("%s is %d, must be at least %d", name, v, lowest)
		}
		return v >= lowest
	}
	least("days", c.Days, 1)
	least("interactions", c.Interactions, 1)
	least("teams", c.Teams, 2)
	if least("agents", c.Agents, 6) {
		if need := administratorCount(c.Agents) + managerCount(c.Teams) + c.Teams; c.Teams >= 2 && c.Agents < need {
			bad("agents is %d, must be at least %d for %d teams (administrators, managers and a collaborator per team)", c.Agents, need, c.Teams)
		}
	}
	least("queues", c.Queues, 2)
	least("profiles", c.Profiles, 3)
	least("customers", c.Customers, 10)
	rate := func(name string, v, limit float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) || v > limit {
			bad("%s is %v, must be at most %v", name, v, limit)
		}
	}
	rate("duplicate_rate", c.DuplicateRate, 1)
	rate("reorder_rate", c.ReorderRate, 1)
	rate("customer_events_per_interaction", c.CustomerEventsPerInteraction, 100)
	if len(errs) > 0 {
		return fmt.Errorf("scenario config: %w", errors.Join(errs...))
	}
	return nil
}

// administratorCount is 2, or 3 from 50 agents.
func administratorCount(agents int) int {
	if agents >= 50 {
		return 3
	}
	return 2
}

// managerCount: one manager per team, a third of them managing a second team.
func managerCount(teams int) int { return teams - teams/3 }

func nonNegative(v float64) float64 { return max(0, v) }
