package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Errors of Append, per message.
var (
	// ErrConflict means the message's ExpectLastSeq no longer matched the last sequence
	// of its subject (or ExpectSubject filter): someone else appended first. Nothing was
	// stored; reread and decide again. Translated from JetStream's error code 10071
	// (10164 on replicated streams).
	ErrConflict = errors.New("eventstore: conflict: expected last subject sequence does not match")
	// ErrNoAck means the server did not acknowledge the message within the publish
	// timeout; it may or may not be stored, and resending it with the same ID is safe
	// within the duplicate window.
	ErrNoAck = errors.New("eventstore: no acknowledgement")
)

// ErrClosed is returned by the Store's methods after Close.
var ErrClosed = errors.New("eventstore: store closed")

// Message is one message to append.
type Message struct {
	// ID becomes the Nats-Msg-Id header: a second message with the same ID inside the
	// duplicate window is not stored again and is answered as a duplicate. Required.
	ID string
	// Subject is where the message goes (see Subject). Required.
	Subject string
	// Data is the message body (the encoded envelope).
	Data []byte
	// ExpectLastSeq, when not nil, makes the append conditional (task commands): it is
	// stored only if the last message on Subject (or on ExpectSubject, a filter that may
	// hold wildcards) has this stream sequence, 0 meaning none. Otherwise its result is
	// ErrConflict.
	ExpectLastSeq *uint64
	// ExpectSubject, with ExpectLastSeq, names the subject filter whose last sequence is
	// checked instead of Subject (Nats-Expected-Last-Subject-Sequence-Subject; server 2.11+).
	ExpectSubject string
}

// AppendResult is the outcome of one appended message.
type AppendResult struct {
	// Seq is the message's stream sequence (the original's, for a duplicate).
	Seq uint64
	// Duplicate reports that a message with the same ID was already stored.
	Duplicate bool
	// Err is this message's failure (ErrConflict, ErrNoAck, a validation or server
	// error); the message is stored only when Err is nil.
	Err error
}

// publishAckTimeout resolves a publish the server never answers (a lost connection), so
// that every in-flight token is eventually given back.
const publishAckTimeout = 30 * time.Second

type pending struct {
	i   int
	paf jetstream.PubAckFuture
}

// Append publishes msgs asynchronously, at most Config.MaxInFlight awaiting their ack
// across all callers, waits for every PubAck, and returns one result per message, in the
// order of msgs. A message counts as stored only with a PubAck: check each result's Err.
// The call itself fails only as a whole: ctx done or the store closed.
func (s *Store) Append(ctx context.Context, msgs []Message) ([]AppendResult, error) {
	results := make([]AppendResult, len(msgs))
	if len(msgs) == 0 {
		return results, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.nc.IsClosed() {
		return nil, ErrClosed
	}

	// A waiter takes the futures in publish order (the order acks arrive in) and gives
	// back each in-flight token once its ack is in.
	queue := make(chan pending, s.cfg.MaxInFlight)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p := range queue {
			select {
			case ack := <-p.paf.Ok():
				results[p.i] = AppendResult{Seq: ack.Sequence, Duplicate: ack.Duplicate}
			case err := <-p.paf.Err():
				results[p.i] = AppendResult{Err: translatePublishErr(err)}
			case <-ctx.Done():
				// The caller is gone: release the rest in the background as they resolve
				// (each within publishAckTimeout).
				go s.release(p, queue)
				return
			}
			<-s.inflight
		}
	}()

	var callErr error
	for i, m := range msgs {
		if callErr = ctx.Err(); callErr != nil {
			break
		}
		if m.ID == "" || m.Subject == "" {
			results[i].Err = fmt.Errorf("eventstore: message %d: ID and Subject are required", i)
			continue
		}
		select {
		case s.inflight <- struct{}{}:
		case <-ctx.Done():
			callErr = ctx.Err()
		}
		if callErr != nil {
			break
		}
		paf, err := s.js.PublishMsgAsync(toNatsMsg(m))
		if err != nil {
			<-s.inflight
			if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionDraining) {
				callErr = ErrClosed
				break
			}
			results[i].Err = fmt.Errorf("eventstore: publish %s: %w", m.Subject, err)
			continue
		}
		queue <- pending{i: i, paf: paf}
	}
	close(queue)
	<-done
	if callErr == nil {
		callErr = ctx.Err()
	}
	if callErr != nil {
		return nil, callErr
	}
	return results, nil
}

// release waits for first and every future left in queue, giving back their tokens.
func (s *Store) release(first pending, queue <-chan pending) {
	wait := func(p pending) {
		select {
		case <-p.paf.Ok():
		case <-p.paf.Err():
		}
		<-s.inflight
	}
	wait(first)
	for p := range queue {
		wait(p)
	}
}

func toNatsMsg(m Message) *nats.Msg {
	h := nats.Header{jetstream.MsgIDHeader: []string{m.ID}}
	if m.ExpectLastSeq != nil {
		h[jetstream.ExpectedLastSubjSeqHeader] = []string{strconv.FormatUint(*m.ExpectLastSeq, 10)}
		if m.ExpectSubject != "" {
			h[jetstream.ExpectedLastSubjSeqSubjHeader] = []string{m.ExpectSubject}
		}
	}
	return &nats.Msg{Subject: m.Subject, Data: m.Data, Header: h}
}

// translatePublishErr turns JetStream's answers into the package's errors, keeping the
// cause.
func translatePublishErr(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
			return fmt.Errorf("%w (%w)", ErrConflict, err)
		}
	}
	if errors.Is(err, jetstream.ErrAsyncPublishTimeout) {
		return fmt.Errorf("%w (%w)", ErrNoAck, err)
	}
	return fmt.Errorf("eventstore: append: %w", err)
}
