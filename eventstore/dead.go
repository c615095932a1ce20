package eventstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers of a dead letter.
const (
	HeaderReason    = "Ledger-Reason"     // why the projector set it aside
	HeaderStream    = "Ledger-Stream"     // the stream it came from
	HeaderStreamSeq = "Ledger-Stream-Seq" // its sequence there
	HeaderSubject   = "Ledger-Subject"    // its subject there
)

// DefaultDeadLetters is how many dead letters DeadLetters lists when limit <= 0.
const DefaultDeadLetters = 100

// DeadLetter is an envelope a projector set aside, as DeadLetters lists it.
type DeadLetter struct {
	Seq       uint64 // sequence in StreamDead
	View      string // the view that set it aside
	Reason    string
	Stream    string // where it came from
	Subject   string
	StreamSeq uint64
	Data      []byte
	At        time.Time // when it was set aside
}

// DeadLetter sets d aside for operators: its data goes to "ledger.dead.<view>" with
// headers saying why and where from. It waits for the ack; setting the same delivery aside
// twice for the same view inside the duplicate window stores it once.
func (s *Store) DeadLetter(ctx context.Context, d Delivery, view, reason string) error {
	if view == "" || !validName(view) {
		return fmt.Errorf("eventstore: dead letter: view %q: must be a non-empty subject token", view)
	}
	seq := strconv.FormatUint(d.Seq, 10)
	m := &nats.Msg{
		Subject: subjectDead + "." + view,
		Data:    d.Data,
		Header: nats.Header{
			HeaderReason:          []string{reason},
			HeaderStream:          []string{d.Stream},
			HeaderStreamSeq:       []string{seq},
			HeaderSubject:         []string{d.Subject},
			jetstream.MsgIDHeader: []string{"dead-" + view + "-" + d.Stream + "-" + seq},
		},
	}
	if _, err := s.js.PublishMsg(ctx, m, jetstream.WithExpectStream(StreamDead)); err != nil {
		return fmt.Errorf("eventstore: dead letter %s %s/%d: %w", view, d.Stream, d.Seq, err)
	}
	return nil
}

// DeadLetters lists the last limit dead letters (DefaultDeadLetters if limit <= 0),
// oldest first, newest last.
func (s *Store) DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	if limit <= 0 {
		limit = DefaultDeadLetters
	}
	st, err := s.js.Stream(ctx, StreamDead)
	if err != nil {
		return nil, fmt.Errorf("eventstore: dead letters: %w", err)
	}
	state := st.CachedInfo().State
	if state.Msgs == 0 {
		return nil, nil
	}
	from := state.FirstSeq
	if state.LastSeq >= uint64(limit) && state.LastSeq-uint64(limit)+1 > from {
		from = state.LastSeq - uint64(limit) + 1
	}
	var out []DeadLetter
	for seq := from; seq <= state.LastSeq; seq++ {
		raw, err := st.GetMsg(ctx, seq)
		if err != nil {
			if isNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("eventstore: dead letter %d: %w", seq, err)
		}
		dl := DeadLetter{
			Seq:     raw.Sequence,
			View:    strings.TrimPrefix(raw.Subject, subjectDead+"."),
			Reason:  raw.Header.Get(HeaderReason),
			Stream:  raw.Header.Get(HeaderStream),
			Subject: raw.Header.Get(HeaderSubject),
			Data:    raw.Data,
			At:      raw.Time,
		}
		dl.StreamSeq, _ = strconv.ParseUint(raw.Header.Get(HeaderStreamSeq), 10, 64)
		out = append(out, dl)
	}
	return out, nil
}
