package httpapi

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
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
// One reader (started with the first open stream, ended with the last) reads each
// committed batch of the history view once (history.View.ReadChanges from the previous
// position) and hands it to every open stream, which only matches it against its own
// query and reader (history.ChangeBatch.Match, the list's own test) and writes. Each
// stream has a bounded queue of batches: a stream that falls Buffer batches behind (a
// slow client) is closed, and its client resumes with Last-Event-ID from the change
// index, so that nothing is lost and a slow client never holds the others back. A
// stream that starts behind the reader (a resume) catches up from the change index on
// its own first. Measured by BenchmarkLiveLatency (README, "Live and export").
//
// A Live must not be copied after first use.
type Live struct {
	History   *history.View
	HistoryDB *projections.DB // its Moved channel wakes the reader after each batch
	Directory *directory.View
	Logger    *slog.Logger // default slog.Default()
	// Heartbeat is how often an idle stream sends a comment, so that proxies and the
	// client see it alive; default 15 s.
	Heartbeat time.Duration
	// WriteWait bounds each write to the client (the server's WriteTimeout is pushed
	// forward by it); default 30 s.
	WriteWait time.Duration
	// Buffer is how many batches a stream may fall behind the reader before it is closed
	// (its client resumes from its Last-Event-ID); default 256 (about 10 s of the
	// projector's batches under heavy ingest).
	Buffer int

	mu      sync.Mutex
	subs    map[*subscription]struct{}
	reading bool          // the reader runs
	pos     uint64        // the position the reader has handed out up to
	idle    chan struct{} // pokes the reader when the last stream leaves
}

// subscription is one open stream as the reader sees it.
type subscription struct {
	batches chan *history.ChangeBatch
	dropped chan struct{} // closed when the reader drops the stream (behind, or a read failed)
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
	log := l.logger()
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
	sub, shared := l.subscribe()
	defer l.unsubscribe(sub)
	st := stream{bw: bw, q: q, sent: after, encode: encode}
	reader := func() (domain.Reader, bool) {
		rd, ok, err := l.Directory.Reader(agentID)
		if err != nil {
			log.Error("live: read agent", "agent", agentID, "err", err)
			return rd, false
		}
		return rd, ok && rd.HistoryAccess
	}

	// Behind the reader (a resume): catch up from the change index on its own, up to
	// at least where the reader's batches start.
	for more := st.sent < shared; more || st.sent < shared; {
		rd, ok := reader()
		if !ok {
			return
		}
		changes, upto, m, err := l.History.Changes(rd, q, st.sent)
		if err != nil {
			log.Error("live: read changes", "agent", agentID, "after", st.sent, "err", err)
			return
		}
		if upto == st.sent { // the view is behind the reader's position: its file was swapped
			break
		}
		if err := st.write(changes, upto); err != nil {
			log.Error("live: encode", "agent", agentID, "err", err)
			return
		}
		if err := flush(); err != nil {
			return
		}
		more = m
	}

	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	ctx := r.Context()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			fmt.Fprintf(bw, ": keep-alive\n\n")
			if err := flush(); err != nil {
				return
			}
			continue
		case b := <-sub.batches:
			rd, ok := reader()
			if !ok {
				return
			}
			// Write every batch queued meanwhile, then flush once.
			for b != nil {
				if err := st.batch(rd, b); err != nil {
					log.Error("live: encode", "agent", agentID, "err", err)
					return
				}
				select {
				case b = <-sub.batches:
				default:
					b = nil
				}
			}
			if err := flush(); err != nil {
				return
			}
		case <-sub.dropped:
			// Behind by Buffer batches, or the reader failed: the client resumes from
			// the last id it received.
			return
		}
	}
}

// stream is what one open stream has sent.
type stream struct {
	bw     *bufio.Writer
	q      history.Query
	sent   uint64 // the position every change up to which has been sent
	encode func(history.Item) ([]byte, error)
}

// batch writes what b holds for rd past the position already sent.
func (st *stream) batch(rd domain.Reader, b *history.ChangeBatch) error {
	if b.Upto <= st.sent {
		return nil
	}
	changes := b.Match(rd, st.q)
	// A row at or before sent was sent by the catch-up (which read a later state).
	i := 0
	for i < len(changes) && changes[i].Seq <= st.sent {
		i++
	}
	return st.write(changes[i:], b.Upto)
}

// write sends the changes and moves sent to upto, with a bare id when the last change
// is before it.
func (st *stream) write(changes []history.Change, upto uint64) error {
	bw := st.bw
	var last uint64
	for _, c := range changes {
		data, err := st.encode(c.Item)
		if err != nil {
			return fmt.Errorf("encode item %s: %w", c.Item.InteractionID, err)
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
	if upto > last && upto > st.sent {
		fmt.Fprintf(bw, "id: %d\n\n", upto)
	}
	st.sent = max(st.sent, upto)
	return nil
}

func (l *Live) logger() *slog.Logger {
	if l.Logger == nil {
		return slog.Default()
	}
	return l.Logger
}

// Streams returns how many open streams the reader hands its batches to (one dropped
// for falling behind no longer counts); the reader runs while there is one.
func (l *Live) Streams() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.subs)
}

// subscribe adds a stream to the reader's, starting the reader if none runs, and returns
// the position from which the reader's batches will reach it.
func (l *Live) subscribe() (*subscription, uint64) {
	n := l.Buffer
	if n <= 0 {
		n = 256
	}
	sub := &subscription{batches: make(chan *history.ChangeBatch, n), dropped: make(chan struct{})}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.subs == nil {
		l.subs, l.idle = map[*subscription]struct{}{}, make(chan struct{}, 1)
	}
	l.subs[sub] = struct{}{}
	if !l.reading {
		l.reading = true
		l.pos, _ = l.HistoryDB.Moved()
		go l.read(l.pos)
	}
	return sub, l.pos
}

// unsubscribe removes a stream; the reader stops when none is left.
func (l *Live) unsubscribe(sub *subscription) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.subs, sub)
	if len(l.subs) == 0 {
		select {
		case l.idle <- struct{}{}:
		default:
		}
	}
}

// read is the reader: it reads each committed batch once from position pos and hands
// it to every stream, until no stream is left.
func (l *Live) read(pos uint64) {
	for {
		l.mu.Lock()
		if len(l.subs) == 0 {
			l.reading = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		_, moved := l.HistoryDB.Moved() // before reading: a batch committed meanwhile wakes us
		b, err := l.History.ReadChanges(pos)
		if err != nil {
			l.logger().Error("live: read changes", "after", pos, "err", err)
			l.mu.Lock()
			for sub := range l.subs { // their clients resume from the change index
				close(sub.dropped)
				delete(l.subs, sub)
			}
			l.reading = false
			l.mu.Unlock()
			return
		}
		if b.Upto > pos {
			pos = b.Upto
			l.deliver(b)
			continue // more may remain (a bounded read) or have arrived
		}
		select {
		case <-moved:
		case <-l.idle:
		}
	}
}

// deliver queues b on every stream, dropping those whose queue is full.
func (l *Live) deliver(b *history.ChangeBatch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pos = b.Upto
	for sub := range l.subs {
		select {
		case sub.batches <- b:
		default:
			close(sub.dropped)
			delete(l.subs, sub)
		}
	}
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
