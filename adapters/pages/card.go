package pages

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/interaction-ledger/ledger/adapters/httpapi"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections/timeline"
)

// The card's tabs.
var cardTabs = [][2]string{{"timeline", "Previous interactions"}, {"chats", "Chats"}, {"tasks", "Tasks"},
	{"visits", "Visits"}, {"segments", "Segments"}}

// itemView is one item of the card's Previous interactions.
type itemView struct {
	Kind, At, Title, Detail string
	Changes                 []string // "field: from → to"
	URL                     string   // an interaction's detail
	Opened                  string   // an email: "Opened 3 Jan 10:04" or "Not opened", and its first click
}

// taskView is a row of the Tasks tab with the actions its state allows.
type taskView struct {
	timeline.Task
	Due, Created       string
	DueDate            string // for the edit form
	Pending, Completed bool
	ActionBase         string
}

// cardView is a customer's card.
type cardView struct {
	chrome
	CustomerID string
	Card       timeline.Card
	Tabs       []tab
	Tab        string
	Kinds      []choice
	Items      []itemView
	Chats      []timeline.Chat
	ChatsAt    []string
	Tasks      []taskView
	Visits     []timeline.Visit
	VisitsAt   []string
	Segments   []timeline.SegmentChange
	SegmentsAt []string
	NextURL    string
	Notice     string // what the last action did
	Refused    string // why the last action was refused
	Error      string
}

func (h *Handler) card(w http.ResponseWriter, r *http.Request, s *session) {
	notice := ""
	if !h.awaitOwnWrite(r) {
		notice = "This server is still catching up: refresh in a moment to see your change."
	}
	h.renderCard(w, r, s, http.StatusOK, notice, "")
}

// renderCard renders the card's current tab, with the outcome of an action if any.
func (h *Handler) renderCard(w http.ResponseWriter, r *http.Request, s *session, code int, notice, refused string) {
	cust := r.PathValue("id")
	q := r.URL.Query()
	current := q.Get("tab")
	if !slices.ContainsFunc(cardTabs, func(t [2]string) bool { return t[0] == current }) {
		current = "timeline"
	}
	see := s.Reader.CanSee
	at, err := h.cfg.Timeline.ChangedAt(cust) // before the reads: a change after it is told
	if err != nil {
		h.internal(w, r, s, err)
		return
	}
	card, err := h.cfg.Timeline.Card(cust, see)
	if err != nil {
		h.internal(w, r, s, err)
		return
	}
	digest, err := h.cardDigest(cust, card, see)
	if err != nil {
		h.internal(w, r, s, err)
		return
	}
	base := "/customers/" + url.PathEscape(cust)
	v := cardView{chrome: s.chrome("Customer "+cust, "card"), CustomerID: cust, Card: card,
		Tabs: tabs(base, cardTabs, current), Tab: current, Notice: notice, Refused: refused}
	v.Changes = base + "/changes?at=" + strconv.FormatUint(at, 10) + "&d=" + digest
	for i := range v.Tabs {
		switch v.Tabs[i].Name {
		case "chats":
			v.Tabs[i].Count = card.Counts[string(timeline.KindChat)]
		case "tasks":
			// The customer's tasks, not the task items of the timeline (one per change).
			tasks, err := h.cfg.Timeline.Tasks(cust, timeline.MaxLimit, "")
			if err != nil {
				h.internal(w, r, s, err)
				return
			}
			v.Tabs[i].Count = len(tasks.Items)
		case "visits":
			v.Tabs[i].Count = card.Counts[string(timeline.KindVisit)]
		case "segments":
			v.Tabs[i].Count = card.Counts[string(timeline.KindSegment)]
		}
	}
	if d := q.Get("done"); notice == "" && d != "" {
		v.Notice = doneNotice(d, q.Get("task"))
	}
	cursor := q.Get("cursor")
	var next string // the cursor of the tab's next page, if any
	switch current {
	case "timeline":
		var kinds []timeline.Kind
		for _, k := range q["kind"] {
			kind, err := timeline.ParseKind(k)
			if err != nil {
				v.Error = "Filter kind: " + err.Error()
				code = http.StatusBadRequest
				break
			}
			kinds = append(kinds, kind)
		}
		for _, k := range timeline.Kinds() {
			v.Kinds = append(v.Kinds, choice{Value: string(k), Label: label(string(k)), Checked: slices.Contains(kinds, k)})
		}
		if v.Error != "" {
			break
		}
		var page timeline.Page
		page, err = h.cfg.Timeline.Read(cust, timeline.Query{Kinds: kinds, Cursor: cursor, Visible: see})
		for _, it := range page.Items {
			v.Items = append(v.Items, itemOf(it, s.Loc))
		}
		next = page.NextCursor
	case "chats":
		next, err = dated(&v.Chats, &v.ChatsAt, s.Loc, func(c timeline.Chat) time.Time { return c.StartedAt })(h.cfg.Timeline.Chats(cust, 0, cursor, see))
	case "tasks":
		var page timeline.TabPage[timeline.Task]
		page, err = h.cfg.Timeline.Tasks(cust, 0, cursor)
		for _, t := range page.Items {
			tv := taskView{Task: t, Due: when(t.DueAt, s.Loc), Created: t.CreatedAt.In(s.Loc).Format("2 Jan 2006 15:04"),
				Pending: t.Status == domain.TaskPending.String(), Completed: t.Status == domain.TaskCompleted.String(),
				ActionBase: base + "/tasks/" + url.PathEscape(t.TaskID)}
			if t.DueAt != nil {
				tv.DueDate = t.DueAt.In(s.Loc).Format(time.DateOnly)
			}
			v.Tasks = append(v.Tasks, tv)
		}
		next = page.NextCursor
	case "visits":
		next, err = dated(&v.Visits, &v.VisitsAt, s.Loc, func(x timeline.Visit) time.Time { return x.OccurredAt })(h.cfg.Timeline.Visits(cust, 0, cursor))
	case "segments":
		next, err = dated(&v.Segments, &v.SegmentsAt, s.Loc, func(x timeline.SegmentChange) time.Time { return x.OccurredAt })(h.cfg.Timeline.Segments(cust, 0, cursor))
	}
	if h.pageFailed(w, r, s, err, &v.Error, &code) {
		return
	}
	if next != "" {
		p := url.Values{"tab": {current}, "cursor": {next}}
		if current == "timeline" {
			p["kind"] = q["kind"]
		}
		v.NextURL = base + "?" + p.Encode()
	}
	if !h.record(w, r, s, "page:card:"+current, cust, 1, nil) {
		return
	}
	h.render(w, r, code, "card", v)
}

