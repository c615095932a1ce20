// Package audit records every read of personal data (the read audit of CONTRACT.md §4,
// issue 18) in a stream of its own, eventstore.StreamAudit, and reads it back as access
// logs by customer or by agent.
//
// A Recorder takes records from the read path into a bounded buffer and appends them in
// batches from its own goroutine (Run), so a read costs a channel send. One record is
// stored per customer whose data a read returned (eventstore.AuditSubject puts the agent
// and the customer in the subject), so that a subject access request is a filtered read.
//
// # Caveats
//
// When the buffer is full the read waits for room up to Config.MaxWait, then fails with
// ErrUnavailable and the HTTP layer answers 503 without the data: for an auditor a read
// of personal data that left no trace is worse than a read refused, so the audit fails
// closed. A record accepted into the buffer whose append then fails (the store down for
// longer than the retries) is counted (Lost) and logged, never silently dropped.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/interaction-ledger/ledger/eventstore"
)

// ErrUnavailable means the audit buffer stayed full for Config.MaxWait: the read must
// not be answered, since it could not be recorded.
var ErrUnavailable = errors.New("audit: buffer full, the read cannot be recorded")

// Record is one read of personal data: who, when, what and from where. It holds no more
// personal data than the request itself: ids, the query as sent, a count.
type Record struct {
	At         time.Time `json:"at"`
	AgentID    string    `json:"agent_id"`
	Role       string    `json:"role"`
	Profile    string    `json:"profile,omitempty"`
	Action     string    `json:"action"`          // list, detail, card, timeline, chats, tasks, visits, segments, page...
	Query      string    `json:"query,omitempty"` // the request's path and query string, as sent
	CustomerID string    `json:"customer_id,omitempty"`
	// InteractionIDs are the interactions of CustomerID the read returned.
	InteractionIDs []string `json:"interaction_ids,omitempty"`
	Rows           int      `json:"rows"` // rows the whole read returned
	RequestID      string   `json:"request_id"`
	ClientAddr     string   `json:"client_addr"`
}

// Appender stores messages: the event store.
type Appender interface {
	Append(ctx context.Context, msgs []eventstore.Message) ([]eventstore.AppendResult, error)
}

// Config configures a Recorder.
type Config struct {
	Store Appender // required
	// Buffer is how many records may wait to be appended. Default 8192.
	Buffer int
	// Batch is the most records appended at once. Default 512.
	Batch int
	// Linger is how long a partial batch waits for more. Default 100 ms.
	Linger time.Duration
	// MaxWait is how long a read waits for room in a full buffer before ErrUnavailable.
	// Default 2 s.
	MaxWait time.Duration
	Logger  *slog.Logger // default slog.Default()
}

func (c *Config) setDefaults() {
	if c.Buffer <= 0 {
		c.Buffer = 8192
	}
	if c.Batch <= 0 {
		c.Batch = 512
	}
	if c.Linger <= 0 {
		c.Linger = 100 * time.Millisecond
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Recorder buffers records and appends them to StreamAudit (Run).
type Recorder struct {
	cfg      Config
	ch       chan eventstore.Message
	lost     atomic.Uint64
	recorded atomic.Uint64
}

// NewRecorder returns a recorder; nothing is stored until Run runs.
func NewRecorder(cfg Config) (*Recorder, error) {
	cfg.setDefaults()
	if cfg.Store == nil {
		return nil, errors.New("audit: Config.Store is required")
	}
	return &Recorder{cfg: cfg, ch: make(chan eventstore.Message, cfg.Buffer)}, nil
}

// Record queues rec for appending, waiting for room up to Config.MaxWait (ErrUnavailable
// then) or ctx.
func (r *Recorder) Record(ctx context.Context, rec Record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("audit: encode record: %w", err)
	}
	m := eventstore.Message{ID: uuid.NewString(), Subject: eventstore.AuditSubject(rec.AgentID, rec.CustomerID), Data: data}
	select {
	case r.ch <- m:
		return nil
	default:
	}
	t := time.NewTimer(r.cfg.MaxWait)
	defer t.Stop()
	select {
	case r.ch <- m:
		return nil
	case <-t.C:
		r.cfg.Logger.Warn("audit buffer full: read refused", "agent", rec.AgentID, "action", rec.Action)
		return ErrUnavailable
	case <-ctx.Done():
		return fmt.Errorf("audit: record: %w", ctx.Err())
	}
}

// Lost is how many accepted records could not be appended.
func (r *Recorder) Lost() uint64 { return r.lost.Load() }

// Recorded is how many records were appended.
func (r *Recorder) Recorded() uint64 { return r.recorded.Load() }

// Run appends the buffered records in batches until ctx is done, then appends what the
// buffer still holds (bounded by ten seconds) and returns nil.
func (r *Recorder) Run(ctx context.Context) error {
	batch := make([]eventstore.Message, 0, r.cfg.Batch)
	for {
		select {
		case m := <-r.ch:
			batch = append(batch[:0], m)
		case <-ctx.Done():
			r.drain()
			return nil
		}
		t := time.NewTimer(r.cfg.Linger)
	fill:
		for len(batch) < r.cfg.Batch {
			select {
			case m := <-r.ch:
				batch = append(batch, m)
			case <-t.C:
				break fill
			case <-ctx.Done():
				break fill
			}
		}
		t.Stop()
		r.append(ctx, batch)
	}
}

func (r *Recorder) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		batch := make([]eventstore.Message, 0, r.cfg.Batch)
	fill:
		for len(batch) < r.cfg.Batch {
			select {
			case m := <-r.ch:
				batch = append(batch, m)
			default:
				break fill
			}
		}
		if len(batch) == 0 {
			return
		}
		r.append(ctx, batch)
	}
}

