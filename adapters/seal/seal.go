// Package seal makes the event stream tamper-evident (issue 18): a Sealer hashes
// StreamEvents' messages in stream order into a chain and stores it, run by run, in
// StreamSeals; Verify re-reads the stream and the seals and reports the first sequence
// where an event was changed, removed or inserted.
//
// The chain: link(n) = sha256(link(n-1) || seq(n) big-endian || MessageHash(n)), from 32
// zero bytes. A seal holds a run's first and last sequences, the link before and after
// it, and each message's sequence and hash: hashes only, so no seal keeps an erased
// customer's data. Erasure's secure deletes leave an eventstore.Redaction (the sequence
// and the hash removed), so that Verify tells a lawful gap from tampering; messages
// before the stream's first sequence expired with its retention, lawfully too.
//
// # Caveats
//
// The seals live in the same JetStream as the events: someone able to rewrite both
// streams consistently can forge a history. Keep copies of the latest link elsewhere
// (the seal's link is printed by `ledger verify`) to close that gap.
package seal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/interaction-ledger/ledger/eventstore"
)

// Seal is one run of sealed messages, as stored in StreamSeals.
type Seal struct {
	Stream string  `json:"stream"`
	First  uint64  `json:"first"`
	Last   uint64  `json:"last"`
	Prev   string  `json:"prev"` // hex link before the run
	Link   string  `json:"link"` // hex link after it
	Events []Entry `json:"events"`
}

// Entry is one sealed message: its sequence and MessageHash (hex).
type Entry struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// next is the chain's step.
func next(prev [32]byte, seq uint64, hash [32]byte) [32]byte {
	var b [32 + 8 + 32]byte
	copy(b[:32], prev[:])
	binary.BigEndian.PutUint64(b[32:40], seq)
	copy(b[40:], hash[:])
	return sha256.Sum256(b[:])
}

// Store is what the sealer and Verify need of the event store.
type Store interface {
	Read(ctx context.Context, stream string, fromSeq uint64, batch int, handle func(ctx context.Context, batch []eventstore.Delivery) error) error
	Append(ctx context.Context, msgs []eventstore.Message) ([]eventstore.AppendResult, error)
	LastOn(ctx context.Context, stream, subject string) (eventstore.Delivery, bool, error)
	FirstSeq(ctx context.Context, stream string) (uint64, error)
}

// Config configures a Sealer.
type Config struct {
	Store Store // required
	// Interval is how often the sealer looks for new messages. Default 1 s.
	Interval time.Duration
	// MaxEvents is the most messages one seal covers. Default 1000.
	MaxEvents int
	Logger    *slog.Logger // default slog.Default()
}

// Sealer seals StreamEvents as it grows.
type Sealer struct {
	cfg Config
	// The chain's end as stored: the last seal's Last and Link, and that seal's sequence
	// in StreamSeals (the expected last sequence of the next seal's append).
	last     uint64
	link     [32]byte
	sealSeq  uint64
	loaded   bool
	pending  []Entry
	pendLink [32]byte
}

// New returns a sealer for cfg.
func New(cfg Config) (*Sealer, error) {
	if cfg.Store == nil {
		return nil, errors.New("seal: Config.Store is required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.MaxEvents <= 0 {
		cfg.MaxEvents = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Sealer{cfg: cfg}, nil
}

// Run seals every Interval until ctx is done, then once more (bounded by ten seconds)
// so that every event stored before a shutdown is sealed. A failed round is logged and
// tried again at the next tick: the chain's end is reloaded, nothing is lost.
func (s *Sealer) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := s.SealNow(fctx); err != nil {
				s.cfg.Logger.Error("seal at shutdown", "err", err)
			}
			return nil
		case <-t.C:
		}
		if err := s.SealNow(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("seal", "err", err)
		}
	}
}

// SealNow seals every message stored since the last seal.
func (s *Sealer) SealNow(ctx context.Context) error {
	if !s.loaded {
		if err := s.load(ctx); err != nil {
			return err
		}
	}
	s.pending, s.pendLink = s.pending[:0], s.link
	err := s.cfg.Store.Read(ctx, eventstore.StreamEvents, s.last+1, s.cfg.MaxEvents, func(ctx context.Context, batch []eventstore.Delivery) error {
		for _, d := range batch {
			h := eventstore.MessageHash(d.Subject, d.Data)
			s.pending = append(s.pending, Entry{Seq: d.Seq, Hash: hex.EncodeToString(h[:])})
			s.pendLink = next(s.pendLink, d.Seq, h)
			if len(s.pending) == s.cfg.MaxEvents {
				if err := s.flush(ctx); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil {
		err = s.flush(ctx)
	}
	if err != nil {
		s.loaded = false // reload the chain's end: another sealer may have gone first
		return fmt.Errorf("seal: %w", err)
	}
	return nil
}

// flush stores the pending run as one seal, conditional on the chain's end being the one
// this sealer knows: two sealers never fork the chain.
func (s *Sealer) flush(ctx context.Context) error {
	if len(s.pending) == 0 {
		return nil
	}
	sl := Seal{Stream: eventstore.StreamEvents, First: s.pending[0].Seq, Last: s.pending[len(s.pending)-1].Seq,
		Prev: hex.EncodeToString(s.link[:]), Link: hex.EncodeToString(s.pendLink[:]), Events: s.pending}
	data, err := json.Marshal(sl)
	if err != nil {
		return err
	}
	expect := s.sealSeq
	res, err := s.cfg.Store.Append(ctx, []eventstore.Message{{ID: "seal-" + strconv.FormatUint(sl.Last, 10),
		Subject: eventstore.SubjectSealChain, Data: data, ExpectLastSeq: &expect}})
	if err != nil {
		return err
	}
	if res[0].Err != nil {
		return fmt.Errorf("store seal %d..%d: %w", sl.First, sl.Last, res[0].Err)
	}
	s.last, s.link, s.sealSeq = sl.Last, s.pendLink, res[0].Seq
	s.pending = s.pending[:0]
	return nil
}

// load reads the chain's end from the last seal stored.
func (s *Sealer) load(ctx context.Context) error {
	d, ok, err := s.cfg.Store.LastOn(ctx, eventstore.StreamSeals, eventstore.SubjectSealChain)
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	s.last, s.link, s.sealSeq = 0, [32]byte{}, 0
	if ok {
		var sl Seal
		if err := json.Unmarshal(d.Data, &sl); err != nil {
			return fmt.Errorf("seal: last seal %d: %w", d.Seq, err)
		}
		l, err := hex.DecodeString(sl.Link)
		if err != nil || len(l) != 32 {
			return fmt.Errorf("seal: last seal %d: bad link %q", d.Seq, sl.Link)
		}
		s.last, s.sealSeq = sl.Last, d.Seq
		copy(s.link[:], l)
	}
	s.loaded = true
	return nil
}

// equalHex compares a hash with its hex form.
func equalHex(h [32]byte, s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && bytes.Equal(b, h[:])
}
