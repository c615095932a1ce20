package pgpeer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/domain/contact"
)

// Store is the peer's database.
type Store struct {
	pool   *pgxpool.Pool
	region string // for national phone numbers, as the ledger's --region
}

// NewStore wraps a pool on a database made by CreateDatabase.
func NewStore(pool *pgxpool.Pool, region string) *Store { return &Store{pool: pool, region: region} }

// insertEvents stores the batch's events; RETURNING names the ones that were new, the
// only ones folded (a resent event changes nothing).
const insertEvents = `INSERT INTO events (id, type, occurred_at, customer_id, interaction_id, source, data)
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::jsonb[])
ON CONFLICT (id) DO NOTHING RETURNING id`

// upsertInteraction merges a partial fold (the batch's new events of one interaction,
// folded by domain.Interaction.Apply) into the stored row with the fold's rules: each
// group of columns is taken from the side with the later stamp, agents and queues are
// unions, counts add up, start_at is the started event's time or the earliest event's.
var upsertInteraction = func() string {
	cols := []string{"id", "start_at", "first_at", "customer_id", "cust_at", "cust_id", "st_at", "st_id", "flow", "direction",
		"original_routing", "phone", "phone_rev", "email", "contact", "voice_campaign", "template", "participants",
		"cur_at", "cur_id", "current_routing", "agent_id", "queue_id", "agents", "queues",
		"end_st_at", "end_st_id", "end_at", "status", "reason", "sr_at", "sr_id", "sr_data",
		"q_at", "q_id", "qualifications", "message_count", "opened_at", "open_count"}
	ph := make([]string, len(cols))
	for i := range cols {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	later := func(at, id string) string {
		return fmt.Sprintf("(EXCLUDED.%s, EXCLUDED.%s) > (i.%s, i.%s)", at, id, at, id)
	}
	// A real started replaces an inferred one; an inference fills only while no real
	// started is known (both stamps zero).
	takeStarted := "(" + later("st_at", "st_id") + " OR (i.st_id = '' AND EXCLUDED.st_id = '' AND EXCLUDED.flow <> ''))"
	groups := []struct {
		cond string
		cols []string
	}{
		{later("cust_at", "cust_id"), []string{"customer_id", "cust_at", "cust_id"}},
		{takeStarted, []string{"st_at", "st_id", "flow", "direction", "original_routing", "phone", "phone_rev", "email",
			"contact", "voice_campaign", "template", "participants"}},
		{later("cur_at", "cur_id"), []string{"cur_at", "cur_id", "current_routing", "agent_id", "queue_id"}},
		{later("end_st_at", "end_st_id"), []string{"end_st_at", "end_st_id", "end_at", "status", "reason"}},
		{later("sr_at", "sr_id"), []string{"sr_at", "sr_id", "sr_data"}},
		{later("q_at", "q_id"), []string{"q_at", "q_id", "qualifications"}},
	}
	var set []string
	for _, g := range groups {
		for _, c := range g.cols {
			set = append(set, fmt.Sprintf("%s = CASE WHEN %s THEN EXCLUDED.%s ELSE i.%s END", c, g.cond, c, c))
		}
	}
	set = append(set,
		"first_at = LEAST(i.first_at, EXCLUDED.first_at)",
		fmt.Sprintf(`start_at = CASE WHEN %s THEN
			(CASE WHEN EXCLUDED.st_id <> '' THEN EXCLUDED.st_at ELSE LEAST(i.first_at, EXCLUDED.first_at) END)
			ELSE (CASE WHEN i.st_id <> '' THEN i.st_at ELSE LEAST(i.first_at, EXCLUDED.first_at) END) END`, takeStarted),
		"agents = ARRAY(SELECT DISTINCT unnest(i.agents || EXCLUDED.agents) ORDER BY 1)",
		"queues = ARRAY(SELECT DISTINCT unnest(i.queues || EXCLUDED.queues) ORDER BY 1)",
		"message_count = i.message_count + EXCLUDED.message_count",
		"open_count = i.open_count + EXCLUDED.open_count",
		"opened_at = LEAST(i.opened_at, EXCLUDED.opened_at)", // LEAST ignores NULL
	)
	return "INSERT INTO interactions AS i (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(ph, ", ") +
		") ON CONFLICT (id) DO UPDATE SET " + strings.Join(set, ",\n")
}()

// upsertCardItem keeps the latest event of an item (an event's own item never conflicts).
const upsertCardItem = `INSERT INTO card_items AS c (customer_id, kind, item_key, occurred_at, event_id, type, data)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (customer_id, kind, item_key) DO UPDATE SET occurred_at = EXCLUDED.occurred_at, event_id = EXCLUDED.event_id,
	type = EXCLUDED.type, data = EXCLUDED.data
WHERE (EXCLUDED.occurred_at, EXCLUDED.event_id) > (c.occurred_at, c.event_id)`

// upsertTask: the latest event decides the status; title, due and assignee come from the
// latest event that carries each; created_at is the earliest event.
const upsertTask = `INSERT INTO tasks AS t (customer_id, task_id, created_at, st_at, st_id, status, title, due_at, assignee_id)
VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8)
ON CONFLICT (customer_id, task_id) DO UPDATE SET
	created_at = LEAST(t.created_at, EXCLUDED.created_at),
	st_at = GREATEST(t.st_at, EXCLUDED.st_at),
	st_id = CASE WHEN (EXCLUDED.st_at, EXCLUDED.st_id) > (t.st_at, t.st_id) THEN EXCLUDED.st_id ELSE t.st_id END,
	status = CASE WHEN (EXCLUDED.st_at, EXCLUDED.st_id) > (t.st_at, t.st_id) THEN EXCLUDED.status ELSE t.status END,
	title = CASE WHEN (EXCLUDED.st_at, EXCLUDED.st_id) > (t.st_at, t.st_id) AND EXCLUDED.title <> '' OR t.title = '' THEN EXCLUDED.title ELSE t.title END,
	due_at = CASE WHEN (EXCLUDED.st_at, EXCLUDED.st_id) > (t.st_at, t.st_id) AND EXCLUDED.due_at IS NOT NULL OR t.due_at IS NULL THEN EXCLUDED.due_at ELSE t.due_at END,
	assignee_id = CASE WHEN (EXCLUDED.st_at, EXCLUDED.st_id) > (t.st_at, t.st_id) AND EXCLUDED.assignee_id <> '' OR t.assignee_id = '' THEN EXCLUDED.assignee_id ELSE t.assignee_id END`

const (
	upsertAgent = `INSERT INTO agents AS a VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (agent_id) DO UPDATE SET
	st_at = EXCLUDED.st_at, st_id = EXCLUDED.st_id, role = EXCLUDED.role, team_id = EXCLUDED.team_id, active_profile_id = EXCLUDED.active_profile_id
	WHERE (EXCLUDED.st_at, EXCLUDED.st_id) > (a.st_at, a.st_id)`
	upsertTeam = `INSERT INTO teams AS t VALUES ($1, $2, $3, $4) ON CONFLICT (team_id) DO UPDATE SET
	st_at = EXCLUDED.st_at, st_id = EXCLUDED.st_id, manager_ids = EXCLUDED.manager_ids
	WHERE (EXCLUDED.st_at, EXCLUDED.st_id) > (t.st_at, t.st_id)`
	upsertProfile = `INSERT INTO profiles AS p VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (profile_id) DO UPDATE SET
	st_at = EXCLUDED.st_at, st_id = EXCLUDED.st_id, queues = EXCLUDED.queues, flows = EXCLUDED.flows, history_access = EXCLUDED.history_access
	WHERE (EXCLUDED.st_at, EXCLUDED.st_id) > (p.st_at, p.st_id)`
	insertMerge = `INSERT INTO merges VALUES ($1, $2) ON CONFLICT (from_id) DO UPDATE SET to_id = EXCLUDED.to_id`
)

// Ingest stores a batch of decoded events in one transaction and returns how many were
// new; the others were already stored (a resend) and change nothing.
func (s *Store) Ingest(ctx context.Context, evs []domain.Event) (accepted int, err error) {
	// A deadlock or serialization failure between concurrent batches is PostgreSQL asking
	// for the transaction again: a few attempts before the client hears of it.
	for attempt := 1; ; attempt++ {
		accepted, err = s.ingestOnce(ctx, evs)
		var pgErr *pgconn.PgError
		if attempt == ingestAttempts || !errors.As(err, &pgErr) || (pgErr.Code != "40P01" && pgErr.Code != "40001") {
			return accepted, err
		}
	}
}

// ingestAttempts bounds Ingest's retries of a transaction PostgreSQL aborted.
const ingestAttempts = 4

func (s *Store) ingestOnce(ctx context.Context, evs []domain.Event) (accepted int, err error) {
	if len(evs) == 0 {
		return 0, nil
	}
	// The events go in by id for the same reason (a duplicate sent in two batches at once
	// is a conflict on the same key), their fold below in the order they came.
	byID := slices.SortedFunc(slices.Values(evs), func(a, b domain.Event) int { return strings.Compare(a.ID, b.ID) })
	ids, types, customers, sources := make([]string, len(evs)), make([]string, len(evs)), make([]string, len(evs)), make([]string, len(evs))
	ats := make([]time.Time, len(evs))
	iids := make([]*string, len(evs))
	datas := make([]json.RawMessage, len(evs))
	for i, ev := range byID {
		ids[i], types[i], ats[i], customers[i], sources[i], datas[i] = ev.ID, ev.Type.String(), ev.OccurredAt, ev.CustomerID, ev.Source, ev.Data
		if ref, ok := ev.Payload.(domain.InteractionRef); ok {
			iid := ref.InteractionKey()
			iids[i] = &iid
		}
		if len(datas[i]) == 0 {
			datas[i] = json.RawMessage("{}")
		}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("postgres: begin: %w", err)
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, insertEvents, ids, types, ats, customers, iids, sources, datas)
	if err != nil {
		return 0, fmt.Errorf("postgres: insert events: %w", err)
	}
	fresh := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return 0, err
		}
		fresh[id] = true
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("postgres: insert events: %w", err)
	}
	accepted = len(fresh)
	// Fold each interaction's new events of the batch once, then merge: one statement per
	// interaction (ON CONFLICT cannot touch a row twice in one statement), pipelined.
	partial := map[string]*domain.Interaction{}
	var order []string
	var stmts lockOrder
	for _, ev := range evs {
		if !fresh[ev.ID] {
			continue
		}
		delete(fresh, ev.ID) // a duplicate within the batch is folded once
		if ref, ok := ev.Payload.(domain.InteractionRef); ok {
			iid := ref.InteractionKey()
			in := partial[iid]
			if in == nil {
				in = &domain.Interaction{}
				partial[iid] = in
				order = append(order, iid)
			}
			in.Apply(ev)
			continue
		}
		s.queueOther(&stmts, ev)
	}
	for _, iid := range order {
		s.queueInteraction(&stmts, partial[iid])
	}
	b := &pgx.Batch{}
	stmts.queue(b)
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return 0, fmt.Errorf("postgres: fold: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("postgres: commit: %w", err)
	}
	return accepted, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

