// Package projectionstest feeds projectors from a real event store in tests, as
// `ledger serve` does: the store's durable consumers deliver the batches, and dead
// letters are set aside in the store's dead letter stream.
package projectionstest

import (
	"context"

	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/projections"
)

// Source is a projections.Source and projections.DeadLetters over Store.
type Source struct {
	Store *eventstore.Store
}

var (
	_ projections.Source      = Source{}
	_ projections.DeadLetters = Source{}
)

// Consume implements projections.Source with a durable consumer of the store.
func (s Source) Consume(ctx context.Context, stream, durable string, after uint64, handle func(context.Context, []projections.Message) error) error {
	return s.Store.Consume(ctx, eventstore.ConsumeConfig{Stream: stream, Durable: durable, StartAfter: after},
		func(ctx context.Context, ds []eventstore.Delivery) error {
			ms := make([]projections.Message, len(ds))
			for i, d := range ds {
				ms[i] = projections.Message{Stream: d.Stream, Seq: d.Seq, Subject: d.Subject, Data: d.Data, Published: d.Published}
			}
			return handle(ctx, ms)
		})
}

// DeadLetter implements projections.DeadLetters with the store's dead letter stream.
func (s Source) DeadLetter(ctx context.Context, m projections.Message, view, reason string) error {
	return s.Store.DeadLetter(ctx, eventstore.Delivery{Stream: m.Stream, Seq: m.Seq, Subject: m.Subject, Data: m.Data, Published: m.Published}, view, reason)
}
