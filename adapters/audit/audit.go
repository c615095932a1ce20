// Package audit records every read of personal data (the read audit of CONTRACT.md §4,
// issue 18) in a stream of its own, eventstore.StreamAudit, and reads it back as access
// logs by customer or by agent.
//
// A Recorder takes records from the read path into a bounded buffer and appends them in
// batches from its own goroutine (Run), so a read costs a channel send. A read makes one
// record per customer whose data it returned; eventstore.AuditSubject puts the agent and
// the customer in the subject, so that a subject access request is a filtered read. Each
// batch is stored as one message per subject holding that subject's records (a JSON
// array): a list page over fifty customers read a hundred times between two flushes by
// one agent costs fifty messages, not five thousand.
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
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

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
	// Buffer is how many reads may wait to be recorded. Default 8192.
	Buffer int
	// Batch is the most reads recorded in one append. Default 1024.
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
		c.Batch = 1024
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

// read is one read waiting in the buffer: its record and what it returned. It is split
// into records (messages) by Run, off the read path.
type read struct {
	base Record
	hits []Hit
}

// Recorder buffers reads and appends their records to StreamAudit (Run).
type Recorder struct {
	cfg      Config
	ch       chan read
	lost     atomic.Uint64
	recorded atomic.Uint64
}

// NewRecorder returns a recorder; nothing is stored until Run runs.
func NewRecorder(cfg Config) (*Recorder, error) {
	cfg.setDefaults()
	if cfg.Store == nil {
		return nil, errors.New("audit: Config.Store is required")
	}
	return &Recorder{cfg: cfg, ch: make(chan read, cfg.Buffer)}, nil
}

// RecordRead queues one read, base with the interactions hits it returned,
// waiting for room up to Config.MaxWait (ErrUnavailable then) or ctx. hits must not
// change afterwards.
func (r *Recorder) RecordRead(ctx context.Context, base Record, hits []Hit) error {
	m := read{base: base, hits: hits}
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
		r.cfg.Logger.Warn("audit buffer full: read refused", "agent", base.AgentID, "action", base.Action)
		return ErrUnavailable
	case <-ctx.Done():
		return fmt.Errorf("audit: record: %w", ctx.Err())
	}
}

// Lost is how many accepted records could not be appended.
func (r *Recorder) Lost() uint64 { return r.lost.Load() }

// Recorded is how many records were appended.
func (r *Recorder) Recorded() uint64 { return r.recorded.Load() }

// Run appends the buffered reads in batches until ctx is done, then appends what the
// buffer still holds (bounded by ten seconds) and returns nil.
func (r *Recorder) Run(ctx context.Context) error {
	batch := make([]read, 0, r.cfg.Batch)
	keys := subjects{}
	for {
		select {
		case m := <-r.ch:
			batch = append(batch[:0], m)
		case <-ctx.Done():
			r.drain(keys)
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
		r.append(ctx, keys, batch)
	}
}

func (r *Recorder) drain(keys subjects) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		batch := make([]read, 0, r.cfg.Batch)
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
		r.append(ctx, keys, batch)
	}
}

// subjects caches eventstore.AuditSubject's keys: a hash per agent and customer, asked
// for every record. Bounded: cleared when it grows large.
type subjects map[[2]string]string

func (s subjects) of(agent, customer string) string {
	k := [2]string{agent, customer}
	if v, ok := s[k]; ok {
		return v
	}
	if len(s) > 100_000 {
		clear(s)
	}
	v := eventstore.AuditSubject(agent, customer)
	s[k] = v
	return v
}

