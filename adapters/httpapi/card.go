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

	"github.com/interaction-ledger/ledger/adapters/jsonhttp"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections/timeline"
)

// maxLimit is the largest page any list endpoint serves.
const maxLimit = 500

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
	page, err := s.cfg.Timeline.Read(r.PathValue("id"), timeline.Query{Kinds: kinds, Limit: limit, Cursor: cursor, Visible: rd.CanSee})
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if !s.record(w, r, rd, "timeline", r.PathValue("id"), len(page.Items), nil) {
		return
	}
	jsonhttp.Write(w, http.StatusOK, page.JSON())
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
	card, err := s.cfg.Timeline.Card(r.PathValue("id"), rd.CanSee)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if !s.record(w, r, rd, "card", r.PathValue("id"), 1, nil) {
		return
	}
	jsonhttp.Write(w, http.StatusOK, card)
}

// serveTab answers one of the card's tabs as {"items": [...], "next_cursor": ...}, paged
// like the timeline.
func serveTab[T any](s *Server, w http.ResponseWriter, r *http.Request, rd domain.Reader, tab string, get func(customer string, limit int, cursor string) (timeline.TabPage[T], error)) {
	limit, cursor, ok := pageParams(w, r)
	if !ok {
		return
	}
	page, err := get(r.PathValue("id"), limit, cursor)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if !s.record(w, r, rd, tab, r.PathValue("id"), len(page.Items), nil) {
		return
	}
	jsonhttp.Write(w, http.StatusOK, page)
}

func (s *Server) getChats(w http.ResponseWriter, r *http.Request, rd domain.Reader) {
	serveTab(s, w, r, rd, "chats", func(c string, limit int, cur string) (timeline.TabPage[timeline.Chat], error) {
		return s.cfg.Timeline.Chats(c, limit, cur, rd.CanSee)
	})
}

func (s *Server) getTasks(w http.ResponseWriter, r *http.Request, rd domain.Reader) {
	serveTab(s, w, r, rd, "tasks", s.cfg.Timeline.Tasks)
}

func (s *Server) getVisits(w http.ResponseWriter, r *http.Request, rd domain.Reader) {
	serveTab(s, w, r, rd, "visits", s.cfg.Timeline.Visits)
}

func (s *Server) getSegments(w http.ResponseWriter, r *http.Request, rd domain.Reader) {
	serveTab(s, w, r, rd, "segments", s.cfg.Timeline.Segments)
}

// taskCommand answers one of the card's task commands (TaskCommands.Run): 409 naming the
// current state for a refused transition or a lost race, 404 for a task that does not
// exist, 400 naming the field for bad input.
func (s *Server) taskCommand(cmd domain.TaskCommand) func(http.ResponseWriter, *http.Request, domain.Reader) {
	return func(w http.ResponseWriter, r *http.Request, rd domain.Reader) {
		var in TaskInput
		if cmd == domain.TaskCreate || cmd == domain.TaskEdit {
			raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
			if err != nil {
				jsonhttp.Error(w, http.StatusRequestEntityTooLarge, "body: "+err.Error(), map[string]any{"field": "body"})
				return
			}
			if len(raw) > 0 {
				if err := json.Unmarshal(raw, &in); err != nil {
					jsonhttp.Error(w, http.StatusBadRequest, "body: malformed JSON: "+err.Error(), map[string]any{"field": "body"})
					return
				}
			}
		}
		res, err := s.tasks.Run(r.Context(), rd, r.PathValue("id"), r.PathValue("task_id"), cmd, in)
		var refused *TaskRefusedError
		var bad *TaskInputError
		switch {
		case errors.As(err, &refused):
			code := http.StatusConflict
			if refused.NotFound() {
				code = http.StatusNotFound
			}
			jsonhttp.Error(w, code, err.Error(), map[string]any{"state": refused.State.String(), "task_id": refused.TaskID})
		case errors.Is(err, ErrTaskChanged):
			jsonhttp.Error(w, http.StatusConflict, err.Error(), map[string]any{"task_id": res.TaskID})
		case errors.As(err, &bad):
			jsonhttp.Error(w, http.StatusBadRequest, err.Error(), map[string]any{"field": bad.Field})
		case errors.Is(err, ErrStoreUnavailable):
			jsonhttp.Error(w, http.StatusServiceUnavailable, "the event stream did not acknowledge the command; retry", nil)
		case err != nil:
			s.internal(w, r, err)
		default:
			code := http.StatusOK
			if cmd == domain.TaskCreate {
				code = http.StatusCreated
			}
			w.Header().Set("Ledger-Position", strconv.FormatUint(res.Seq, 10))
			jsonhttp.Write(w, code, map[string]any{"task_id": res.TaskID, "state": res.State.String(), "event_id": res.EventID, "task": res.Task})
		}
	}
}
