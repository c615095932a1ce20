// Package viewsource adapts the event store to what the projections read: the live feed
// of a durable consumer, ordered reads for rebuilds, the stream's end and the dead-letter
// stream (projections.Log). It is the one bridge between eventstore and projections,
// which know nothing of each other.
package viewsource

import (
	"context"
	"errors"
	"fmt"

	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/projections"
)

// DefaultBatch is the most messages a projector applies in one bbolt transaction:
// commits (page spills and their writes) were a sixth of the CPU under load, and a bigger
// batch shares them among more events.
const DefaultBatch = 2000

// Source is a projections.Log over an event store.
type Source struct {
	store *eventstore.Store
	batch int
}

var _ projections.Log = (*Source)(nil)

// New returns the source of store's streams; batch (DefaultBatch when 0) bounds a live
// batch.
func New(store *eventstore.Store, batch int) *Source {
	if batch <= 0 {
		batch = DefaultBatch
	}
	return &Source{store: store, batch: batch}
}

// Consume implements projections.Source.
func (s *Source) Consume(ctx context.Context, stream, durable string, after uint64, handle func(context.Context, []projections.Message) error) error {
	return s.store.Consume(ctx, eventstore.ConsumeConfig{Stream: stream, Durable: durable, StartAfter: after, Batch: s.batch},
		func(ctx context.Context, ds []eventstore.Delivery) error { return handle(ctx, Messages(ds)) })
}

// Read implements projections.Log.
func (s *Source) Read(ctx context.Context, stream string, from uint64, batch int, fn func(context.Context, []projections.Message) error) error {
	return s.store.Read(ctx, stream, from, batch, func(ctx context.Context, ds []eventstore.Delivery) error {
		return fn(ctx, Messages(ds))
	})
}

// LastSeq implements projections.Log.
func (s *Source) LastSeq(ctx context.Context, stream string) (uint64, error) {
	return s.store.LastSeq(ctx, stream)
}

// Get implements projections.Log.
func (s *Source) Get(ctx context.Context, stream string, seq uint64) (projections.Message, error) {
	d, err := s.store.Get(ctx, stream, seq)
	if errors.Is(err, eventstore.ErrNoMessage) {
		return projections.Message{}, fmt.Errorf("%w: %v", projections.ErrNoMessage, err)
	}
	if err != nil {
		return projections.Message{}, err
	}
	return Messages([]eventstore.Delivery{d})[0], nil
}

// DeadLetter implements projections.DeadLetters.
func (s *Source) DeadLetter(ctx context.Context, m projections.Message, view, reason string) error {
	return s.store.DeadLetter(ctx, eventstore.Delivery{Stream: m.Stream, Seq: m.Seq, Subject: m.Subject, Data: m.Data, Published: m.Published}, view, reason)
}

// Messages converts deliveries into the projections' messages.
func Messages(ds []eventstore.Delivery) []projections.Message {
	ms := make([]projections.Message, len(ds))
	for i, d := range ds {
		ms[i] = projections.Message{Stream: d.Stream, Seq: d.Seq, Subject: d.Subject, Data: d.Data, Published: d.Published}
	}
	return ms
}