// dated fills a dated tab (chats, visits, segments) from the page read: its rows, each
// with its time as the agent reads it; it passes the page's next cursor and error on.
func dated[T any](rows *[]T, times *[]string, loc *time.Location, at func(T) time.Time) func(timeline.TabPage[T], error) (string, error) {
	return func(page timeline.TabPage[T], err error) (string, error) {
		*rows, *times = rowsAt(page.Items, at, loc)
		return page.NextCursor, err
	}
}

// rowsAt returns a tab's rows with each row's time as the agent reads it.
func rowsAt[T any](rows []T, at func(T) time.Time, loc *time.Location) ([]T, []string) {
	times := make([]string, len(rows))
	for i, r := range rows {
		times[i] = at(r).In(loc).Format("2 Jan 2006 15:04")
	}
	return rows, times
}

// pageFailed shows a bad cursor as a message and answers any other error 500; it
// reports whether the answer is written.
func (h *Handler) pageFailed(w http.ResponseWriter, r *http.Request, s *session, err error, msg *string, code *int) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, timeline.ErrBadCursor):
		*msg, *code = "This page position is no longer valid; start again from the first page.", http.StatusBadRequest
		return false
	}
	h.internal(w, r, s, err)
	return true
}

// itemOf describes one timeline item for a person.
func itemOf(it timeline.Item, loc *time.Location) itemView {
	v := itemView{Kind: it.Kind, At: it.OccurredAt.In(loc).Format("2 Jan 2006 15:04")}
	switch timeline.Kind(it.Kind) {
	case timeline.KindCall, timeline.KindEmail, timeline.KindSMS, timeline.KindChat:
		v.Title = label(it.Direction) + " " + strings.ReplaceAll(label(it.Flow), "_", " ")
		v.Detail = join(label(it.Status), it.Reason, agentOf(it.AgentID))
		if it.InteractionID != "" {
			v.URL = "/interactions/" + url.PathEscape(it.InteractionID)
		}
		if it.Kind == string(timeline.KindChat) {
			v.Detail = join(v.Detail, count(it.MessageCount, "message"))
		}
		if it.Kind == string(timeline.KindEmail) {
			v.Opened = "Not opened"
			if it.OpenedAt != nil {
				v.Opened = "Opened " + it.OpenedAt.In(loc).Format("2 Jan 2006 15:04")
			}
			if it.ClickedAt != nil {
				v.Opened += ", link clicked " + it.ClickedAt.In(loc).Format("2 Jan 2006 15:04")
			}
		}
	case timeline.KindOrder:
		v.Title = "Order " + it.OrderID + " " + it.Action
		v.Detail = join(label(it.Status), strings.TrimSpace(string(it.Total)+" "+it.Currency))
	case timeline.KindSegment:
		v.Title = label(it.Action) + " segment " + cmp.Or(it.Name, it.SegmentID)
	case timeline.KindTask:
		v.Title = "Task " + it.Action + ": " + it.Title
		v.Detail = label(it.Status)
	case timeline.KindNote:
		v.Title, v.Detail = "Note", it.Text
	case timeline.KindFile:
		v.Title, v.Detail = "File "+cmp.Or(it.Name, it.FileID), it.ContentType
	case timeline.KindVisit:
		v.Title = "Visit from " + cmp.Or(it.Source, "unknown source")
		v.Detail = join(it.Channel, fmt.Sprintf("%d pages, %ds", it.Pages, it.DurationS))
	case timeline.KindCard:
		v.Title = "Card changed"
	}
	v.Changes = changes(it)
	return v
}

