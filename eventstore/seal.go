package eventstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Subjects of StreamSeals.
const (
	// SubjectSealChain holds the seals: each the hashes of a run of StreamEvents'
	// messages and the chain link after them.
	SubjectSealChain = subjectSeals + ".chain"
	// SubjectRedacted holds a Redaction per message that Erase deleted.
	SubjectRedacted = subjectSeals + ".redacted"
)

// MessageHash is what the seals keep of a message: sha256 of its subject, a NUL and its
// data. The subject is in it so that moving an event to another subject shows.
func MessageHash(subject string, data []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(subject))
	h.Write([]byte{0})
	h.Write(data)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Redaction records that erasure removed a message lawfully: the stream, the sequence
// and the hash of what was removed (MessageHash), never the data.
type Redaction struct {
	Stream string    `json:"stream"`
	Seq    uint64    `json:"seq"`
	Hash   string    `json:"hash"` // hex
	At     time.Time `json:"at"`
}

// redact stores the Redaction of the message at seq before Erase deletes it, so that a
// crash between the two leaves a redaction of a message still there (harmless), never a
// deletion without its redaction. A message already gone needs none.
func (s *Store) redact(ctx context.Context, stream string, seq uint64) error {
	d, err := s.Get(ctx, stream, seq)
	if errors.Is(err, ErrNoMessage) {
		return nil
	}
	if err != nil {
		return err
	}
	h := MessageHash(d.Subject, d.Data)
	data, err := json.Marshal(Redaction{Stream: stream, Seq: seq, Hash: hex.EncodeToString(h[:]), At: time.Now().UTC()})
	if err != nil {
		return err
	}
	res, err := s.Append(ctx, []Message{{ID: fmt.Sprintf("redacted-%s-%d", stream, seq), Subject: SubjectRedacted, Data: data}})
	if err != nil {
		return err
	}
	return res[0].Err
}

// LastOn returns the last message of stream on subject; ok is false when there is none.
func (s *Store) LastOn(ctx context.Context, stream, subject string) (d Delivery, ok bool, err error) {
	st, err := s.js.Stream(ctx, stream)
	if err != nil {
		return Delivery{}, false, fmt.Errorf("eventstore: last on %s %s: %w", stream, subject, err)
	}
	m, err := st.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Delivery{}, false, nil
	}
	if err != nil {
		return Delivery{}, false, fmt.Errorf("eventstore: last on %s %s: %w", stream, subject, err)
	}
	return Delivery{Stream: stream, Seq: m.Sequence, Subject: m.Subject, Data: m.Data, Published: m.Time}, true, nil
}

// FirstSeq returns the stream's first sequence now: messages before it have expired
// (or were never stored).
func (s *Store) FirstSeq(ctx context.Context, stream string) (uint64, error) {
	st, err := s.js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("eventstore: first seq %s: %w", stream, err)
	}
	return st.CachedInfo().State.FirstSeq, nil
}
