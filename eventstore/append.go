package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

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
	// ErrUnknownOutcome means the store did not say whether it kept the message: no
	// acknowledgement within Config.PublishTimeout, no stream answering, a lost
	// connection, or a server-side storage failure. It may or may not be stored; resending
	// it with the same ID is safe: inside Config.DuplicateWindow the resend is recognised as
	// a duplicate (Validate keeps PublishTimeout well inside that window), beyond it the
	// views are keyed by event id. Not the message's fault: callers answer "retry".
	ErrUnknownOutcome = errors.New("eventstore: outcome unknown, resending with the same ID is safe")
	// ErrNoAck means the server did not acknowledge the message within
	// Config.PublishTimeout. It matches ErrUnknownOutcome too.
	ErrNoAck = fmt.Errorf("%w: no acknowledgement", ErrUnknownOutcome)
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
	// Err is this message's failure; the message is stored only when Err is nil. It
	// matches ErrConflict (not stored; reread and decide again), ErrUnknownOutcome (maybe
	// stored; resend as is), or neither: the message itself was refused (missing ID or
	// subject, larger than the server allows) and resending it unchanged fails again.
	Err error
}

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
				// (each within Config.PublishTimeout).
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
			results[i].Err = translatePublishErr(fmt.Errorf("publish %s: %w", m.Subject, err))
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
// cause. Only answers that blame the message itself are definite refusals; anything else
// (a timeout, no responders, a lost or reconnecting connection, a storage failure such as
// a full disk or exceeded limits) leaves the outcome unknown, because the caller cannot
// tell whether the server kept it, and a resend with the same ID is what resolves it.
func translatePublishErr(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
			return fmt.Errorf("%w (%w)", ErrConflict, err)
		case jetstream.JSErrCodeStreamMessageExceedsMaximum:
			return fmt.Errorf("eventstore: append refused: %w", err)
		}
	}
	switch {
	case errors.Is(err, nats.ErrMaxPayload):
		return fmt.Errorf("eventstore: append refused: %w", err)
	case errors.Is(err, jetstream.ErrAsyncPublishTimeout):
		return fmt.Errorf("%w (%w)", ErrNoAck, err)
	}
	return fmt.Errorf("%w (%w)", ErrUnknownOutcome, err)
}