// append stores batch, retrying the records whose outcome is unknown (their IDs make a
// resend safe) a few times; what still fails is counted as lost.
func (r *Recorder) append(ctx context.Context, batch []eventstore.Message) {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
	}
	todo := batch
	var lastErr error
	for attempt := 0; attempt < 3 && len(todo) > 0; attempt++ {
		res, err := r.cfg.Store.Append(ctx, todo)
		if err != nil {
			lastErr = err
			break
		}
		var again []eventstore.Message
		for i, a := range res {
			if a.Err == nil {
				r.recorded.Add(1)
				continue
			}
			lastErr = a.Err
			if errors.Is(a.Err, eventstore.ErrUnknownOutcome) {
				again = append(again, todo[i])
			} else {
				r.lost.Add(1)
			}
		}
		todo = again
	}
	if len(todo) > 0 {
		r.lost.Add(uint64(len(todo)))
	}
	if lastErr != nil {
		r.cfg.Logger.Error("audit records lost", "lost_total", r.lost.Load(), "err", lastErr)
	}
}

// Reader reads a stream's messages by subject filter, in order: the event store.
type Reader interface {
	ReadFiltered(ctx context.Context, stream, filter string, afterSeq uint64, limit int) ([]eventstore.Delivery, bool, error)
}

// Log answers access logs from StreamAudit.
type Log struct{ store Reader }

// NewLog returns a Log over store.
func NewLog(store Reader) *Log { return &Log{store: store} }

// Entry is one record of an access log with its position in the stream.
type Entry struct {
	Seq uint64 `json:"seq"`
	Record
}

// Page is one page of an access log, oldest first; NextAfter (the last Seq) asks for
// the next page, 0 on the last.
type Page struct {
	Items     []Entry `json:"items"`
	NextAfter uint64  `json:"next_after"`
}

// Customer returns the reads of customerID's data after the sequence after.
func (l *Log) Customer(ctx context.Context, customerID string, after uint64, limit int) (Page, error) {
	return l.read(ctx, eventstore.AuditCustomerFilter(customerID), after, limit)
}

// Agent returns the reads by agentID after the sequence after.
func (l *Log) Agent(ctx context.Context, agentID string, after uint64, limit int) (Page, error) {
	return l.read(ctx, eventstore.AuditAgentFilter(agentID), after, limit)
}

func (l *Log) read(ctx context.Context, filter string, after uint64, limit int) (Page, error) {
	ds, more, err := l.store.ReadFiltered(ctx, eventstore.StreamAudit, filter, after, limit)
	if err != nil {
		return Page{}, fmt.Errorf("audit: access log: %w", err)
	}
	p := Page{Items: make([]Entry, 0, len(ds))}
	for _, d := range ds {
		e := Entry{Seq: d.Seq}
		if err := json.Unmarshal(d.Data, &e.Record); err != nil {
			return Page{}, fmt.Errorf("audit: access log: record %d: %w", d.Seq, err)
		}
		p.Items = append(p.Items, e)
	}
	if more && len(p.Items) > 0 {
		p.NextAfter = p.Items[len(p.Items)-1].Seq
	}
	return p, nil
}

// Hit is one interaction a read returned, with its customer.
type Hit struct {
	CustomerID    string
	InteractionID string
}

// Records splits one read into its records: one per customer whose data it returned
// (base.CustomerID's alone when hits is empty and base names one; one without a customer
// when it names none), each with that customer's interaction ids.
func Records(base Record, hits []Hit) []Record {
	if len(hits) == 0 {
		return []Record{base}
	}
	var out []Record
	at := map[string]int{}
	for _, h := range hits {
		k, ok := at[h.CustomerID]
		if !ok {
			k = len(out)
			at[h.CustomerID] = k
			rec := base
			rec.CustomerID, rec.InteractionIDs = h.CustomerID, nil
			out = append(out, rec)
		}
		if h.InteractionID != "" {
			out[k].InteractionIDs = append(out[k].InteractionIDs, h.InteractionID)
		}
	}
	return out
}

// RecordRead records one read (Records), failing as Record does.
func (r *Recorder) RecordRead(ctx context.Context, base Record, hits []Hit) error {
	for _, rec := range Records(base, hits) {
		if err := r.Record(ctx, rec); err != nil {
			return err
		}
	}
	return nil
}
