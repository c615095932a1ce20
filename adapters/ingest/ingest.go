// Package ingest is the one path by which events enter the stream: POST /v1/events, the
// provider webhooks and the task commands all append through it. It validates each
// envelope on its own (domain), assigns missing ids (UUIDv7, which sort by time), appends
// the accepted ones in one batch, and reports per event: accepted, duplicate or rejected
// with the field and reason. It returns only after the stream acknowledged every
// accepted event, so a 2xx built from its answer never covers an event we did not keep.
package ingest

import (
	"context"
	"errors"
	"fmt"
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

// Ingest judges every raw envelope on its own and appends the valid ones. The error is
// for the whole call (the stream did not answer): no outcome can then be trusted.
func (s *Service) Ingest(ctx context.Context, raws [][]byte) ([]Outcome, error) {
	return s.IngestPermitted(ctx, raws, nil)
}

// IngestPermitted is Ingest for a caller whose rights depend on the event type: an
// event that permit refuses is rejected (Forbidden) and nothing of it is stored; nil
// permits every type.
func (s *Service) IngestPermitted(ctx context.Context, raws [][]byte, permit Permit) ([]Outcome, error) {
	now := s.now()
	out := make([]Outcome, len(raws))
	events := make([]domain.Event, 0, len(raws))
	idx := make([]int, 0, len(raws))
	for i, raw := range raws {
		out[i].Index = i
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
				return nil, fmt.Errorf("assign event id: %w", err)
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
		events = append(events, ev)
		idx = append(idx, i)
	}
	results, err := s.append(ctx, events, nil)
	if err != nil {
		return nil, err
	}
	for k, r := range results {
		o := &out[idx[k]]
		switch {
		case r.Err != nil:
			o.Status, o.Error = StatusRejected, r.Err.Error()
		case r.Duplicate:
			o.Status, o.Seq = StatusDuplicate, r.Seq
		default:
			o.Status, o.Seq = StatusAccepted, r.Seq
		}
		s.count(o.Type, o.Status)
	}
	return out, nil
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