// messages splits a batch of reads into records, one per customer whose data a read
// returned (one without a customer for a read that returned none), each with that
// customer's interaction ids, and groups them by subject, in order of first appearance: one message each, a JSON array of its records.
// The fields a read's records share are encoded once per read.
func messages(keys subjects, batch []read) ([]eventstore.Message, []int) {
	var msgs []eventstore.Message
	var counts []int
	groups := map[string]int{}
	var head, tail []byte
	byCustomer := map[string]int{}
	var custs []string
	var ids [][]string
	for _, rd := range batch {
		head = rd.base.appendHead(head[:0])
		tail = rd.base.appendTail(tail[:0])
		clear(byCustomer)
		custs, ids = custs[:0], ids[:0]
		if len(rd.hits) == 0 {
			custs, ids = append(custs, rd.base.CustomerID), append(ids, rd.base.InteractionIDs)
		}
		for _, h := range rd.hits {
			k, ok := byCustomer[h.CustomerID]
			if !ok {
				k = len(custs)
				byCustomer[h.CustomerID] = k
				custs, ids = append(custs, h.CustomerID), append(ids, nil)
			}
			if h.InteractionID != "" {
				ids[k] = append(ids[k], h.InteractionID)
			}
		}
		for c, cust := range custs {
			subj := keys.of(rd.base.AgentID, cust)
			k, ok := groups[subj]
			if !ok {
				k = len(msgs)
				groups[subj] = k
				msgs = append(msgs, eventstore.Message{ID: uuid.NewString(), Subject: subj, Data: make([]byte, 1, 512)})
				msgs[k].Data[0] = '['
				counts = append(counts, 0)
			}
			b := msgs[k].Data
			if counts[k] > 0 {
				b = append(b, ',')
			}
			b = append(b, head...)
			b = appendBody(b, cust, ids[c])
			msgs[k].Data = append(b, tail...)
			counts[k]++
		}
	}
	for k := range msgs {
		msgs[k].Data = append(msgs[k].Data, ']')
	}
	return msgs, counts
}

// appendJSON appends the record as encoding/json would write it (the access log reads
// it back with encoding/json): written by hand because reflection was most of the
// recorder's cost, and the recorder shares the machine with the reads it records.
func (rec *Record) appendJSON(b []byte) []byte {
	b = rec.appendHead(b)
	b = appendBody(b, rec.CustomerID, rec.InteractionIDs)
	return rec.appendTail(b)
}

func appendField(b []byte, name, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, v)
}

// appendHead opens the record with the fields of the read before its customer.
func (rec *Record) appendHead(b []byte) []byte {
	b = append(b, `{"at":"`...)
	b = rec.At.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = appendField(b, "agent_id", rec.AgentID)
	b = appendField(b, "role", rec.Role)
	if rec.Profile != "" {
		b = appendField(b, "profile", rec.Profile)
	}
	b = appendField(b, "action", rec.Action)
	if rec.Query != "" {
		b = appendField(b, "query", rec.Query)
	}
	return b
}

// appendBody appends the customer's part of a record.
func appendBody(b []byte, customer string, ids []string) []byte {
	if customer != "" {
		b = appendField(b, "customer_id", customer)
	}
	if len(ids) > 0 {
		b = append(b, `,"interaction_ids":[`...)
		for i, id := range ids {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, id)
		}
		b = append(b, ']')
	}
	return b
}

// appendTail closes the record with the fields of the read after its customer.
func (rec *Record) appendTail(b []byte) []byte {
	b = append(b, `,"rows":`...)
	b = strconv.AppendInt(b, int64(rec.Rows), 10)
	b = appendField(b, "request_id", rec.RequestID)
	b = appendField(b, "client_addr", rec.ClientAddr)
	return append(b, '}')
}

