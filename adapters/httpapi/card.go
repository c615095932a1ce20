package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/google/uuid"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/jsonhttp"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/projections/timeline"
)

// maxLimit is the largest page any list endpoint serves.
const maxLimit = 500

func (s *Server) getTimeline(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "kind", "limit", "cursor":
		default:
			jsonhttp.Error(w, http.StatusBadRequest, "unknown parameter "+k+" (allowed: kind, limit, cursor)", map[string]any{"param": k})
			return
		}
	}
	var kinds []timeline.Kind
	for _, k := range q["kind"] {
		kind, err := timeline.ParseKind(k)
		if err != nil {
			jsonhttp.Error(w, http.StatusBadRequest, "kind: "+err.Error(), map[string]any{"param": "kind"})
			return
		}
		kinds = append(kinds, kind)
	}
	limit, ok := parseLimit(w, q.Get("limit"))
	if !ok {
		return
	}
	page, err := s.cfg.Timeline.Timeline(r.PathValue("id"), kinds, limit, q.Get("cursor"))
	if err != nil {
		if errors.Is(err, timeline.ErrBadCursor) {
			jsonhttp.Error(w, http.StatusBadRequest, "cursor: "+err.Error(), map[string]any{"param": "cursor"})
			return
		}
		s.internal(w, r, err)
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

func (s *Server) getCard(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	card, err := s.cfg.Timeline.Card(r.PathValue("id"))
	if err != nil {
		s.internal(w, r, err)
		return
	}
	jsonhttp.Write(w, http.StatusOK, card)
}

// tab serves one of the card's tabs as {"items": [...]}, never null.
func tab[T any](s *Server, get func(string) ([]T, error)) func(http.ResponseWriter, *http.Request, auth.Principal) {
	return func(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
		items, err := get(r.PathValue("id"))
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if items == nil {
			items = []T{}
		}
		jsonhttp.Write(w, http.StatusOK, map[string]any{"items": items})
	}
}

func (s *Server) getChats(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	tab(s, s.cfg.Timeline.Chats)(w, r, p)
}

func (s *Server) getTasks(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	tab(s, s.cfg.Timeline.Tasks)(w, r, p)
}

func (s *Server) getVisits(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	tab(s, s.cfg.Timeline.Visits)(w, r, p)
}

func (s *Server) getSegments(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	tab(s, s.cfg.Timeline.Segments)(w, r, p)
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
// answers once the card shows the change.
func (s *Server) taskCommand(cmd domain.TaskCommand) func(http.ResponseWriter, *http.Request, auth.Principal) {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) {
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
		ev, err := domain.NewEvent(uuid.Must(uuid.NewV7()).String(), typ, now, customer, "api:"+p.Subject, data, now)
		if err != nil {
			var ve *domain.ValidationError
			if errors.As(err, &ve) {
				jsonhttp.Error(w, http.StatusBadRequest, err.Error(), map[string]any{"field": ve.Field})
				return
			}
			s.internal(w, r, err)
			return
		}
		seq, err := s.cfg.Ingest.AppendExpecting(r.Context(), ev, eventstore.TaskSubjectFilter(customer, taskID), cur.LastSeq)
		if errors.Is(err, eventstore.ErrConflict) {
			jsonhttp.Error(w, http.StatusConflict, "task "+taskID+" was changed meanwhile; reload it and try again", map[string]any{"task_id": taskID})
			return
		}
		if err != nil {
			s.cfg.Logger.Error("task command append failed", "err", err)
			jsonhttp.Error(w, http.StatusServiceUnavailable, "the event stream did not acknowledge the command; retry", nil)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.CommandWait)
		defer cancel()
		if err := s.cfg.TimelineDB.WaitCheckpoint(ctx, seq); err != nil {
			s.cfg.Logger.Warn("task command answered before the card caught up", "seq", seq, "err", err)
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
