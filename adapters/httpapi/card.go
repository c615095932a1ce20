package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/interaction-ledger/ledger/adapters/jsonhttp"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/projections/timeline"
)

// maxLimit is the largest page any list endpoint serves.
const maxLimit = 500

// visible is the card's view of the reader's rights: the history's access check, so an
// interaction the reader may not open in the history is nowhere on the card either.
func (s *Server) visible(rd domain.Reader) timeline.Visible {
	return func(ids []string) ([]bool, error) { return s.cfg.History.Visible(rd, ids) }
}

// pageParams reads limit and cursor, refusing any parameter but those and extra (400
// naming it); ok is false once the answer is written.
func pageParams(w http.ResponseWriter, r *http.Request, extra ...string) (limit int, cursor string, ok bool) {
	q := r.URL.Query()
	for k := range q {
		if k != "limit" && k != "cursor" && !slices.Contains(extra, k) {
			allowed := strings.Join(append(slices.Clone(extra), "limit", "cursor"), ", ")
			jsonhttp.Error(w, http.StatusBadRequest, "unknown parameter "+k+" (allowed: "+allowed+")", map[string]any{"param": k})
			return 0, "", false
		}
	}
	limit, ok = parseLimit(w, q.Get("limit"))
	return limit, q.Get("cursor"), ok
}

// pageError answers a card read's error: 400 naming the cursor, 500 otherwise.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, timeline.ErrBadCursor) {
		jsonhttp.Error(w, http.StatusBadRequest, "cursor: "+err.Error(), map[string]any{"param": "cursor"})
		return
	}
	s.internal(w, r, err)
}

func (s *Server) getTimeline(w http.ResponseWriter, r *http.Request, rd domain.Reader) {
	limit, cursor, ok := pageParams(w, r, "kind")
	if !ok {
		return
	}
	var kinds []timeline.Kind
	for _, k := range r.URL.Query()["kind"] {
		kind, err := timeline.ParseKind(k)
		if err != nil {
			jsonhttp.Error(w, http.StatusBadRequest, "kind: "+err.Error(), map[string]any{"param": "kind"})
			return
		}
		kinds = append(kinds, kind)
	}
	page, err := s.cfg.Timeline.Read(r.PathValue("id"), timeline.Query{Kinds: kinds, Limit: limit, Cursor: cursor, Visible: s.visible(rd)})
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	jsonhttp.Write(w, http.StatusOK, page)
}

func parseLimit(w http.ResponseWriter, s string) (int, bool) {
	if s == "" {
		return 50, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		jsonhttp.Error(w, http.StatusBadRequest, fmt.Sprintf("limit: %q is not a number from 1 to %d", s, maxLimit), map[string]any{"param": "limit"})
		return 0, false
	}
	return n, true
}

func (s *Server) getCard(w http.ResponseWriter, r *http.Request, rd domain.Reader) {
	card, err := s.cfg.Timeline.Card(r.PathValue("id"), s.visible(rd))
	if err != nil {
		s.internal(w, r, err)
		return
	}
	jsonhttp.Write(w, http.StatusOK, card)
}

// serveTab answers one of the card's tabs as {"items": [...], "next_cursor": ...}, paged
// like the timeline.
func serveTab[T any](s *Server, w http.ResponseWriter, r *http.Request, get func(customer string, limit int, cursor string) (timeline.TabPage[T], error)) {
	limit, cursor, ok := pageParams(w, r)
	if !ok {
		return
	}
	page, err := get(r.PathValue("id"), limit, cursor)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	jsonhttp.Write(w, http.StatusOK, page)
}

func (s *Server) getChats(w http.ResponseWriter, r *http.Request, rd domain.Reader) {
	serveTab(s, w, r, func(c string, limit int, cur string) (timeline.TabPage[timeline.Chat], error) {
		return s.cfg.Timeline.Chats(c, limit, cur, s.visible(rd))
	})
}

func (s *Server) getTasks(w http.ResponseWriter, r *http.Request, _ domain.Reader) {
	serveTab(s, w, r, s.cfg.Timeline.Tasks)
}

func (s *Server) getVisits(w http.ResponseWriter, r *http.Request, _ domain.Reader) {
	serveTab(s, w, r, s.cfg.Timeline.Visits)
}

func (s *Server) getSegments(w http.ResponseWriter, r *http.Request, _ domain.Reader) {
	serveTab(s, w, r, s.cfg.Timeline.Segments)
}

