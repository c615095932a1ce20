package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/interaction-ledger/ledger/adapters/jsonhttp"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/directory"
	"github.com/interaction-ledger/ledger/projections/history"
)

// Live streams the live list (GET /v1/interactions/live, CONTRACT.md §4) as Server-Sent
// Events, for the API and the agents' pages alike.
//
// Caveat: each committed batch of the history view wakes every open stream, and each
// reads the batch's changes and filters them for its own reader and query. With many
// streams under heavy ingest this is the cost (BenchmarkLiveLatency); sharing one read
// per batch among the streams is the next step if the figure must drop.
type Live struct {
	History   *history.View
	HistoryDB *projections.DB // its Moved channel wakes the stream after each batch
	Directory *directory.View
	Logger    *slog.Logger // default slog.Default()
	// Heartbeat is how often an idle stream sends a comment, so that proxies and the
	// client see it alive; default 15 s.
	Heartbeat time.Duration
	// WriteWait bounds each write to the client (the server's WriteTimeout is pushed
	// forward by it); default 30 s.
	WriteWait time.Duration
}

// Live returns the live list over the configuration's views.
func (cfg Config) Live() *Live {
	return &Live{History: cfg.History, HistoryDB: cfg.HistoryDB, Directory: cfg.Directory, Logger: cfg.Logger}
}

// ErrBadLastEventID is a Last-Event-ID that is not a position this server sent.
var ErrBadLastEventID = errors.New("Last-Event-ID: not a position (a whole number)")

// LastEventID reads the position a reconnecting client sends back (0, false without one).
func LastEventID(r *http.Request) (uint64, bool, error) {
	s := strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	if s == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false, ErrBadLastEventID
	}
	return n, true, nil
}

// Position returns the history view's current position: a live stream started from it
// sends what changes from now on.
func (l *Live) Position() uint64 {
	p, _ := l.HistoryDB.Moved()
	return p
}

// Serve streams, until the client leaves, every interaction of q that enters or changes
// in the list of agentID after position after, as event upsert with id its position and
// data encode(item) (one line). After each batch it also sends a bare id (no data): the
// client's Last-Event-ID then moves past changes that matched nothing, so a resume reads
// only what is new. The reader is read again from the directory at each batch: an agent
// whose rights shrink sees only what they may see now, and one who loses history access
// has the stream closed.
func (l *Live) Serve(w http.ResponseWriter, r *http.Request, agentID string, q history.Query, after uint64, encode func(history.Item) ([]byte, error)) {
	log := l.Logger
	if log == nil {
		log = slog.Default()
	}
	heartbeat, wait := l.Heartbeat, l.WriteWait
	if heartbeat <= 0 {
		heartbeat = 15 * time.Second
	}
	if wait <= 0 {
		wait = 30 * time.Second
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // a buffering proxy would hold the events back
	bw := bufio.NewWriter(w)
	flush := func() error {
		if err := rc.SetWriteDeadline(time.Now().Add(wait)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		return rc.Flush()
	}
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(bw, "retry: 2000\n\n")
	if err := flush(); err != nil {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	ctx := r.Context()
	for {
		_, moved := l.HistoryDB.Moved() // before reading: a batch committed meanwhile wakes us
		rd, ok, err := l.Directory.Reader(agentID)
		if err != nil {
			log.Error("live: read agent", "agent", agentID, "err", err)
			return
		}
		if !ok || !rd.HistoryAccess {
			return
		}
		next, err := l.send(bw, rd, q, after, encode)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				log.Error("live: read changes", "agent", agentID, "after", after, "err", err)
			}
			return
		}
		if next != after {
			if err := flush(); err != nil {
				return
			}
			after = next
			continue // more may remain (a bounded read) or have arrived
		}
		select {
		case <-ctx.Done():
			return
		case <-moved:
		case <-tick.C:
			fmt.Fprintf(bw, ": keep-alive\n\n")
			if err := flush(); err != nil {
				return
			}
		}
	}
}

// send writes the changes after position after and returns the position reached.
func (l *Live) send(bw *bufio.Writer, rd domain.Reader, q history.Query, after uint64, encode func(history.Item) ([]byte, error)) (uint64, error) {
	changes, upto, _, err := l.History.Changes(rd, q, after)
	if err != nil {
		return after, err
	}
	var last uint64
	for _, c := range changes {
		data, err := encode(c.Item)
		if err != nil {
			return after, fmt.Errorf("encode item %s: %w", c.Item.InteractionID, err)
		}
		bw.WriteString("event: upsert\nid: ")
		bw.WriteString(strconv.FormatUint(c.Seq, 10))
		for _, line := range strings.Split(string(data), "\n") {
			bw.WriteString("\ndata: ")
			bw.WriteString(line)
		}
		bw.WriteString("\n\n")
		last = c.Seq
	}
	if upto > last && upto > after {
		fmt.Fprintf(bw, "id: %d\n\n", upto)
	}
	return upto, nil
}

// liveInteractions is GET /v1/interactions/live: the list's filters (sort, limit and
// cursor mean nothing here and are refused as in the list when malformed), from the
// client's Last-Event-ID, or from now.
func (s *Server) liveInteractions(w http.ResponseWriter, r *http.Request, rd domain.Reader) {
	q, err := history.ParseQuery(r.URL.Query(), s.cfg.Now())
	if err != nil {
		s.queryError(w, r, err)
		return
	}
	after, ok, err := LastEventID(r)
	if err != nil {
		jsonhttp.Error(w, http.StatusBadRequest, err.Error(), map[string]any{"header": "Last-Event-ID"})
		return
	}
	if !ok {
		after = s.live.Position()
	}
	s.live.Serve(w, r, rd.AgentID, q, after, func(it history.Item) ([]byte, error) { return json.Marshal(it) })
}
