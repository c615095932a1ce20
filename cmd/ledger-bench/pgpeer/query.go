package pgpeer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/domain/contact"
	"github.com/interaction-ledger/ledger/projections/history"
)

// ErrNotFound is returned for an interaction that does not exist or the reader may not see.
var ErrNotFound = errors.New("not found")

// Reader resolves what the access rule needs about agentID, as the ledger's directory
// does: role, active profile's queues, flows and access, and for a manager the agents of
// the teams they manage. ok is false for an unknown agent.
func (s *Store) Reader(ctx context.Context, agentID string) (r domain.Reader, ok bool, err error) {
	var role string
	var flows []string
	err = s.pool.QueryRow(ctx, `SELECT a.role, coalesce(p.queues, '{}'), coalesce(p.flows, '{}'), coalesce(p.history_access, false),
		CASE WHEN a.role = 'manager' THEN ARRAY(SELECT DISTINCT m.agent_id FROM teams t JOIN agents m ON m.team_id = t.team_id
			WHERE t.manager_ids @> ARRAY[a.agent_id] ORDER BY 1) ELSE '{}' END
		FROM agents a LEFT JOIN profiles p ON p.profile_id = a.active_profile_id WHERE a.agent_id = $1`, agentID).
		Scan(&role, &r.ProfileQueues, &flows, &r.HistoryAccess, &r.TeamAgents)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("postgres: reader %s: %w", agentID, err)
	}
	r.AgentID = agentID
	if r.Role, err = domain.ParseRole(role); err != nil {
		return r, false, err
	}
	for _, f := range flows {
		fl, err := domain.ParseFlow(f)
		if err != nil {
			return r, false, err
		}
		r.ProfileFlows = append(r.ProfileFlows, fl)
	}
	return r, true, nil
}

// args collects positional parameters.
type args []any

func (a *args) add(v any) string { *a = append(*a, v); return "$" + strconv.Itoa(len(*a)) }

// visible is CONTRACT.md §3 in SQL (domain.Reader.CanSee), over the table alias t.
func visible(r domain.Reader, a *args) string {
	if !r.HistoryAccess {
		return "false"
	}
	smartInQueue := func() string {
		return fmt.Sprintf("(t.original_routing = 'smart' AND t.queues && %s::text[])", a.add(nonNil(r.ProfileQueues)))
	}
	switch r.Role {
	case domain.RoleCollaborator:
		return fmt.Sprintf("t.agents @> ARRAY[%s::text]", a.add(r.AgentID))
	case domain.RoleManager:
		mine := append([]string{r.AgentID}, r.TeamAgents...)
		return fmt.Sprintf("(t.agents && %s::text[] OR %s)", a.add(mine), smartInQueue())
	case domain.RoleAdministrator:
		return fmt.Sprintf("(t.original_routing = 'direct' OR (%s AND t.flow = ANY(%s::text[])))", smartInQueue(), a.add(strs(r.ProfileFlows)))
	}
	return "false"
}

// Item is one row of the list: the ledger's own type, so that both answer the same shape.
type Item = history.Item

const itemCols = `t.id, t.start_at, t.end_at, t.flow, t.status, t.reason, t.direction, t.original_routing, t.current_routing,
	t.agent_id, t.queue_id, t.contact, t.voice_campaign, t.template, coalesce(m.to_id, t.customer_id)`

func scanDest(it *Item) []any {
	return []any{&it.InteractionID, &it.StartAt, &it.EndAt, &it.Flow, &it.Status, &it.Reason, &it.Direction, &it.OriginalRouting,
		&it.CurrentRouting, &it.AgentID, &it.QueueID, &it.Contact, &it.VoiceCampaign, &it.Template, &it.CustomerID}
}