// taskBody is what create and edit accept.
type taskBody struct {
	TaskID     string  `json:"task_id"`
	Title      *string `json:"title"`
	DueAt      *string `json:"due_at"`
	AssigneeID *string `json:"assignee_id"`
}

// taskCommand runs one of the card's task commands: it reads the task's state and the
// stream sequence of its last event, decides by the card's rules (409 naming the current
// state otherwise), and appends the event only if no other event of that task was stored
// meanwhile (JetStream's expected last subject sequence; a lost race is 409 too). It
// answers once the card shows the change. The agent must be one the directory knows,
// with history access (the route checks it), like every reader of the card. The
// customer need not have a card yet: customers live in the CRM, and the ledger knows
// one only from the events about them, of which a new task may be the first.
func (s *Server) taskCommand(cmd domain.TaskCommand) func(http.ResponseWriter, *http.Request, domain.Reader) {
	return func(w http.ResponseWriter, r *http.Request, rd domain.Reader) {
		customer := r.PathValue("id")
		var body taskBody
		if cmd == domain.TaskCreate || cmd == domain.TaskEdit {
			raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
			if err != nil {
				jsonhttp.Error(w, http.StatusRequestEntityTooLarge, "body: "+err.Error(), map[string]any{"field": "body"})
				return
			}
			if len(raw) > 0 {
				if err := json.Unmarshal(raw, &body); err != nil {
					jsonhttp.Error(w, http.StatusBadRequest, "body: malformed JSON: "+err.Error(), map[string]any{"field": "body"})
					return
				}
			}
		}
		taskID := r.PathValue("task_id")
		if cmd == domain.TaskCreate {
			taskID = body.TaskID
			if taskID == "" {
				taskID = uuid.Must(uuid.NewV7()).String()
			}
			if body.Title == nil || *body.Title == "" {
				jsonhttp.Error(w, http.StatusBadRequest, "title: is required", map[string]any{"field": "title"})
				return
			}
		}
		state, cur, err := s.cfg.Timeline.Task(customer, taskID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		typ, err := domain.DecideTask(state, cmd)
		var ite *domain.InvalidTransitionError
		if errors.As(err, &ite) {
			code := http.StatusConflict
			if state == domain.TaskAbsent && cmd != domain.TaskCreate {
				code = http.StatusNotFound
			}
			jsonhttp.Error(w, code, err.Error(), map[string]any{"state": state.String(), "task_id": taskID})
			return
		}
		data := &domain.TaskData{TaskID: taskID, Title: cur.Title, DueAt: cur.DueAt, AssigneeID: cur.AssigneeID}
		if body.Title != nil {
			data.Title = *body.Title
		}
		if body.AssigneeID != nil {
			data.AssigneeID = *body.AssigneeID
		}
		if body.DueAt != nil {
			data.DueAt = nil // an empty due_at clears it
			if *body.DueAt != "" {
				due, err := domain.ParseTime(*body.DueAt)
				if err != nil {
					jsonhttp.Error(w, http.StatusBadRequest, "due_at: "+err.Error(), map[string]any{"field": "due_at"})
					return
				}
				data.DueAt = &due
			}
		}
		now := s.cfg.Now()
		ev, err := domain.NewEvent(uuid.Must(uuid.NewV7()).String(), typ, now, customer, "api:"+rd.AgentID, data, now)
		if err != nil {
			var ve *domain.ValidationError
			if errors.As(err, &ve) {
				jsonhttp.Error(w, http.StatusBadRequest, err.Error(), map[string]any{"field": ve.Field})
				return
			}
			s.internal(w, r, err)
			return
		}
		_, lost, ok := s.appendCommand(w, r, ev, eventstore.TaskSubjectFilter(customer, taskID), cur.LastSeq, s.cfg.TimelineDB)
		if !ok {
			return
		}
		if lost {
			jsonhttp.Error(w, http.StatusConflict, "task "+taskID+" was changed meanwhile; reload it and try again", map[string]any{"task_id": taskID})
			return
		}
		newState, t, err := s.cfg.Timeline.Task(customer, taskID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		code := http.StatusOK
		if cmd == domain.TaskCreate {
			code = http.StatusCreated
		}
		jsonhttp.Write(w, code, map[string]any{"task_id": taskID, "state": newState.String(), "event_id": ev.ID, "task": t})
	}
}
