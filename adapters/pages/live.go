package pages

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/interaction-ledger/ledger/adapters/httpapi"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections/history"
	"github.com/interaction-ledger/ledger/projections/timeline"
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

// changesKeepAlive is how often an idle change stream sends a comment line, so that
// proxies do not close it.
const changesKeepAlive = 25 * time.Second

// detailChanges streams "changed" events for an open detail: one each time an event is
// applied to the interaction (history.View.WaitChange), from the position the page was
// rendered at (at) or, on a reconnect, from the browser's Last-Event-ID. The event says
// only that the page is out of date; the page then reads itself again, under the access
// rule, as a reload would. A reader who may not see the interaction gets 404.
func (h *Handler) detailChanges(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if _, err := h.cfg.History.Get(s.Reader, id); err != nil {
		http.Error(w, "There is no interaction "+id+" in your history.", http.StatusNotFound)
		return
	}
	h.serveChanges(w, r, func(ctx context.Context, at uint64) (uint64, error) {
		next, err := h.cfg.History.WaitChange(ctx, id, at)
		if err != nil {
			return at, err
		}
		// The agent's rights as they are now (a transfer, a new profile): a change they
		// may no longer see ends the stream rather than telling them of it.
		rd, ok := h.readerNow(s.Principal.Subject)
		if !ok {
			return at, errNoLongerVisible
		}
		if seen, err := h.cfg.History.Visible(rd, []string{id}); err != nil || !seen[0] {
			return at, cmp.Or(err, errNoLongerVisible)
		}
		return next, nil
	})
}

// errNoLongerVisible ends a change stream whose reader may no longer see what it follows.
var errNoLongerVisible = errors.New("no longer visible to this agent")

// readerNow is the agent's visibility as the directory says now; ok is false when the
// agent is gone or lost access to the history.
func (h *Handler) readerNow(agentID string) (domain.Reader, bool) {
	rd, ok, err := h.cfg.Directory.Reader(agentID)
	return rd, err == nil && ok && rd.HistoryAccess
}

// cardChanges streams "changed" events for an open card: one each time what the card
// shows this reader changes (timeline.View.WaitChange, then a digest of the card and its
// newest items as the reader may see them, so that an event the reader may not see sends
// nothing).
func (h *Handler) cardChanges(w http.ResponseWriter, r *http.Request, s *session) {
	cust := r.PathValue("id")
	// The digest the page was rendered with (d); a page without one is told of the next
	// change whatever it is.
	var last string
	if d := r.URL.Query().Get("d"); len(d) == 2*sha256.Size {
		last = d
	}
	h.serveChanges(w, r, func(ctx context.Context, at uint64) (uint64, error) {
		for {
			next, err := h.cfg.Timeline.WaitChange(ctx, cust, at)
			if err != nil {
				return at, err
			}
			rd, ok := h.readerNow(s.Principal.Subject)
			if !ok {
				return at, errNoLongerVisible
			}
			see := rd.CanSee // what the card shows the agent now
			card, err := h.cfg.Timeline.Card(cust, see)
			if err != nil {
				return at, err
			}
			d, err := h.cardDigest(cust, card, see)
			if err != nil {
				return at, err
			}
			if d != last {
				last = d
				return next, nil
			}
			at = next
		}
	})
}

// cardDigest sums up what the card shows a reader: its summary (card, read with see) and
// newest items as the reader may see them.
func (h *Handler) cardDigest(cust string, card timeline.Card, see timeline.Visible) (string, error) {
	page, err := h.cfg.Timeline.Read(cust, timeline.Query{Visible: see})
	if err != nil {
		return "", err
	}
	b, err := json.Marshal([]any{card, page.Items})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), err
}

// serveChanges writes a Server-Sent Events stream of "changed" events, each with the
// position wait returned as its id, until the client goes away.
func (h *Handler) serveChanges(w http.ResponseWriter, r *http.Request, wait func(ctx context.Context, at uint64) (uint64, error)) {
	at, resumed, err := httpapi.LastEventID(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !resumed {
		if at, err = strconv.ParseUint(r.URL.Query().Get("at"), 10, 64); err != nil {
			http.Error(w, "at: the position the page was read at is required (a number)", http.StatusBadRequest)
			return
		}
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return
	}
	ctx := r.Context()
	for {
		wctx, cancel := context.WithTimeout(ctx, changesKeepAlive)
		next, err := wait(wctx, at)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, context.DeadlineExceeded):
			_, err = io.WriteString(w, ": keep-alive\n\n")
		case errors.Is(err, errNoLongerVisible):
			return
		case err != nil:
			h.cfg.Logger.Warn("change stream ended", "path", r.URL.Path, "err", err)
			return
		default:
			at = next
			_, err = fmt.Fprintf(w, "id: %d\nevent: changed\ndata: %d\n\n", at, at)
		}
		if err != nil || rc.Flush() != nil {
			return
		}
	}
}
