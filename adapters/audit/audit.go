// Package audit records every read of personal data (the read audit of CONTRACT.md §4,
// issue 18) in a stream of its own, eventstore.StreamAudit, and reads it back as access
// logs by customer or by agent.
//
// A Recorder takes reads from the read path into a bounded buffer and appends them in
// batches from its own goroutine (Run), so a read costs a channel send. A read makes one
// record per customer whose data it returned; eventstore.AuditSubject puts the agent and
// the customer in the subject, so that a subject access request is a filtered read. A
// batch stores each read's record (who, when, what, from where) once, in a reads message
// (eventstore.AuditReadsSubject), then one message per agent and customer holding, for
// each of its records, the reads message's sequence, the read's place in it and the
// customer's interaction ids; the access log joins them again. A list page over fifty
// customers costs its record once and fifty short references, not fifty copies.
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
	"github.com/interaction-ledger/ledger/projections/auditindex"
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
	enc := newEncoder()
	for {
		select {
		case m := <-r.ch:
			batch = append(batch[:0], m)
		case <-ctx.Done():
			r.drain(enc)
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
		r.append(ctx, enc, batch)
	}
}

func (r *Recorder) drain(enc *encoder) {
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
		r.append(ctx, enc, batch)
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

// maxReadsMessage bounds a reads message (a read longer than it has one of its own):
// a batch whose reads encode larger is stored in several messages. An access log decodes
// a whole reads message for each record it shows from it, and a customer's records come
// from as many reads messages: with 256 KB messages (a thousand reads) a page of ten
// took 22-43 ms (medians of throwaway runs), nine tenths of it in that decoding. At 8 KB (about forty reads) a batch
// stores a few more messages, next to the fifty subject messages of each list read.
const maxReadsMessage = 8 << 10

// encoder turns a batch of reads into messages: each read's record once, in a reads
// message (eventstore.AuditReadsSubject), and for each agent and customer one message
// referring to the reads of that customer's data by sequence and place, with the
// interaction ids they returned. A list page over fifty customers so costs its record
// once plus fifty short references, not fifty copies of its record. The buffers are
// kept from one batch to the next: the recorder shares the machine with the reads it
// records.
type encoder struct {
	keys   subjects
	arena  []byte
	groups map[string]int
	subs   []subjectGroup
	// Per read of the batch: its reads message, its place in it, how many records
	// (customers) it makes.
	chunk, place, records []int
}

// subjectGroup is what a batch stores under one agent's and customer's subject.
type subjectGroup struct {
	subject, customer string
	refs              []ref
}

// ref is one record: a read of the batch and the customer's interactions it returned.
type ref struct {
	read int
	ids  []string
}

func newEncoder() *encoder {
	return &encoder{keys: subjects{}, groups: map[string]int{}}
}

// group splits the batch's reads into records, one per customer whose data a read
// returned (one without a customer for a read that returned none), grouped by subject
// in order of first appearance.
func (e *encoder) group(batch []read) {
	clear(e.groups)
	e.subs = e.subs[:0]
	e.records = resize(e.records, len(batch))
	for i, rd := range batch {
		e.records[i] = 0
		if len(rd.hits) == 0 {
			e.add(i, rd.base.AgentID, rd.base.CustomerID, "")
			for _, id := range rd.base.InteractionIDs {
				e.add(i, rd.base.AgentID, rd.base.CustomerID, id)
			}
			continue
		}
		for _, h := range rd.hits {
			e.add(i, rd.base.AgentID, h.CustomerID, h.InteractionID)
		}
	}
}

// add puts interaction id (if any) in read i's record of customer.
func (e *encoder) add(i int, agent, customer, id string) {
	subj := e.keys.of(agent, customer)
	k, ok := e.groups[subj]
	if !ok {
		k = len(e.subs)
		e.groups[subj] = k
		if k < cap(e.subs) {
			e.subs = e.subs[:k+1]
			e.subs[k].refs = e.subs[k].refs[:0]
		} else {
			e.subs = append(e.subs, subjectGroup{})
		}
		e.subs[k].subject, e.subs[k].customer = subj, customer
	}
	g := &e.subs[k]
	n := len(g.refs)
	if n == 0 || g.refs[n-1].read != i {
		if n < cap(g.refs) {
			g.refs = g.refs[:n+1]
			g.refs[n].read, g.refs[n].ids = i, g.refs[n].ids[:0]
		} else {
			g.refs = append(g.refs, ref{read: i})
		}
		n++
		e.records[i]++
	}
	if id != "" {
		g.refs[n-1].ids = append(g.refs[n-1].ids, id)
	}
}

// readsMessages encodes each read's record (without customer and interactions) once,
// as JSON arrays of at most about maxReadsMessage bytes. It starts a new arena: the
// messages of the previous batch must be stored (or given up) by then.
func (e *encoder) readsMessages(batch []read) []eventstore.Message {
	e.arena = e.arena[:0]
	e.chunk, e.place = resize(e.chunk, len(batch)), resize(e.place, len(batch))
	var msgs []eventstore.Message
	begin, k := 0, 0
	closeChunk := func() {
		e.arena = append(e.arena, ']')
		msgs = append(msgs, eventstore.Message{ID: uuid.NewString(), Subject: eventstore.AuditReadsSubject(),
			Data: e.arena[begin:len(e.arena):len(e.arena)]})
	}
	e.arena = append(e.arena, '[')
	for i, rd := range batch {
		if k > 0 && len(e.arena)-begin > maxReadsMessage {
			closeChunk()
			begin, k = len(e.arena), 0
			e.arena = append(e.arena, '[')
		}
		if k > 0 {
			e.arena = append(e.arena, ',')
		}
		e.arena = rd.base.appendTail(rd.base.appendHead(e.arena))
		e.chunk[i], e.place[i] = len(msgs), k
		k++
	}
	closeChunk()
	return msgs
}

// subjectMessages encodes one message per subject group: the customer and, for each
// record, the sequence of its read's reads message (seqs, by reads message), the read's
// place in it and the interaction ids. Reads whose reads message was not stored
// (stored false) are left out. counts is the number of records in each message.
func (e *encoder) subjectMessages(seqs []uint64, stored []bool) (msgs []eventstore.Message, counts []int) {
	for _, g := range e.subs {
		begin := len(e.arena)
		e.arena = append(e.arena, '{')
		if g.customer != "" {
			e.arena = append(e.arena, `"customer_id":`...)
			e.arena = appendString(e.arena, g.customer)
			e.arena = append(e.arena, ',')
		}
		e.arena = append(e.arena, `"refs":[`...)
		n := 0
		for _, rf := range g.refs {
			c := e.chunk[rf.read]
			if !stored[c] {
				continue
			}
			if n > 0 {
				e.arena = append(e.arena, ',')
			}
			e.arena = append(e.arena, `{"seq":`...)
			e.arena = strconv.AppendUint(e.arena, seqs[c], 10)
			e.arena = append(e.arena, `,"k":`...)
			e.arena = strconv.AppendInt(e.arena, int64(e.place[rf.read]), 10)
			if len(rf.ids) > 0 {
				e.arena = append(e.arena, `,"ids":[`...)
				for j, id := range rf.ids {
					if j > 0 {
						e.arena = append(e.arena, ',')
					}
					e.arena = appendString(e.arena, id)
				}
				e.arena = append(e.arena, ']')
			}
			e.arena = append(e.arena, '}')
			n++
		}
		if n == 0 {
			e.arena = e.arena[:begin]
			continue
		}
		e.arena = append(e.arena, ']', '}')
		msgs = append(msgs, eventstore.Message{ID: uuid.NewString(), Subject: g.subject, Data: e.arena[begin:len(e.arena):len(e.arena)]})
		counts = append(counts, n)
	}
	return msgs, counts
}

// forget drops the arena: a message whose outcome is unknown may still be resent by
// the client, so its bytes must not be overwritten by the next batch.
func (e *encoder) forget() { e.arena = nil }

func resize(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
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

// append stores batch: the reads messages first, then, with their sequences, the
// messages of each agent and customer. Records whose messages fail are counted as lost.
func (r *Recorder) append(ctx context.Context, enc *encoder, batch []read) {
	// A batch taken from the buffer is stored even when shutdown begins meanwhile: these
	// reads were answered, so their records must not be lost to the cancellation. The
	// store's own bound ends an append the stream never answers.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	enc.group(batch)
	reads := enc.readsMessages(batch)
	seqs, stored, err := r.store(ctx, reads)
	lastErr := err
	for i := range batch {
		if !stored[enc.chunk[i]] {
			r.lost.Add(uint64(enc.records[i]))
		}
	}
	msgs, counts := enc.subjectMessages(seqs, stored)
	_, stored, err = r.store(ctx, msgs)
	if err != nil {
		lastErr = err
	}
	for i, ok := range stored {
		if ok {
			r.recorded.Add(uint64(counts[i]))
		} else {
			r.lost.Add(uint64(counts[i]))
		}
	}
	if lastErr != nil {
		enc.forget()
		r.cfg.Logger.Error("audit records lost", "lost_total", r.lost.Load(), "err", lastErr)
	}
}

// store appends msgs, resending those whose outcome is unknown (their IDs make a resend
// safe) up to three times in all. It returns each message's sequence and whether it is
// stored, and the last failure (nil when every message is stored).
func (r *Recorder) store(ctx context.Context, msgs []eventstore.Message) (seqs []uint64, stored []bool, lastErr error) {
	seqs, stored = make([]uint64, len(msgs)), make([]bool, len(msgs))
	todo := make([]int, len(msgs))
	for i := range todo {
		todo[i] = i
	}
	send := make([]eventstore.Message, 0, len(msgs))
	for attempt := 0; attempt < 3 && len(todo) > 0; attempt++ {
		send = send[:0]
		for _, i := range todo {
			send = append(send, msgs[i])
		}
		res, err := r.cfg.Store.Append(ctx, send)
		if err != nil {
			return seqs, stored, err
		}
		var again []int
		for j, a := range res {
			switch {
			case a.Err == nil:
				seqs[todo[j]], stored[todo[j]] = a.Seq, true
			case errors.Is(a.Err, eventstore.ErrUnknownOutcome):
				lastErr = a.Err
				again = append(again, todo[j])
			default:
				lastErr = a.Err
			}
		}
		todo = again
	}
	return seqs, stored, lastErr
}

// Reader reads a stream's messages by subject filter, in order, and by sequence: the
// event store.
type Reader interface {
	ReadFiltered(ctx context.Context, stream, filter string, afterSeq uint64, limit int) ([]eventstore.Delivery, bool, error)
	GetMany(ctx context.Context, stream string, seqs []uint64) ([]eventstore.Delivery, error)
	LastSeq(ctx context.Context, stream string) (uint64, error)
}

// Index finds the messages of an access log without a filtered read of the whole
// stream (projections/auditindex): up to limit sequences after after of the messages
// under an agent's or a customer's key, and how far it has read the stream (through).
type Index interface {
	Seqs(kind auditindex.Kind, token string, after uint64, limit int) (seqs []uint64, through uint64, err error)
}

// Log answers access logs from StreamAudit.
type Log struct {
	store Reader
	index Index
}

// NewLog returns a Log over store. index, unless nil, finds the messages of a log up to
// its checkpoint; without it (or past it) a log is a filtered read of the stream, which
// nats-server answers by reading every block after the cursor once the stream holds more
// than 65,536 agent and customer pairs.
func NewLog(store Reader, index Index) *Log { return &Log{store: store, index: index} }

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
	return l.read(ctx, logOf{auditindex.ByCustomer, eventstore.AuditCustomerKey(customerID), eventstore.AuditCustomerFilter(customerID)}, after, limit)
}

// Agent returns up to limit reads by agentID after the cursor.
func (l *Log) Agent(ctx context.Context, agentID string, after Cursor, limit int) (Page, error) {
	return l.read(ctx, logOf{auditindex.ByAgent, eventstore.AuditAgentKey(agentID), eventstore.AuditAgentFilter(agentID)}, after, limit)
}

// logOf names one access log: whose (kind and key) and its subject filter.
type logOf struct {
	kind   auditindex.Kind
	key    string
	filter string
}

// has reports whether subject is one of the log's: a sequence the index gave may hold
// another message after a power cut took the stream's tail (until the runner, which
// checks its checkpoint against the stream, rebuilds the index).
func (o logOf) has(subject string) bool {
	toks := strings.Split(subject, ".")
	if len(toks) != 4 {
		return false
	}
	if o.kind == auditindex.ByCustomer {
		return toks[3] == o.key
	}
	return toks[2] == o.key
}

// messages returns up to limit messages of the log after sequence from, in order, and
// whether more remain: through the index up to its checkpoint, then by a filtered read
// of what the stream stored after it (a short tail while the index keeps up).
func (l *Log) messages(ctx context.Context, o logOf, from uint64, limit int) ([]eventstore.Delivery, bool, error) {
	if l.index == nil {
		return l.store.ReadFiltered(ctx, eventstore.StreamAudit, o.filter, from, limit)
	}
	var ds []eventstore.Delivery
	var through uint64
	for {
		seqs, cp, err := l.index.Seqs(o.kind, o.key, from, limit+1)
		if err != nil {
			return nil, false, err
		}
		through = cp
		page := seqs[:min(limit, len(seqs))]
		got, err := l.store.GetMany(ctx, eventstore.StreamAudit, page)
		if err != nil {
			return nil, false, err
		}
		for _, d := range got {
			if o.has(d.Subject) {
				ds = append(ds, d)
			}
		}
		if len(seqs) <= limit {
			break
		}
		if len(ds) > 0 {
			return ds, true, nil
		}
		from = page[len(page)-1] // all expired (not pruned yet): the next ones
	}
	// Past the checkpoint: what the stream stored after it, if anything (a page that is
	// full asks for one message, to know whether the log goes on).
	last, err := l.store.LastSeq(ctx, eventstore.StreamAudit)
	if err != nil {
		return nil, false, err
	}
	if last <= max(from, through) {
		return ds, false, nil
	}
	tail, more, err := l.store.ReadFiltered(ctx, eventstore.StreamAudit, o.filter, max(from, through), max(1, limit-len(ds)))
	if err != nil {
		return nil, false, err
	}
	if len(ds) == limit {
		return ds, more || len(tail) > 0, nil
	}
	return append(ds, tail...), more, nil
}

func (l *Log) read(ctx context.Context, o logOf, after Cursor, limit int) (Page, error) {
	from := after.Seq
	if after.Skip > 0 {
		from-- // the message at Seq is partly read: from it again
	}
	// A message holds at least one record: limit messages fill the page.
	ds, more, err := l.messages(ctx, o, from, limit)
	if err != nil {
		return Page{}, fmt.Errorf("audit: access log: %w", err)
	}
	ms := make([]parsed, len(ds))
	for i, d := range ds {
		if ms[i], err = parse(d); err != nil {
			return Page{}, err
		}
	}
	reads, err := l.reads(ctx, ms) // the reads messages this page refers to
	if err != nil {
		return Page{}, err
	}
	p := Page{Items: make([]Entry, 0, limit)}
	for i, d := range ds {
		recs, err := records(ms[i], reads)
		if err != nil {
			return Page{}, err
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
			if recs[k].ok {
				p.Items = append(p.Items, Entry{Seq: d.Seq, Record: recs[k].Record})
			}
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

// reads fetches the reads messages that the page's subject messages refer to, all at
// once (a customer's records come from as many reads messages), split into their reads;
// a reads message the stream no longer holds is there as nil.
func (l *Log) reads(ctx context.Context, ms []parsed) (map[uint64][]json.RawMessage, error) {
	reads := map[uint64][]json.RawMessage{}
	var seqs []uint64
	for _, m := range ms {
		for _, rf := range m.sub.Refs {
			if _, ok := reads[rf.Seq]; !ok {
				reads[rf.Seq] = nil
				seqs = append(seqs, rf.Seq)
			}
		}
	}
	got, err := l.store.GetMany(ctx, eventstore.StreamAudit, seqs)
	if err != nil {
		return nil, fmt.Errorf("audit: access log: reads messages: %w", err)
	}
	for _, rd := range got {
		var rs []json.RawMessage
		if err := json.Unmarshal(rd.Data, &rs); err != nil {
			return nil, fmt.Errorf("audit: access log: reads message %d: %w", rd.Seq, err)
		}
		reads[rd.Seq] = rs
	}
	return reads, nil
}

// parsed is a subject message decoded: its references to reads (sub), or, for a message
// written before reads were stored once, its whole records.
type parsed struct {
	whole []Record
	sub   subjectMessage
}

// parse decodes subject message d.
func parse(d eventstore.Delivery) (parsed, error) {
	var m parsed
	var err error
	if len(d.Data) > 0 && d.Data[0] == '[' {
		err = json.Unmarshal(d.Data, &m.whole)
	} else {
		err = json.Unmarshal(d.Data, &m.sub)
	}
	if err != nil {
		return parsed{}, fmt.Errorf("audit: access log: message %d: %w", d.Seq, err)
	}
	return m, nil
}

// found is a record of a subject message; ok is false when the reads message it refers
// to is gone (expired a moment before it), so that the places a cursor counts stay put.
type found struct {
	Record
	ok bool
}

// subjectMessage is the encoding of a subject message (encoder.subjectMessages).
type subjectMessage struct {
	CustomerID string `json:"customer_id"`
	Refs       []struct {
		Seq uint64   `json:"seq"`
		K   int      `json:"k"`
		IDs []string `json:"ids"`
	} `json:"refs"`
}

// records are the records of subject message m, each joined to its read in the reads
// message it refers to (reads, fetched for the page); a message of the earlier layout
// reads as it was. Of a reads message (up to maxReadsMessage) only the reads referred to
// are decoded.
func records(m parsed, reads map[uint64][]json.RawMessage) ([]found, error) {
	if m.whole != nil {
		out := make([]found, len(m.whole))
		for i, r := range m.whole {
			out[i] = found{r, true}
		}
		return out, nil
	}
	out := make([]found, len(m.sub.Refs))
	for i, rf := range m.sub.Refs {
		rs := reads[rf.Seq]
		if rf.K < 0 || rf.K >= len(rs) {
			continue // its reads message is gone (expired a moment before it)
		}
		var rec Record
		if err := json.Unmarshal(rs[rf.K], &rec); err != nil {
			return nil, fmt.Errorf("audit: access log: reads message %d, read %d: %w", rf.Seq, rf.K, err)
		}
		rec.CustomerID, rec.InteractionIDs = m.sub.CustomerID, rf.IDs
		out[i] = found{rec, true}
	}
	return out, nil
}

// Hit is one interaction a read returned, with its customer.
type Hit struct {
	CustomerID    string
	InteractionID string
}