func (s *Store) queueInteraction(b *lockOrder, in *domain.Interaction) {
	first := in.StartAt
	if len(in.Events) > 0 {
		first = in.Events[0].OccurredAt
	}
	var phone, email string
	if in.Contact.Phone != "" {
		phone, _ = contact.Phone(in.Contact.Phone, s.region)
	}
	if in.Contact.Email != "" {
		email, _ = contact.Email(in.Contact.Email)
	}
	shown := cmpOr(phone, strings.TrimSpace(in.Contact.Phone))
	if showEmail := cmpOr(email, strings.TrimSpace(in.Contact.Email)); in.Flow == domain.FlowEmail || shown == "" {
		shown = cmpOr(showEmail, shown)
	}
	var participants, sr any
	if len(in.Participants) > 0 {
		participants = in.Participants
	}
	if len(in.SRData) > 0 {
		sr = in.SRData
	}
	st := in.Stamps
	b.add("interaction\x00"+in.ID, upsertInteraction, in.ID, in.StartAt, first, in.CustomerID, st.Customer.At, st.Customer.ID, st.Started.At, st.Started.ID,
		in.Flow.String(), in.Direction.String(), in.OriginalRouting.String(), phone, reverse(contact.Digits(phone)), email, shown,
		in.VoiceCampaign, in.Template, participants,
		st.Current.At, st.Current.ID, in.CurrentRouting.String(), in.AgentID, in.QueueID, nonNil(in.Agents), nonNil(in.Queues),
		st.Ended.At, st.Ended.ID, nullTime(in.EndAt), in.Status.String(), in.Reason, st.SRData.At, st.SRData.ID, sr,
		st.Qualified.At, st.Qualified.ID, nonNil(in.Qualifications), in.MessageCount, nullTime(in.OpenedAt), in.OpenCount)
}

