// Package ingest is the one path by which events enter the stream: POST /v1/events, the
// provider webhooks and the task commands all append through it. It validates each
// envelope on its own (domain), assigns missing ids (UUIDv7, which sort by time), appends
// the accepted ones in chunks as a body is read (Body streams it), and reports per event:
// accepted, duplicate, rejected with the field and reason, or unknown (the stream did not
// confirm it: resending is safe). It returns only after the stream answered every
// appended event, so an "accepted" never covers an event we did not keep.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/eventstore"
)

// Outcome statuses.
const (
	StatusAccepted  = "accepted"
	StatusDuplicate = "duplicate"
	StatusRejected  = "rejected"
	// StatusUnknown: the stream did not confirm the event (no acknowledgement, no
	// stream, a lost connection, a storage failure); it may or may not be stored, and
	// resending it with the same id is safe.
	StatusUnknown = "unknown"
)

// Outcome is what became of one envelope of a request.
type Outcome struct {
	Index  int    `json:"index"`
	ID     string `json:"id,omitempty"`
	Type   string `json:"type,omitempty"`
	Status string `json:"status"`
	Seq    uint64 `json:"seq,omitempty"`
	Field  string `json:"field,omitempty"`
	Error  string `json:"error,omitempty"`
	// Forbidden marks an event refused because the caller may not append its type
	// (Permit), as opposed to an invalid one.
	Forbidden bool `json:"forbidden,omitempty"`
}

// Permit decides whether the caller may append an event of type t; an error refuses that
// event alone, and says why.
type Permit func(t domain.EventType) error

// Store is the part of the event store ingest needs.
type Store interface {
	Append(ctx context.Context, msgs []eventstore.Message) ([]eventstore.AppendResult, error)
}

// Observer receives counts an operator graphs; nil fields are skipped.
type Observer struct {
	Outcome func(eventType, status string)
	Append  func(events int, d time.Duration)
}

// Service validates and appends events.
type Service struct {
	store Store
	now   func() time.Time
	obs   Observer
}

// New returns a Service appending to store; now defaults to time.Now.
func New(store Store, now func() time.Time, obs Observer) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now, obs: obs}
}

// Source yields the raw envelopes of one request in order (Body reads them from an HTTP
// body as they arrive).
type Source interface {
	// Next returns the next envelope, io.EOF after the last, or an error that ends the
	// reading (the rest is not read).
	Next() ([]byte, error)
}

// ErrUnavailable is matched by IngestFrom's error when the stream did not confirm a chunk
// of events: their outcomes are StatusUnknown, and the envelopes after them were not read.
// Answer "retry later": resending the same envelopes with the ids of the outcomes is safe.
var ErrUnavailable = errors.New("the event stream did not confirm the events")

// Appends go out in chunks as the body is read: big enough to keep the store's async
// publishing pipelined (one Append per envelope would cap ingest at the sync publish
// rate, ~33k/s against ~167k/s async), small enough that a request's memory is that of
// one chunk, not of its body.
const (
	chunkEvents = 1000
	chunkBytes  = 1 << 20
)

// Ingest judges every raw envelope on its own and appends the valid ones; see IngestFrom.
func (s *Service) Ingest(ctx context.Context, raws [][]byte) ([]Outcome, error) {
	return s.IngestFrom(ctx, &sliceSource{raws: raws}, nil)
}

// IngestFrom reads src to its end, judges every envelope on its own as it comes, and
// appends the valid ones in chunks. It returns the outcome of every envelope read, in
// order, and an error when the reading stopped before the end: src's error (the
// outcomes before it stand: those accepted are stored), or ErrUnavailable.
//
// permit, when not nil, decides by type what the caller may append: an event it refuses
// is rejected (Forbidden) and nothing of it is stored.
func (s *Service) IngestFrom(ctx context.Context, src Source, permit Permit) ([]Outcome, error) {
	now := s.now()
	var (
		out    []Outcome
		events []domain.Event
		idx    []int // the outcome of each of events
		size   int
	)
	flush := func() error {
		err := s.appendChunk(ctx, events, idx, out)
		events, idx, size = events[:0], idx[:0], 0
		return err
	}
	for {
		raw, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if ferr := flush(); ferr != nil {
				return out, ferr
			}
			return out, err
		}
		i := len(out)
		out = append(out, Outcome{Index: i})
		ev, err := domain.DecodeIncoming(raw, now)
		if err != nil {
			out[i].Status, out[i].Error = StatusRejected, err.Error()
			var ve *domain.ValidationError
			if errors.As(err, &ve) {
				out[i].Field = ve.Field
			}
			s.count("unknown", StatusRejected)
			continue
		}
		if ev.ID == "" {
			id, err := uuid.NewV7()
			if err != nil {
				return out[:i], fmt.Errorf("assign event id: %w", err)
			}
			ev = ev.WithID(id.String())
		}
		out[i].ID, out[i].Type = ev.ID, ev.Type.String()
		if permit != nil {
			if err := permit(ev.Type); err != nil {
				out[i].Status, out[i].Field, out[i].Error, out[i].Forbidden = StatusRejected, "type", err.Error(), true
				s.count(out[i].Type, StatusRejected)
				continue
			}
		}
		events, idx = append(events, ev), append(idx, i)
		if size += len(raw); len(events) >= chunkEvents || size >= chunkBytes {
			if err := flush(); err != nil {
				return out, err
			}
		}
	}
	return out, flush()
}