// Page is one page of the list.
type Page struct {
	Items      []Item `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// sortable columns (the contract's names) as SQL over t.
var sortExpr = map[string]string{"interaction_id": "t.id", "start_at": "t.start_at", "end_at": "t.end_at", "flow": "t.flow",
	"status": "t.status", "reason": "t.reason", "direction": "t.direction", "original_routing": "t.original_routing",
	"current_routing": "t.current_routing", "agent_id": "t.agent_id", "queue_id": "t.queue_id", "contact": "t.contact",
	"voice_campaign": "t.voice_campaign", "template": "t.template", "customer_id": "coalesce(m.to_id, t.customer_id)"}

func strs[T interface{ String() string }](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out
}

// List answers GET /v1/interactions for r: every filter of q, the access rule, the sort
// (value, start_at, id) and the limit, in one statement.
func (s *Store) List(ctx context.Context, r domain.Reader, q history.Query) (Page, error) {
	var a args
	where := []string{"t.start_at >= " + a.add(q.From), "t.start_at < " + a.add(q.To), visible(r, &a)}
	for _, f := range q.Filters() {
		if len(f.Values) == 0 || f.Column == "contact" { // contacts: below, each a match
			continue
		}
		col := "t." + f.Column
		if f.Column == "customer_id" {
			col = "coalesce(m.to_id, t.customer_id)" // the surviving customer
		}
		where = append(where, col+" = ANY("+a.add(f.Values)+"::text[])")
	}
	var contacts []string
	if q.Q != "" {
		where = append(where, s.contactMatch(q.Q, &a))
	}
	for _, c := range q.Contact {
		contacts = append(contacts, s.contactMatch(c, &a))
	}
	if len(contacts) > 0 {
		where = append(where, "("+strings.Join(contacts, " OR ")+")")
	}
	dir := " DESC"
	if !q.Desc {
		dir = " ASC"
	}
	col := sortExpr[cmpOr(q.Sort, "start_at")]
	order := col + dir
	if col != "t.start_at" {
		order += ", t.start_at" + dir
	}
	order += ", t.id" + dir
	limit := q.Limit
	if limit <= 0 {
		limit = history.DefaultLimit
	}
	sql := "SELECT " + itemCols + " FROM interactions t LEFT JOIN merges m ON m.from_id = t.customer_id WHERE " +
		strings.Join(where, " AND ") + " ORDER BY " + order + " LIMIT " + strconv.Itoa(limit)
	rows, err := s.pool.Query(ctx, sql, a...)
	if err != nil {
		return Page{}, fmt.Errorf("postgres: list: %w", err)
	}
	defer rows.Close()
	page := Page{Items: []Item{}}
	for rows.Next() {
		var it Item
		if err := rows.Scan(scanDest(&it)...); err != nil {
			return Page{}, fmt.Errorf("postgres: list: %w", err)
		}
		page.Items = append(page.Items, it)
	}
	return page, rows.Err()
}

// contactMatch is the ledger's contact matcher: an email exactly (lower case), a phone
// exactly as E.164 or by its last 6+ digits (a prefix of the reversed digits).
func (s *Store) contactMatch(v string, a *args) string {
	if strings.Contains(v, "@") {
		e, _ := contact.Email(v)
		return "t.email = " + a.add(e)
	}
	var alts []string
	if e164, ok := contact.Phone(v, s.region); ok {
		alts = append(alts, "t.phone_rev = "+a.add(reverse(contact.Digits(e164))))
	}
	if d := contact.Digits(v); len(d) >= contact.MinDigitsSuffix {
		alts = append(alts, "t.phone_rev LIKE "+a.add(reverse(d)+"%"))
	}
	if len(alts) == 0 {
		return "false"
	}
	return "(" + strings.Join(alts, " OR ") + ")"
}

// Detail is one interaction opened: its columns, its detail columns and its first
// events (oldest first).
type Detail struct {
	Item
	Participants   json.RawMessage `json:"participants"`
	Events         json.RawMessage `json:"events"`
	SRData         json.RawMessage `json:"sr_data"`
	Qualifications []string        `json:"qualifications"`
	Agents         []string        `json:"agents"`
	Queues         []string        `json:"queues"`
	MessageCount   int             `json:"message_count"`
	OpenedAt       *time.Time      `json:"opened_at"`
	OpenCount      int             `json:"open_count"`
}

// Get answers GET /v1/interactions/{id}: one statement, the events page included.
func (s *Store) Get(ctx context.Context, r domain.Reader, id string) (Detail, error) {
	var a args
	idp := a.add(id)
	sql := "SELECT " + itemCols + `, coalesce(t.participants, '[]'), coalesce(t.sr_data, 'null'), t.qualifications, t.agents, t.queues,
		t.message_count, t.opened_at, t.open_count,
		(SELECT coalesce(json_agg(json_build_object('id', e.id, 'type', e.type, 'occurred_at', e.occurred_at, 'source', e.source, 'data', e.data)
			ORDER BY e.occurred_at, e.id), '[]') FROM (SELECT * FROM events e WHERE e.interaction_id = t.id ORDER BY e.occurred_at, e.id LIMIT ` +
		strconv.Itoa(history.DefaultEventsLimit) + `) e)
		FROM interactions t LEFT JOIN merges m ON m.from_id = t.customer_id WHERE t.id = ` + idp + " AND " + visible(r, &a)
	var d Detail
	dest := append(scanDest(&d.Item), &d.Participants, &d.SRData, &d.Qualifications, &d.Agents, &d.Queues, &d.MessageCount, &d.OpenedAt, &d.OpenCount, &d.Events)
	err := s.pool.QueryRow(ctx, sql, a...).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, ErrNotFound
	}
	if err != nil {
		return d, fmt.Errorf("postgres: detail %s: %w", id, err)
	}
	return d, nil
}

// TimelineItem is one entry of a customer's timeline or tab.
type TimelineItem struct {
	Kind          string          `json:"kind"`
	OccurredAt    time.Time       `json:"occurred_at"`
	InteractionID string          `json:"interaction_id,omitempty"`
	Flow          string          `json:"flow,omitempty"`
	Direction     string          `json:"direction,omitempty"`
	Status        string          `json:"status,omitempty"`
	Reason        string          `json:"reason,omitempty"`
	AgentID       string          `json:"agent_id,omitempty"`
	EndedAt       *time.Time      `json:"ended_at,omitempty"`
	MessageCount  int             `json:"message_count,omitempty"`
	OpenCount     int             `json:"open_count,omitempty"`
	Key           string          `json:"key,omitempty"`
	Type          string          `json:"type,omitempty"`
	Data          json.RawMessage `json:"data,omitempty"`
}

// TimelinePage is the answer of the timeline and its tabs.
type TimelinePage struct {
	Items      []TimelineItem `json:"items"`
	NextCursor string         `json:"next_cursor"`
}

// kindOfFlow is the timeline kind of an interaction (the ledger's timeline.kindOfFlow).
const kindOfFlow = `CASE t.flow WHEN 'voice' THEN 'call' WHEN 'email' THEN 'email' WHEN 'sms' THEN 'sms' ELSE 'chat' END`

// messaging flows: the Chats tab.
var messagingFlows = func() []string {
	var out []string
	for _, f := range domain.Flows() {
		if f.IsMessaging() {
			out = append(out, f.String())
		}
	}
	return out
}()

// Timeline answers the customer card's timeline (kinds nil) or a tab: the customer's
// visible interactions and card items (the customers merged into it included), newest
// first. Each side is read newest first from its index and the two are merged.
func (s *Store) Timeline(ctx context.Context, r domain.Reader, customer string, interactions bool, cardKinds []string, limit int) (TimelinePage, error) {
	var a args
	cust := a.add(customer)
	custs := "(SELECT " + cust + "::text UNION ALL SELECT from_id FROM merges WHERE to_id = " + cust + ")"
	lim := strconv.Itoa(limit)
	var parts []string
	if interactions {
		flowFilter := "t.flow <> ''"
		if cardKinds != nil { // the Chats tab
			flowFilter = "t.flow = ANY(" + a.add(messagingFlows) + ")"
		}
		parts = append(parts, `(SELECT `+kindOfFlow+` AS kind, t.start_at AS at, t.id AS key, t.flow, t.direction, t.status, t.reason,
			t.agent_id, t.end_at, t.message_count, t.open_count, '' AS type, NULL::jsonb AS data
			FROM interactions t WHERE t.customer_id IN `+custs+` AND `+flowFilter+` AND `+visible(r, &a)+`
			ORDER BY t.start_at DESC LIMIT `+lim+`)`)
	}
	if cardKinds == nil || len(cardKinds) > 0 {
		cardWhere := ""
		if cardKinds != nil {
			cardWhere = " AND c.kind = ANY(" + a.add(cardKinds) + "::text[])"
		}
		parts = append(parts, `(SELECT c.kind, c.occurred_at, c.item_key, '', '', '', '', '', NULL::timestamptz, 0, 0, c.type, c.data
			FROM card_items c WHERE c.customer_id IN `+custs+cardWhere+` ORDER BY c.occurred_at DESC LIMIT `+lim+`)`)
	}
	sql := "SELECT * FROM (" + strings.Join(parts, " UNION ALL ") + ") u ORDER BY 2 DESC, 3, 1 LIMIT " + lim
	rows, err := s.pool.Query(ctx, sql, a...)
	if err != nil {
		return TimelinePage{}, fmt.Errorf("postgres: timeline %s: %w", customer, err)
	}
	defer rows.Close()
	page := TimelinePage{Items: []TimelineItem{}}
	for rows.Next() {
		var it TimelineItem
		var key string
		if err := rows.Scan(&it.Kind, &it.OccurredAt, &key, &it.Flow, &it.Direction, &it.Status, &it.Reason, &it.AgentID, &it.EndedAt,
			&it.MessageCount, &it.OpenCount, &it.Type, &it.Data); err != nil {
			return TimelinePage{}, fmt.Errorf("postgres: timeline %s: %w", customer, err)
		}
		if it.Flow != "" {
			it.InteractionID = key
		} else {
			it.Key = key
		}
		page.Items = append(page.Items, it)
	}
	return page, rows.Err()
}

// Task is a row of the Tasks tab.
type Task struct {
	TaskID     string     `json:"task_id"`
	Status     string     `json:"status"`
	Title      string     `json:"title"`
	DueAt      *time.Time `json:"due_at"`
	AssigneeID string     `json:"assignee_id"`
	CreatedAt  time.Time  `json:"created_at"`
}

// Tasks answers the Tasks tab: the customer's tasks, newest created first.
func (s *Store) Tasks(ctx context.Context, customer string, limit int) ([]Task, error) {
	rows, err := s.pool.Query(ctx, `SELECT task_id, status, title, due_at, assignee_id, created_at FROM tasks
		WHERE customer_id IN (SELECT $1::text UNION ALL SELECT from_id FROM merges WHERE to_id = $1) AND status <> 'deleted'
		ORDER BY created_at DESC, task_id LIMIT $2`, customer, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: tasks %s: %w", customer, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Task, error) {
		var t Task
		err := row.Scan(&t.TaskID, &t.Status, &t.Title, &t.DueAt, &t.AssigneeID, &t.CreatedAt)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: tasks %s: %w", customer, err)
	}
	return nonNil(out), nil
}
