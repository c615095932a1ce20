package pages

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"

	"github.com/interaction-ledger/ledger/adapters/httpapi"
	"github.com/interaction-ledger/ledger/projections/history"
)

// live streams the list's new and changed rows (httpapi.Live, the API's own stream), each
// as the list's row rendered by the same template, from the position the page was read
// at (since) or, on a reconnect, from the browser's Last-Event-ID.
func (h *Handler) live(w http.ResponseWriter, r *http.Request, s *session) {
	if h.cfg.Live == nil {
		http.Error(w, "live updates are not served here", http.StatusNotFound)
		return
	}
	in := r.URL.Query()
	since := in.Get("since")
	in.Del("since")
	params := apiQuery(in, s.TZ)
	loc, ok := zone(params.Get("tz"))
	if !ok {
		loc = s.Loc
	}
	q, err := history.ParseQuery(params, h.cfg.Now())
	var qe *history.QueryError
	if errors.As(err, &qe) {
		http.Error(w, "Filter "+qe.Param+": "+qe.Problem, http.StatusBadRequest)
		return
	}
	after, resumed, err := httpapi.LastEventID(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !resumed {
		if after, err = strconv.ParseUint(since, 10, 64); err != nil {
			after = h.cfg.Live.Position()
		}
	}
	h.cfg.Live.Serve(w, r, s.Reader.AgentID, q, after, func(it history.Item) ([]byte, error) {
		var buf bytes.Buffer
		err := h.views["list"].ExecuteTemplate(&buf, "row", h.row(it, loc))
		return bytes.TrimSpace(buf.Bytes()), err
	})
}

// export downloads the list as the page shows it (same query) as CSV, the whole range.
func (h *Handler) export(w http.ResponseWriter, r *http.Request, s *session) {
	params := apiQuery(r.URL.Query(), s.TZ)
	params.Del("cursor")
	q, err := history.ParseQuery(params, h.cfg.Now())
	if err == nil {
		err = httpapi.WriteCSV(w, h.cfg.History, s.Reader, q, "interactions.csv")
	}
	var qe *history.QueryError
	switch {
	case err == nil:
	case w.Header().Get("Content-Type") != "":
		h.cfg.Logger.Warn("export ended early", "agent", s.Reader.AgentID, "err", err)
	case errors.As(err, &qe):
		h.fail(w, r, s, http.StatusBadRequest, "Filter "+qe.Param+": "+qe.Problem)
	default:
		h.internal(w, r, s, err)
	}
}