// appendChunk appends events and writes their outcomes (out[idx[k]] for events[k]). It
// fails with ErrUnavailable when any outcome is unknown.
func (s *Service) appendChunk(ctx context.Context, events []domain.Event, idx []int, out []Outcome) error {
	if len(events) == 0 {
		return nil
	}
	results, err := s.append(ctx, events, nil)
	if err != nil {
		// The call failed as a whole (the caller gone, the store closed): none is known.
		for _, i := range idx {
			out[i].Status, out[i].Error = StatusUnknown, unknownError(out[i].ID)
			s.count(out[i].Type, StatusUnknown)
		}
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var unknown error
	for k, r := range results {
		o := &out[idx[k]]
		switch {
		case errors.Is(r.Err, eventstore.ErrUnknownOutcome):
			o.Status, o.Error = StatusUnknown, unknownError(o.ID)
			if unknown == nil {
				unknown = fmt.Errorf("%w: %w", ErrUnavailable, r.Err)
			}
		case r.Err != nil:
			o.Status, o.Error = StatusRejected, r.Err.Error()
		case r.Duplicate:
			o.Status, o.Seq = StatusDuplicate, r.Seq
		default:
			o.Status, o.Seq = StatusAccepted, r.Seq
		}
		s.count(o.Type, o.Status)
	}
	return unknown
}

func unknownError(id string) string {
	return "the event stream did not confirm this event: it may or may not be stored; " +
		"resending it with id " + id + " is safe (if stored, it is answered duplicate)"
}

// sliceSource is a Source over envelopes already in memory.
type sliceSource struct {
	raws [][]byte
	i    int
}

func (s *sliceSource) Next() ([]byte, error) {
	if s.i == len(s.raws) {
		return nil, io.EOF
	}
	s.i++
	return s.raws[s.i-1], nil
}

// AppendEvents appends already validated events (webhook adapters); nil means the stream
// acknowledged every one, new or duplicate.
func (s *Service) AppendEvents(ctx context.Context, events []domain.Event) error {
	results, err := s.append(ctx, events, nil)
	if err != nil {
		return err
	}
	var errs []error
	for i, r := range results {
		status := StatusAccepted
		if r.Duplicate {
			status = StatusDuplicate
		}
		if r.Err != nil {
			status = StatusRejected
			errs = append(errs, fmt.Errorf("append %s %s: %w", events[i].Type, events[i].ID, r.Err))
		}
		s.count(events[i].Type.String(), status)
	}
	return errors.Join(errs...)
}

// AppendExpecting appends one event only if the last sequence stored under filter is
// expectLast (0: none yet), the optimistic concurrency of task commands. It returns the
// event's sequence, or an error matching eventstore.ErrConflict.
func (s *Service) AppendExpecting(ctx context.Context, ev domain.Event, filter string, expectLast uint64) (uint64, error) {
	results, err := s.append(ctx, []domain.Event{ev}, &expectation{filter: filter, seq: expectLast})
	if err != nil {
		return 0, err
	}
	r := results[0]
	if r.Err != nil {
		s.count(ev.Type.String(), StatusRejected)
		return 0, r.Err
	}
	s.count(ev.Type.String(), StatusAccepted)
	return r.Seq, nil
}

type expectation struct {
	filter string
	seq    uint64
}

func (s *Service) append(ctx context.Context, events []domain.Event, exp *expectation) ([]eventstore.AppendResult, error) {
	if len(events) == 0 {
		return nil, nil
	}
	msgs := make([]eventstore.Message, len(events))
	for i, ev := range events {
		data, err := ev.Encode()
		if err != nil {
			return nil, err
		}
		msgs[i] = eventstore.Message{ID: ev.ID, Subject: eventstore.Subject(ev), Data: data}
		if exp != nil {
			seq := exp.seq
			msgs[i].ExpectLastSeq, msgs[i].ExpectSubject = &seq, exp.filter
		}
	}
	start := time.Now()
	results, err := s.store.Append(ctx, msgs)
	if err != nil {
		return nil, fmt.Errorf("append %d events: %w", len(msgs), err)
	}
	if s.obs.Append != nil {
		s.obs.Append(len(msgs), time.Since(start))
	}
	return results, nil
}

func (s *Service) count(eventType, status string) {
	if s.obs.Outcome != nil {
		s.obs.Outcome(eventType, status)
	}
}
