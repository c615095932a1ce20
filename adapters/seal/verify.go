package seal

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/interaction-ledger/ledger/eventstore"
)

// Kind is what Verify found wrong at a sequence.
type Kind string

// The kinds of tampering Verify tells apart.
const (
	Changed  Kind = "changed"  // the message at the sequence is not the one sealed
	Removed  Kind = "removed"  // the sealed message is gone, without a redaction record
	Inserted Kind = "inserted" // a message stands where none, or another, was sealed
	Forged   Kind = "forged"   // the seals themselves do not chain
)

// TamperError is the first problem Verify found.
type TamperError struct {
	Seq  uint64
	Kind Kind
}

func (e *TamperError) Error() string {
	return fmt.Sprintf("seal: stream %s: event %s at sequence %d", eventstore.StreamEvents, e.Kind, e.Seq)
}

// Report is what Verify checked.
type Report struct {
	Seals    int    // seals read
	Sealed   uint64 // messages the seals cover
	Verified uint64 // of them, present and unchanged
	Redacted uint64 // removed by erasure, with a matching redaction record
	Expired  uint64 // removed by retention (before the stream's first sequence)
	Unsealed uint64 // stored after the last seal (or before the oldest left): not verifiable
	LastSeq  uint64 // the last sealed sequence
	Link     string // the chain's link after it (hex)
	// Anchor is the link the oldest seal left starts from, when older seals expired
	// ("" when the chain starts at the beginning).
	Anchor string
}

