package pgpeer

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/jsonhttp"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections/history"
)

// maxBody bounds one POST /v1/events, as the ledger's ingest does.
const maxBody = 16 << 20

// Handler is the peer's HTTP layer: the ledger's routes that the bench calls, each with
// the ledger's JWT check and the reader resolved per request.
func Handler(s *Store, v *auth.Verifier) http.Handler {
	h := &handler{s: s, v: v}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/events", h.v.Scoped(auth.ScopeIngest, h.ingest))
	mux.HandleFunc("GET /v1/interactions", h.reader(h.list))
	mux.HandleFunc("GET /v1/interactions/{id}", h.reader(h.detail))
	mux.HandleFunc("GET /v1/customers/{id}/timeline", h.reader(h.timeline(true, nil)))
	mux.HandleFunc("GET /v1/customers/{id}/chats", h.reader(h.timeline(true, []string{})))
	mux.HandleFunc("GET /v1/customers/{id}/visits", h.reader(h.timeline(false, []string{"visit"})))
	mux.HandleFunc("GET /v1/customers/{id}/segments", h.reader(h.timeline(false, []string{"segment"})))
	mux.HandleFunc("GET /v1/customers/{id}/tasks", h.reader(h.tasks))
	return mux
}

type handler struct {
	s *Store
	v *auth.Verifier
}

// reader requires history:read and an agent whose active profile grants history access.
func (h *handler) reader(next func(http.ResponseWriter, *http.Request, domain.Reader)) http.HandlerFunc {
	return h.v.Scoped(auth.ScopeHistoryRead, func(w http.ResponseWriter, r *http.Request, p auth.Principal) {
		sub := p.Subject
		rd, ok, err := h.s.Reader(r.Context(), sub)
		if err != nil {
			jsonhttp.Error(w, http.StatusInternalServerError, err.Error(), nil)
			return
		}
		if !ok || !rd.HistoryAccess {
			jsonhttp.Error(w, http.StatusForbidden, "agent "+sub+" may not read the history", nil)
			return
		}
		next(w, r, rd)
	})
}

// ingestAnswer has the ledger's counters.
type ingestAnswer struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Rejected   int `json:"rejected"`
}

// ingest reads an NDJSON batch, every line checked as the ledger checks it
// (domain.DecodeIncoming), and stores it in one transaction. A bad line rejects the
// batch (400, naming the line) before anything is stored.
func (h *handler) ingest(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	now := time.Now()
	sc := bufio.NewScanner(http.MaxBytesReader(w, r.Body, maxBody))
	sc.Buffer(make([]byte, 0, 64<<10), maxBody)
	var evs []domain.Event
	for line := 1; sc.Scan(); line++ {
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		ev, err := domain.DecodeIncoming(bytes.Clone(raw), now)
		if err != nil {
			jsonhttp.Error(w, http.StatusBadRequest, "line "+strconv.Itoa(line)+": "+err.Error(), map[string]any{"rejected": 1})
			return
		}
		evs = append(evs, ev)
	}
	if err := sc.Err(); err != nil {
		jsonhttp.Error(w, http.StatusBadRequest, "body: "+err.Error(), nil)
		return
	}
	n, err := h.s.Ingest(r.Context(), evs)
	if err != nil {
		jsonhttp.Error(w, http.StatusServiceUnavailable, err.Error(), nil)
		return
	}
	jsonhttp.Write(w, http.StatusOK, ingestAnswer{Accepted: n, Duplicates: len(evs) - n})
}

func (h *handler) list(w http.ResponseWriter, r *http.Request, rd domain.Reader) {
	q, err := history.ParseQuery(r.URL.Query(), time.Now())
	if err != nil {
		var qe *history.QueryError
		if errors.As(err, &qe) {
			jsonhttp.Error(w, http.StatusBadRequest, qe.Error(), map[string]any{"param": qe.Param})
			return
		}
		jsonhttp.Error(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	page, err := h.s.List(r.Context(), rd, q)
	if err != nil {
		jsonhttp.Error(w, http.StatusInternalServerError, err.Error(), nil)
		return
	}
	jsonhttp.Write(w, http.StatusOK, page)
}

func (h *handler) detail(w http.ResponseWriter, r *http.Request, rd domain.Reader) {
	d, err := h.s.Get(r.Context(), rd, r.PathValue("id"))
	switch {
	case errors.Is(err, ErrNotFound):
		jsonhttp.Error(w, http.StatusNotFound, "interaction "+r.PathValue("id")+" not found", nil)
	case err != nil:
		jsonhttp.Error(w, http.StatusInternalServerError, err.Error(), nil)
	default:
		jsonhttp.Write(w, http.StatusOK, d)
	}
}

// pageLimit reads ?limit= (default 50, at most 500, as the ledger's timeline).
func pageLimit(r *http.Request) (int, bool) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 50, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 1 && n <= 500
}

func (h *handler) timeline(interactions bool, kinds []string) func(http.ResponseWriter, *http.Request, domain.Reader) {
	return func(w http.ResponseWriter, r *http.Request, rd domain.Reader) {
		limit, ok := pageLimit(r)
		if !ok {
			jsonhttp.Error(w, http.StatusBadRequest, "limit: must be 1 to 500", map[string]any{"param": "limit"})
			return
		}
		page, err := h.s.Timeline(r.Context(), rd, r.PathValue("id"), interactions, kinds, limit)
		if err != nil {
			jsonhttp.Error(w, http.StatusInternalServerError, err.Error(), nil)
			return
		}
		jsonhttp.Write(w, http.StatusOK, page)
	}
}

func (h *handler) tasks(w http.ResponseWriter, r *http.Request, _ domain.Reader) {
	limit, ok := pageLimit(r)
	if !ok {
		jsonhttp.Error(w, http.StatusBadRequest, "limit: must be 1 to 500", map[string]any{"param": "limit"})
		return
	}
	tasks, err := h.s.Tasks(r.Context(), r.PathValue("id"), limit)
	if err != nil {
		jsonhttp.Error(w, http.StatusInternalServerError, err.Error(), nil)
		return
	}
	jsonhttp.Write(w, http.StatusOK, map[string]any{"items": tasks, "next_cursor": ""})
}
