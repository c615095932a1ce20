package eventstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
)

// ErrNoMessage is returned by Get for a sequence the stream does not hold: never
// stored, deleted (erasure) or expired.
var ErrNoMessage = errors.New("eventstore: no message at that sequence")

// Get returns the message stored at seq in stream. Views use it to check that the
// message they checkpointed is still the one the stream holds there (after a power cut
// the stream may have lost its tail and stored other messages at the same sequences).
func (s *Store) Get(ctx context.Context, stream string, seq uint64) (Delivery, error) {
	st, err := s.js.Stream(ctx, stream)
	if err != nil {
		return Delivery{}, fmt.Errorf("eventstore: get %s/%d: %w", stream, seq, err)
	}
	m, err := st.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Delivery{}, fmt.Errorf("%w: %s/%d", ErrNoMessage, stream, seq)
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("eventstore: get %s/%d: %w", stream, seq, err)
	}
	return Delivery{Stream: stream, Seq: m.Sequence, Subject: m.Subject, Data: m.Data, Published: m.Time}, nil
}

// GetMany returns the messages stored at seqs in stream, in the order of seqs, leaving
// out the sequences the stream does not hold (expired or deleted): an access log's page
// read through its index. One stream lookup for all (Get makes one per message), and up
// to getManyParallel requests in flight: each is a round trip to the server, and a page
// of fifty one after the other took longer than the filtered read it replaces when that
// one finds its messages close together.
func (s *Store) GetMany(ctx context.Context, stream string, seqs []uint64) ([]Delivery, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	st, err := s.js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("eventstore: get %s: %w", stream, err)
	}
	got := make([]*jetstream.RawStreamMsg, len(seqs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(getManyParallel)
	for i, seq := range seqs {
		g.Go(func() error {
			m, err := st.GetMsg(gctx, seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("eventstore: get %s/%d: %w", stream, seq, err)
			}
			got[i] = m
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make([]Delivery, 0, len(seqs))
	for _, m := range got {
		if m != nil {
			out = append(out, Delivery{Stream: stream, Seq: m.Sequence, Subject: m.Subject, Data: m.Data, Published: m.Time})
		}
	}
	return out, nil
}

// getManyParallel bounds GetMany's requests in flight.
const getManyParallel = 8
