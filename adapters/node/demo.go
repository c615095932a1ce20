package node

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/domain/scenario"
	"github.com/interaction-ledger/ledger/eventstore"
)

// DemoTokenTTL is how long the printed demo tokens live.
const DemoTokenTTL = 12 * time.Hour

// demoConfig is a small contact centre: a day of calls, emails, chats and card events.
func demoConfig(now time.Time) scenario.Config {
	return scenario.Config{Seed: 42, Now: now, Days: 1, Interactions: 400, Agents: 12, Teams: 3, Queues: 6,
		Profiles: 4, Customers: 80, CustomerEventsPerInteraction: 0.6}
}

// loadDemo appends the demo contact centre when the stream is empty, then prints how to
// query it as each role.
func (n *Node) loadDemo(ctx context.Context, stdout io.Writer) error {
	sc, err := scenario.New(demoConfig(n.cfg.Now()))
	if err != nil {
		return err
	}
	last, err := n.store.LastSeq(ctx, eventstore.StreamEvents)
	if err != nil {
		return err
	}
	if last == 0 {
		added, err := n.appendAll(ctx, sc)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "loaded %d demo events\n", added)
	}
	printDemoHelp(stdout, n.cfg, sc)
	return nil
}

func (n *Node) appendAll(ctx context.Context, sc *scenario.Scenario) (int, error) {
	batch := sc.Directory()
	count := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := n.ingest.AppendEvents(ctx, batch); err != nil {
			return err
		}
		count += len(batch)
		batch = batch[:0]
		return nil
	}
	var err error
	sc.Events(func(ev domain.Event) bool {
		batch = append(batch, ev)
		if len(batch) >= 1000 {
			err = flush()
		}
		return err == nil
	})
	if err != nil {
		return count, err
	}
	return count, flush()
}

func printDemoHelp(w io.Writer, cfg Config, sc *scenario.Scenario) {
	picked := map[domain.Role]string{}
	for _, a := range sc.Agents() {
		if _, ok := picked[a.Role]; !ok {
			picked[a.Role] = a.AgentID
		}
	}
	fmt.Fprintf(w, "\nThe ledger is serving http://%s with a day of demo data.\n", cfg.HTTPAddr)
	links := demoTokens(cfg, picked)
	fmt.Fprintf(w, "\nOpen the agents' pages in a browser, signed in as:\n")
	for _, l := range links {
		fmt.Fprintf(w, "  %-13s %s  http://%s/signin#token=%s\n", l.role, l.agent, cfg.HTTPAddr, l.token)
	}
	fmt.Fprintf(w, "The lists open on today, in your browser's time zone; the demo holds the last 24 hours\n"+
		"(busiest in this machine's daytime): early in the day, set From to yesterday to see them all.\n")
	fmt.Fprintf(w, "\nOr query the API as:\n")
	for _, l := range links {
		fmt.Fprintf(w, "\n  # %s %s   (or: TOKEN=$(./bin/ledger token -scope 'history:read tasks:write interactions:write' %s))\n", l.role, l.agent, l.agent)
		fmt.Fprintf(w, "  curl -s -H 'Authorization: Bearer %s' 'http://%s/v1/interactions?limit=5'\n", l.token, cfg.HTTPAddr)
	}
	fmt.Fprintf(w, "\n  # a customer's card\n  curl -s -H 'Authorization: Bearer <token>' http://%s/v1/customers/%s/timeline\n", cfg.HTTPAddr, scenario.CustomerID(0))
	fmt.Fprintf(w, "  # operators: ./bin/ledger token -scope ops admin, then GET /v1/admin/status; or ./bin/ledger status\n\n")
}

// demoToken is a demo role's agent and token.
type demoToken struct {
	role  domain.Role
	agent string
	token string
}

// demoTokens mints a token (history:read, tasks:write, interactions:write) for the agent picked for each role.
func demoTokens(cfg Config, picked map[domain.Role]string) []demoToken {
	var out []demoToken
	for _, role := range domain.Roles() {
		id, ok := picked[role]
		if !ok {
			continue
		}
		tok, err := auth.Mint(cfg.AuthSecret, id, []string{auth.ScopeHistoryRead, auth.ScopeTasksWrite, auth.ScopeInteractionsWrite}, time.Now(), DemoTokenTTL)
		if err != nil {
			continue
		}
		out = append(out, demoToken{role: role, agent: id, token: tok})
	}
	return out
}