// Verify re-reads the seals and StreamEvents, writes what it checked to out, and returns
// a *TamperError for the first sequence where an event was changed, removed or inserted
// (or where the seals do not chain), nil when the stream is as sealed.
func Verify(ctx context.Context, store Store, out io.Writer) (Report, error) {
	var rep Report
	var entries []Entry
	redacted := map[uint64]string{}
	var link [32]byte
	err := store.Read(ctx, eventstore.StreamSeals, 0, 0, func(_ context.Context, batch []eventstore.Delivery) error {
		for _, d := range batch {
			switch d.Subject {
			case eventstore.SubjectRedacted:
				var r eventstore.Redaction
				if err := json.Unmarshal(d.Data, &r); err != nil {
					return fmt.Errorf("redaction %d: %w", d.Seq, err)
				}
				if r.Stream == eventstore.StreamEvents {
					redacted[r.Seq] = r.Hash
				}
			case eventstore.SubjectSealChain:
				var sl Seal
				if err := json.Unmarshal(d.Data, &sl); err != nil {
					return fmt.Errorf("seal %d: %w", d.Seq, err)
				}
				if rep.Seals == 0 && sl.Prev != hex.EncodeToString(link[:]) {
					// The oldest seals expired with their events: the oldest one left
					// anchors the chain (Report.Anchor).
					prev, err := hex.DecodeString(sl.Prev)
					if err != nil || len(prev) != 32 {
						return &TamperError{Seq: sl.First, Kind: Forged}
					}
					link, rep.Anchor = [32]byte(prev), sl.Prev
				}
				if sl.Prev != hex.EncodeToString(link[:]) || len(sl.Events) == 0 {
					return &TamperError{Seq: sl.First, Kind: Forged}
				}
				for _, e := range sl.Events {
					h, err := hex.DecodeString(e.Hash)
					if err != nil || len(h) != 32 || (len(entries) > 0 && e.Seq <= entries[len(entries)-1].Seq) {
						return &TamperError{Seq: e.Seq, Kind: Forged}
					}
					link = next(link, e.Seq, [32]byte(h))
					entries = append(entries, e)
				}
				if sl.Link != hex.EncodeToString(link[:]) {
					return &TamperError{Seq: sl.First, Kind: Forged}
				}
				rep.Seals++
			}
		}
		return nil
	})
	if err != nil {
		var te *TamperError
		if errors.As(err, &te) {
			report(out, rep, te)
			return rep, te
		}
		return rep, fmt.Errorf("seal: verify: read seals: %w", err)
	}
	rep.Sealed = uint64(len(entries))
	if len(entries) > 0 {
		rep.LastSeq, rep.Link = entries[len(entries)-1].Seq, hex.EncodeToString(link[:])
	}
	first, err := store.FirstSeq(ctx, eventstore.StreamEvents)
	if err != nil {
		return rep, fmt.Errorf("seal: verify: %w", err)
	}
	w := walker{entries: entries, redacted: redacted, first: first, rep: &rep}
	err = store.Read(ctx, eventstore.StreamEvents, 0, 0, func(_ context.Context, batch []eventstore.Delivery) error {
		for _, d := range batch {
			if err := w.message(d.Seq, eventstore.MessageHash(d.Subject, d.Data)); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = w.end()
	}
	var te *TamperError
	if errors.As(err, &te) {
		report(out, rep, te)
		return rep, te
	}
	if err != nil {
		return rep, fmt.Errorf("seal: verify: read %s: %w", eventstore.StreamEvents, err)
	}
	report(out, rep, nil)
	return rep, nil
}

// walker compares the stream's messages, in order, with the sealed entries.
type walker struct {
	entries  []Entry
	i        int // the next entry to meet
	redacted map[uint64]string
	first    uint64
	rep      *Report
	// suspect is a sealed entry whose message differed: changed, or the first of
	// messages shifted by an insertion, decided by the next message.
	suspect *Entry
}

func (w *walker) message(seq uint64, h [32]byte) error {
	if w.suspect != nil {
		if equalHex(h, w.suspect.Hash) {
			return &TamperError{Seq: w.suspect.Seq, Kind: Inserted}
		}
		return &TamperError{Seq: w.suspect.Seq, Kind: Changed}
	}
	for w.i < len(w.entries) && w.entries[w.i].Seq < seq {
		if err := w.missing(w.entries[w.i]); err != nil {
			return err
		}
		w.i++
	}
	if w.i == 0 && len(w.entries) > 0 && seq < w.entries[0].Seq {
		w.rep.Unsealed++ // before the oldest seal left
		return nil
	}
	if w.i == len(w.entries) {
		if len(w.entries) > 0 && seq <= w.entries[len(w.entries)-1].Seq {
			return &TamperError{Seq: seq, Kind: Inserted}
		}
		w.rep.Unsealed++
		return nil
	}
	e := w.entries[w.i]
	if e.Seq != seq {
		return &TamperError{Seq: seq, Kind: Inserted} // a message where none was sealed
	}
	w.i++
	if equalHex(h, e.Hash) {
		w.rep.Verified++
		return nil
	}
	if w.i < len(w.entries) && equalHex(h, w.entries[w.i].Hash) {
		return &TamperError{Seq: seq, Kind: Removed} // the later messages moved up
	}
	w.suspect = &e
	return nil
}

// missing decides a sealed entry whose sequence the stream no longer holds.
func (w *walker) missing(e Entry) error {
	switch {
	case e.Seq < w.first:
		w.rep.Expired++
	case strings.EqualFold(w.redacted[e.Seq], e.Hash):
		w.rep.Redacted++
	default:
		return &TamperError{Seq: e.Seq, Kind: Removed}
	}
	return nil
}

func (w *walker) end() error {
	if w.suspect != nil {
		return &TamperError{Seq: w.suspect.Seq, Kind: Changed}
	}
	for ; w.i < len(w.entries); w.i++ {
		if err := w.missing(w.entries[w.i]); err != nil {
			return err
		}
	}
	return nil
}

func report(out io.Writer, rep Report, te *TamperError) {
	if out == nil {
		return
	}
	fmt.Fprintf(out, "seals %d, sealed %d events up to sequence %d (link %s)\n", rep.Seals, rep.Sealed, rep.LastSeq, rep.Link)
	fmt.Fprintf(out, "verified %d, redacted by erasure %d, expired %d, not yet sealed %d\n", rep.Verified, rep.Redacted, rep.Expired, rep.Unsealed)
	if te != nil {
		fmt.Fprintf(out, "TAMPERED: event %s at sequence %d\n", te.Kind, te.Seq)
		return
	}
	fmt.Fprintln(out, "ok: the stream is as sealed")
}
