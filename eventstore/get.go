package eventstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
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