// appendString appends s as a JSON string: quotes, backslashes and control characters
// escaped, invalid UTF-8 replaced by U+FFFD as encoding/json does.
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// append stores batch, retrying the messages whose outcome is unknown (their IDs make a
// resend safe) a few times; the records of what still fails are counted as lost.
func (r *Recorder) append(ctx context.Context, keys subjects, batch []read) {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
	}
	todo, counts := messages(keys, batch)
	var lastErr error
	for attempt := 0; attempt < 3 && len(todo) > 0; attempt++ {
		res, err := r.cfg.Store.Append(ctx, todo)
		if err != nil {
			lastErr = err
			break
		}
		var again []eventstore.Message
		var againCounts []int
		for i, a := range res {
			switch {
			case a.Err == nil:
				r.recorded.Add(uint64(counts[i]))
			case errors.Is(a.Err, eventstore.ErrUnknownOutcome):
				lastErr = a.Err
				again, againCounts = append(again, todo[i]), append(againCounts, counts[i])
			default:
				lastErr = a.Err
				r.lost.Add(uint64(counts[i]))
			}
		}
		todo, counts = again, againCounts
	}
	for _, n := range counts {
		r.lost.Add(uint64(n))
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

// Entry is one record of an access log with its position in the stream (records
// appended together share a Seq).
type Entry struct {
	Seq uint64 `json:"seq"`
	Record
}

// Page is one page of an access log, oldest first; Next asks for the next page (the
// cursor parameter), "" on the last.
type Page struct {
	Items []Entry `json:"items"`
	Next  string  `json:"next_cursor"`
}

// Cursor is a position in an access log: after the record Skip-1 of the message at Seq
// (Skip 0: after the whole message).
type Cursor struct {
	Seq  uint64
	Skip int
}

// ParseCursor reads a Page's Next ("" is the start).
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	seq, skip, _ := strings.Cut(s, ".")
	var c Cursor
	var err error
	if c.Seq, err = strconv.ParseUint(seq, 10, 64); err != nil {
		return Cursor{}, fmt.Errorf("audit: cursor %q: not a cursor of an access log", s)
	}
	if skip != "" {
		if c.Skip, err = strconv.Atoi(skip); err != nil || c.Skip < 1 || c.Seq == 0 {
			return Cursor{}, fmt.Errorf("audit: cursor %q: not a cursor of an access log", s)
		}
	}
	return c, nil
}

func (c Cursor) String() string {
	if c.Skip == 0 {
		return strconv.FormatUint(c.Seq, 10)
	}
	return strconv.FormatUint(c.Seq, 10) + "." + strconv.Itoa(c.Skip)
}

// Customer returns up to limit reads of customerID's data after the cursor.
func (l *Log) Customer(ctx context.Context, customerID string, after Cursor, limit int) (Page, error) {
	return l.read(ctx, eventstore.AuditCustomerFilter(customerID), after, limit)
}

// Agent returns up to limit reads by agentID after the cursor.
func (l *Log) Agent(ctx context.Context, agentID string, after Cursor, limit int) (Page, error) {
	return l.read(ctx, eventstore.AuditAgentFilter(agentID), after, limit)
}

func (l *Log) read(ctx context.Context, filter string, after Cursor, limit int) (Page, error) {
	from := after.Seq
	if after.Skip > 0 {
		from-- // the message at Seq is partly read: from it again
	}
	// A message holds at least one record: limit messages fill the page.
	ds, more, err := l.store.ReadFiltered(ctx, eventstore.StreamAudit, filter, from, limit)
	if err != nil {
		return Page{}, fmt.Errorf("audit: access log: %w", err)
	}
	p := Page{Items: make([]Entry, 0, limit)}
	for i, d := range ds {
		var recs []Record
		if err := json.Unmarshal(d.Data, &recs); err != nil {
			return Page{}, fmt.Errorf("audit: access log: message %d: %w", d.Seq, err)
		}
		k := 0
		if d.Seq == after.Seq && after.Skip > 0 {
			k = min(after.Skip, len(recs))
		}
		for ; k < len(recs); k++ {
			if len(p.Items) == limit {
				p.Next = Cursor{Seq: d.Seq, Skip: k}.String()
				return p, nil
			}
			p.Items = append(p.Items, Entry{Seq: d.Seq, Record: recs[k]})
		}
		if len(p.Items) == limit && (more || i < len(ds)-1) {
			p.Next = Cursor{Seq: d.Seq}.String()
			return p, nil
		}
	}
	if more && len(ds) > 0 {
		p.Next = Cursor{Seq: ds[len(ds)-1].Seq}.String()
	}
	return p, nil
}

// Hit is one interaction a read returned, with its customer.
type Hit struct {
	CustomerID    string
	InteractionID string
}
