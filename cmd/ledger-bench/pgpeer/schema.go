package pgpeer

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// schema is created before any event arrives, indexes included: the peer ingests into an
// indexed database, as the ledger does. A stamp is (at, id) and the zero stamp is
// (0001-01-01, ”), lower than any event's, so "later wins" is a row comparison.
const schema = `
CREATE TABLE events (
	id             text PRIMARY KEY,
	type           text NOT NULL,
	occurred_at    timestamptz NOT NULL,
	customer_id    text NOT NULL,
	interaction_id text,
	source         text NOT NULL,
	data           jsonb NOT NULL
);
CREATE INDEX events_interaction ON events (interaction_id, occurred_at, id) WHERE interaction_id IS NOT NULL;

CREATE TABLE interactions (
	id               text PRIMARY KEY,
	start_at         timestamptz NOT NULL,
	first_at         timestamptz NOT NULL,
	customer_id      text NOT NULL,
	cust_at timestamptz NOT NULL, cust_id text NOT NULL,
	st_at   timestamptz NOT NULL, st_id   text NOT NULL,
	flow             text NOT NULL,
	direction        text NOT NULL,
	original_routing text NOT NULL,
	phone            text NOT NULL, -- E.164, or ''
	phone_rev        text COLLATE "C" NOT NULL, -- its digits reversed: a suffix search is a prefix
	email            text NOT NULL, -- lower case, or ''
	contact          text NOT NULL, -- as the list shows it
	voice_campaign   text NOT NULL,
	template         text NOT NULL,
	participants     jsonb,
	cur_at  timestamptz NOT NULL, cur_id  text NOT NULL,
	current_routing  text NOT NULL,
	agent_id         text NOT NULL,
	queue_id         text NOT NULL,
	agents           text[] NOT NULL,
	queues           text[] NOT NULL,
	end_st_at timestamptz NOT NULL, end_st_id text NOT NULL,
	end_at           timestamptz,
	status           text NOT NULL,
	reason           text NOT NULL,
	sr_at   timestamptz NOT NULL, sr_id   text NOT NULL,
	sr_data          jsonb,
	q_at    timestamptz NOT NULL, q_id    text NOT NULL,
	qualifications   text[] NOT NULL,
	message_count    int NOT NULL,
	opened_at        timestamptz,
	open_count       int NOT NULL
);
CREATE INDEX interactions_start ON interactions (start_at, id);
CREATE INDEX interactions_agent ON interactions (agent_id, start_at);
CREATE INDEX interactions_queue ON interactions (queue_id, start_at);
CREATE INDEX interactions_agents ON interactions USING gin (agents);
CREATE INDEX interactions_queues ON interactions USING gin (queues);
CREATE INDEX interactions_phone ON interactions (phone_rev) WHERE phone_rev <> '';
CREATE INDEX interactions_email ON interactions (email) WHERE email <> '';
CREATE INDEX interactions_customer ON interactions (customer_id, start_at);

-- The customer card's other items: one per event, or per note/file/visit id (latest wins).
CREATE TABLE card_items (
	customer_id text NOT NULL,
	kind        text NOT NULL,
	item_key    text NOT NULL,
	occurred_at timestamptz NOT NULL,
	event_id    text NOT NULL,
	type        text NOT NULL,
	data        jsonb NOT NULL,
	PRIMARY KEY (customer_id, kind, item_key)
);
CREATE INDEX card_items_time ON card_items (customer_id, occurred_at DESC);
CREATE INDEX card_items_kind_time ON card_items (customer_id, kind, occurred_at DESC);

-- Tasks: the latest event decides.
CREATE TABLE tasks (
	customer_id text NOT NULL,
	task_id     text NOT NULL,
	created_at  timestamptz NOT NULL,
	st_at timestamptz NOT NULL, st_id text NOT NULL,
	status      text NOT NULL,
	title       text NOT NULL,
	due_at      timestamptz,
	assignee_id text NOT NULL,
	PRIMARY KEY (customer_id, task_id)
);
CREATE INDEX tasks_created ON tasks (customer_id, created_at DESC, task_id);

CREATE TABLE merges (from_id text PRIMARY KEY, to_id text NOT NULL);
CREATE INDEX merges_to ON merges (to_id);

CREATE TABLE agents (
	agent_id text PRIMARY KEY, st_at timestamptz NOT NULL, st_id text NOT NULL,
	role text NOT NULL, team_id text NOT NULL, active_profile_id text NOT NULL
);
CREATE INDEX agents_team ON agents (team_id);
CREATE TABLE teams (
	team_id text PRIMARY KEY, st_at timestamptz NOT NULL, st_id text NOT NULL, manager_ids text[] NOT NULL
);
CREATE INDEX teams_managers ON teams USING gin (manager_ids);
CREATE TABLE profiles (
	profile_id text PRIMARY KEY, st_at timestamptz NOT NULL, st_id text NOT NULL,
	queues text[] NOT NULL, flows text[] NOT NULL, history_access bool NOT NULL
);
`

// CreateDatabase creates database name in the cluster with the peer's schema and returns
// a pool on it.
func CreateDatabase(ctx context.Context, c *Cluster, name string) (*pgxpool.Pool, error) {
	admin, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	_, err = admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	admin.Close(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: create database %s: %w", name, err)
	}
	pool, err := pgxpool.New(ctx, c.DSN(name))
	if err != nil {
		return nil, fmt.Errorf("postgres: connect to %s: %w", name, err)
	}
	if _, err := pool.Exec(ctx, schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: schema: %w", err)
	}
	return pool, nil
}