// changes lists field changes as "field: from → to", sorted by field.
func changes(it timeline.Item) []string {
	m, err := it.ChangeMap()
	if err != nil {
		return []string{"(changes unreadable)"}
	}
	out := make([]string, 0, len(m))
	for f, c := range m {
		out = append(out, label(f)+": "+jsonText(c.From)+" → "+jsonText(c.To))
	}
	sort.Strings(out)
	return out
}

// jsonText shows a JSON value: a string without its quotes, null as a dash.
func jsonText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if len(raw) == 0 || string(raw) == "null" {
		return "—"
	}
	return string(raw)
}

func agentOf(id string) string {
	if id == "" {
		return ""
	}
	return "advisor " + id
}

func join(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " · ")
}

// The task actions of the card, by the last segment of their form's address.
var taskActions = map[string]domain.TaskCommand{"edit": domain.TaskEdit, "complete": domain.TaskComplete,
	"reopen": domain.TaskReopen, "delete": domain.TaskDelete}

// doneNotice says what an action did, after its redirect.
func doneNotice(action, task string) string {
	past := map[string]string{"edit": "saved", "complete": "completed", "reopen": "reopened", "delete": "deleted"}[action]
	if past == "" {
		return ""
	}
	return "Task " + task + " " + past + "."
}

// taskAction runs one of the card's task commands from its form, with the API's code
// and rules: the token must hold tasks:write; a refused transition is shown with the
// task's current state.
func (h *Handler) taskAction(w http.ResponseWriter, r *http.Request, s *session) {
	action, cmd, ok := pathAction(h, w, r, s, "task", taskActions)
	if !ok {
		return
	}
	cust, taskID := r.PathValue("id"), r.PathValue("task_id")
	q := url.Values{"tab": {"tasks"}}
	r.URL.RawQuery = q.Encode() // the card re-rendered below shows the Tasks tab
	if !s.Principal.Has("tasks:write") {
		h.renderCard(w, r, s, http.StatusForbidden, "", "You may not change tasks: your sign-in lacks the scope tasks:write.")
		return
	}
	if !h.parseForm(w, r, s, 64<<10) {
		return
	}
	var in httpapi.TaskInput
	if cmd == domain.TaskEdit {
		title, assignee := r.PostForm.Get("title"), r.PostForm.Get("assignee_id")
		in.Title, in.AssigneeID = &title, &assignee
		due := ""
		if d := r.PostForm.Get("due"); d != "" {
			t, err := time.ParseInLocation(time.DateOnly, d, s.Loc)
			if err != nil {
				h.renderCard(w, r, s, http.StatusBadRequest, "", "Due date: "+d+" is not a date.")
				return
			}
			due = t.Format(time.RFC3339)
		}
		in.DueAt = &due
	}
	res, err := h.cfg.Tasks.Run(r.Context(), s.Reader, cust, taskID, cmd, in)
	var refused *httpapi.TaskRefusedError
	var bad *httpapi.TaskInputError
	switch {
	case errors.As(err, &refused):
		msg := fmt.Sprintf("Task %s cannot be %s: it is %s now.", taskID, doneVerb(action), stateWords(refused.State))
		h.renderCard(w, r, s, http.StatusConflict, "", msg)
	case errors.Is(err, httpapi.ErrTaskChanged):
		h.renderCard(w, r, s, http.StatusConflict, "", "Task "+taskID+" was changed by someone else meanwhile. Here is its current state; try again.")
	case errors.As(err, &bad):
		h.renderCard(w, r, s, http.StatusBadRequest, "", "The task was not changed: "+bad.Error()+".")
	case errors.Is(err, httpapi.ErrStoreUnavailable):
		h.renderCard(w, r, s, http.StatusServiceUnavailable, "", "The ledger could not record the change just now. Try again.")
	case err != nil:
		h.internal(w, r, s, err)
	default:
		dest := url.Values{"tab": {"tasks"}, "done": {action}, "task": {res.TaskID}, "at": {strconv.FormatUint(res.Seq, 10)}}
		http.Redirect(w, r, "/customers/"+url.PathEscape(cust)+"?"+dest.Encode(), http.StatusSeeOther)
	}
}

func doneVerb(action string) string {
	return map[string]string{"edit": "edited", "complete": "completed", "reopen": "reopened", "delete": "deleted"}[action]
}

func stateWords(st domain.TaskState) string {
	if st == domain.TaskAbsent {
		return "deleted or was never created"
	}
	return st.String()
}

// count writes n with its noun, singular for one ("1 message", "17 messages").
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