// queueOther queues what a card, task, merge or directory event changes.
func (s *Store) queueOther(b *lockOrder, ev domain.Event) {
	card := func(kind, key string) {
		b.add("card\x00"+ev.CustomerID+"\x00"+kind+"\x00"+key, upsertCardItem, ev.CustomerID, kind, key, ev.OccurredAt, ev.ID, ev.Type.String(), cmpOr(string(ev.Data), "{}"))
	}
	switch d := ev.Payload.(type) {
	case *domain.OrderData:
		card("order", ev.ID)
	case *domain.SegmentData:
		card("segment", ev.ID)
	case *domain.TaskData:
		card("task", ev.ID)
		status := strings.TrimPrefix(ev.Type.String(), "task.")
		b.add("task\x00"+ev.CustomerID+"\x00"+d.TaskID, upsertTask, ev.CustomerID, d.TaskID, ev.OccurredAt, ev.ID, status, d.Title, d.DueAt, d.AssigneeID)
	case *domain.NoteData:
		card("note", d.NoteID)
	case *domain.FileData:
		card("file", d.FileID)
	case *domain.VisitData:
		card("visit", d.VisitID)
	case *domain.CustomerUpdatedData:
		card("card", ev.ID)
	case *domain.MergedData:
		b.add("merge\x00"+d.FromCustomerID, insertMerge, d.FromCustomerID, ev.CustomerID)
	case *domain.AgentData:
		b.add("agent\x00"+d.AgentID, upsertAgent, d.AgentID, ev.OccurredAt, ev.ID, d.Role.String(), d.TeamID, d.ActiveProfileID)
	case *domain.TeamData:
		b.add("team\x00"+d.TeamID, upsertTeam, d.TeamID, ev.OccurredAt, ev.ID, nonNil(d.ManagerIDs))
	case *domain.ProfileData:
		flows := make([]string, len(d.Flows))
		for i, f := range d.Flows {
			flows[i] = f.String()
		}
		b.add("profile\x00"+d.ProfileID, upsertProfile, d.ProfileID, ev.OccurredAt, ev.ID, nonNil(d.Queues), flows, d.HistoryAccess)
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// lockOrder collects a batch's statements with the row each one locks, and queues them in
// row order: concurrent batches then take the locks of the rows they share (a busy
// customer's, an interaction spanning two batches) in the same order and wait for each
// other instead of deadlocking, which PostgreSQL takes a second (deadlock_timeout) to find.
type lockOrder []stmt

// stmt is one statement and the row it locks (table \x00 key).
type stmt struct {
	row  string
	sql  string
	args []any
}

func (l *lockOrder) add(row, sql string, args ...any) { *l = append(*l, stmt{row, sql, args}) }

// queue queues the statements into b in row order; those on one row stay in the order
// they came.
func (l lockOrder) queue(b *pgx.Batch) {
	slices.SortStableFunc(l, func(x, y stmt) int { return strings.Compare(x.row, y.row) })
	for _, st := range l {
		b.Queue(st.sql, st.args...)
	}
}
