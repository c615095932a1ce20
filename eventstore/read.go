package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Read hands the stream's messages from sequence fromSeq (0 or 1: the start) up to the
// stream's last sequence at the time of the call to handle, in order, in batches of up to
// batch (default 1000), then returns nil. It uses an ordered consumer (ephemeral, no acks,
// recreated by the client on any gap) and is meant for replays, offline or online. An
// error of handle stops it and is returned wrapped.
func (s *Store) Read(ctx context.Context, stream string, fromSeq uint64, batch int, handle func(ctx context.Context, batch []Delivery) error) error {
	if batch <= 0 {
		batch = DefaultBatch
	}
	if fromSeq == 0 {
		fromSeq = 1
	}
	st, err := s.js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("eventstore: read %s: %w", stream, err)
	}
	state := st.CachedInfo().State
	end := state.LastSeq
	if state.Msgs == 0 || end < fromSeq {
		return nil
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       max(fromSeq, state.FirstSeq),
		InactiveThreshold: orderedInactive,
	})
	if err != nil {
		return fmt.Errorf("eventstore: read %s: ordered consumer: %w", stream, err)
	}
	defer s.dropOrdered(stream, cons)
	f, err := startFeed(cons, batch)
	if err != nil {
		return fmt.Errorf("eventstore: read %s: %w", stream, err)
	}
	defer f.close()
	msgs := make([]jetstream.Msg, 0, batch)
	out := make([]Delivery, 0, batch)
	seen := fromSeq - 1 // the last sequence handed over
	for {
		msgs, err = f.next(ctx, msgs[:0], batch, readIdleWait, readLinger)
		if err != nil {
			return fmt.Errorf("eventstore: read %s: %w", stream, err)
		}
		out = out[:0]
		done := false
		for _, m := range msgs {
			md, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("eventstore: read %s: metadata: %w", stream, err)
			}
			seq := md.Sequence.Stream
			if seq > end {
				done = true
				break
			}
			out = append(out, Delivery{Stream: stream, Seq: seq, Subject: m.Subject(), Data: m.Data(), Published: md.Timestamp})
			seen = seq
			if seq == end {
				done = true
				break
			}
		}
		if len(out) > 0 {
			if err := handle(ctx, out); err != nil {
				return fmt.Errorf("eventstore: read %s: handle batch %d..%d: %w", stream, out[0].Seq, out[len(out)-1].Seq, err)
			}
		} else if !done {
			// Nothing for a while: the messages up to end may have been deleted since the
			// call began (an erasure), or the machine is just busy. Ask the stream itself
			// for the first message after the last one handed over: the consumer's pending
			// count is no proof (a fresh or reset ordered consumer may report 0 before it
			// has delivered anything, and a replay stopped there silently lost the view).
			next, err := st.GetMsg(ctx, seen+1, jetstream.WithGetMsgSubject(">"))
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("eventstore: read %s: next message after %d: %w", stream, seen, err)
			}
			if next.Sequence > end {
				return nil
			}
		}
		if done {
			return nil
		}
	}
}

// readIdleWait is how long Read waits for a message before asking whether any is left.
const readIdleWait = 200 * time.Millisecond

// readLinger lets a replay's batches fill up: the messages are all in the stream, so a
// short wait turns many small transactions into few full ones.
const readLinger = 5 * time.Millisecond

// orderedInactive is how long the server keeps an ordered consumer nobody pulls from: a
// backstop for dropOrdered (a process that dies mid-read), short beside the library's
// default of 5 minutes, long beside a batch's handling.
const orderedInactive = time.Minute

// dropOrdered deletes an ordered consumer once its read is over. The library leaves it on
// the server until its inactive threshold, and that cost twice: every message stored
// signals each consumer left on its stream (the sealer, reading LEDGER every second new
// events came, left one per second: 85 after 85 s of a trickle of ingest), and the server
// refuses a stream's 1,001st consumer, so that a thousand access log pages within five
// minutes made the next ones fail.
func (s *Store) dropOrdered(stream string, cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.js.DeleteConsumer(ctx, stream, info.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		s.log.Debug("eventstore: drop ordered consumer", "stream", stream, "consumer", info.Name, "err", err)
	}
}
