package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamStats describes one stream, for `ledger status` and metrics.
type StreamStats struct {
	Name                string
	Messages, Bytes     uint64
	FirstSeq, LastSeq   uint64
	FirstTime, LastTime time.Time
	Consumers           int
}

// Stats describes the streams the views and the operator read: StreamEvents,
// StreamDirectory, StreamDead and StreamAudit, in this order.
func (s *Store) Stats(ctx context.Context) ([]StreamStats, error) {
	var out []StreamStats
	for _, name := range []string{StreamEvents, StreamDirectory, StreamDead, StreamAudit} {
		st, err := s.js.Stream(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("eventstore: stats %s: %w", name, err)
		}
		state := st.CachedInfo().State
		out = append(out, StreamStats{
			Name: name, Messages: state.Msgs, Bytes: state.Bytes,
			FirstSeq: state.FirstSeq, LastSeq: state.LastSeq,
			FirstTime: state.FirstTime, LastTime: state.LastTime,
			Consumers: state.Consumers,
		})
	}
	return out, nil
}

// LastSeq returns the stream's last sequence (0 if it never held a message).
func (s *Store) LastSeq(ctx context.Context, stream string) (uint64, error) {
	st, err := s.js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("eventstore: last seq %s: %w", stream, err)
	}
	return st.CachedInfo().State.LastSeq, nil
}

// Erase removes the messages seqs from the stream with a secure delete (their bytes are
// overwritten on disk), as customer.erased requires. Sequences not found (already erased,
// expired, or past the end) are ignored. Each message of StreamEvents first leaves a
// Redaction in StreamSeals (its hash, no data), so that verification tells this lawful
// gap from tampering.
//
// It calls JetStream's message delete API itself: nats.go's SecureDeleteMsg flattens the
// server's error into text, and "not found" must be told apart by its error code.
func (s *Store) Erase(ctx context.Context, stream string, seqs []uint64) error {
	if !validName(stream) || stream == "" {
		return fmt.Errorf("eventstore: erase: stream %q: not a stream name", stream)
	}
	subject := "$JS.API.STREAM.MSG.DELETE." + stream
	for _, seq := range seqs {
		if stream == StreamEvents {
			if err := s.redact(ctx, stream, seq); err != nil {
				return fmt.Errorf("eventstore: erase %s/%d: redaction record: %w", stream, seq, err)
			}
		}
		req, err := json.Marshal(struct {
			Seq uint64 `json:"seq"`
		}{seq})
		if err != nil {
			return fmt.Errorf("eventstore: erase %s/%d: %w", stream, seq, err)
		}
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if _, ok := ctx.Deadline(); !ok {
			rctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		}
		msg, err := s.nc.RequestWithContext(rctx, subject, req)
		cancel()
		if err != nil {
			return fmt.Errorf("eventstore: erase %s/%d: %w", stream, seq, err)
		}
		var resp struct {
			Success bool                `json:"success"`
			Error   *jetstream.APIError `json:"error"`
		}
		if err := json.Unmarshal(msg.Data, &resp); err != nil {
			return fmt.Errorf("eventstore: erase %s/%d: decode answer: %w", stream, seq, err)
		}
		if resp.Error != nil {
			if isNotFound(resp.Error) {
				continue
			}
			return fmt.Errorf("eventstore: erase %s/%d: %w", stream, seq, resp.Error)
		}
		if !resp.Success {
			return fmt.Errorf("eventstore: erase %s/%d: not acknowledged", stream, seq)
		}
	}
	return nil
}

// Error codes of JetStream's message delete that nats.go does not export.
const (
	errCodeSequenceNotFound jetstream.ErrorCode = 10043 // "sequence {seq} not found"
	errCodeMsgDeleteFailed  jetstream.ErrorCode = 10057 // "{err}": the store's own error
)

// isNotFound reports whether err says that a message does not exist: a get's "message
// not found", a delete's "sequence not found", or a delete failing with the store's
// "no message found" (already deleted) or "stream store EOF" (past the last sequence).
func isNotFound(err error) bool {
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return true
	}
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case jetstream.JSErrCodeMessageNotFound, errCodeSequenceNotFound:
		return true
	case errCodeMsgDeleteFailed:
		return strings.Contains(apiErr.Description, "no message found") || strings.Contains(apiErr.Description, "stream store EOF")
	}
	return false
}
