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

// DeadLetterPage is one page of DeadLetters, oldest first.
type DeadLetterPage struct {
	Items []DeadLetter
	// Next is the afterSeq of the following page; 0 when this page reached the end.
	Next uint64
}

// MaxDeadLetters is the largest page DeadLetters returns.
const MaxDeadLetters = 10_000

// DeadLetters returns up to limit dead letters (DefaultDeadLetters if limit <= 0) stored
// after the sequence afterSeq (0: from the oldest), oldest first, and the cursor of the
// next page. It fetches one message per item and nothing more: StreamDead may hold a
// million letters, a page holds only what was asked for. Erased or expired sequences are
// skipped by the server (a get of the next message on the stream's subjects).
func (s *Store) DeadLetters(ctx context.Context, afterSeq uint64, limit int) (DeadLetterPage, error) {
	if limit <= 0 {
		limit = DefaultDeadLetters
	}
	if limit > MaxDeadLetters {
		return DeadLetterPage{}, fmt.Errorf("eventstore: dead letters: limit %d: must be at most %d", limit, MaxDeadLetters)
	}
	st, err := s.js.Stream(ctx, StreamDead)
	if err != nil {
		return DeadLetterPage{}, fmt.Errorf("eventstore: dead letters: %w", err)
	}
	last := st.CachedInfo().State.LastSeq
	var page DeadLetterPage
	for seq := afterSeq + 1; afterSeq < last && seq <= last && len(page.Items) < limit; {
		raw, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subjectDead+".>"))
		if isNotFound(err) {
			break
		}
		if err != nil {
			return DeadLetterPage{}, fmt.Errorf("eventstore: dead letter after %d: %w", seq-1, err)
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
		page.Items = append(page.Items, dl)
		seq = raw.Sequence + 1
	}
	if n := len(page.Items); n == limit && page.Items[n-1].Seq < last {
		page.Next = page.Items[n-1].Seq
	}
	return page, nil
}
