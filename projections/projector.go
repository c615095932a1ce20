package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
)

// View is one read model. Apply receives only valid events, within the retention window,
// in stream order, and runs inside the transaction that also stores the checkpoint: it
// must not commit, and it must be idempotent by key (the same event id applied twice
// changes nothing), since the dedupe window of the stream is finite.
type View interface {
	// Name names the view, its file and its durable consumer. WARNING: renaming a view
	// re-consumes the whole stream into a new file.
	Name() string
	// Stream is the stream the view reads ("LEDGER", "LEDGER_DIRECTORY" or, for a RawView, "LEDGER_AUDIT").
	Stream() string
	// Init creates the view's buckets.
	Init(tx *bolt.Tx) error
	// Apply applies a batch.
	Apply(tx *bolt.Tx, batch []Applied) error
}

// RawView is a view of a stream whose messages are not envelopes (the read audit): its
// projector hands it the messages as stored, with no decoding, validation, dead letters or
// retention (the view judges them itself), still in the transaction that stores the
// checkpoint. Apply is never called on it.
type RawView interface {
	View
	ApplyRaw(tx *bolt.Tx, msgs []Message) error
}

// Applied is one validated event with the stream sequence it was stored at.
type Applied struct {
	Seq     uint64
	Subject string // the stream subject it was stored under
	Event   domain.Event
}

// Message is one envelope as the stream delivered it.
type Message struct {
	Stream    string
	Seq       uint64
	Subject   string
	Data      []byte
	Published time.Time // the stream's own timestamp
}

// Source delivers a stream's messages in order, in batches, after a sequence. handle's
// nil return acknowledges the batch. Consume returns nil when ctx ends.
type Source interface {
	Consume(ctx context.Context, stream, durable string, startAfter uint64, handle func(context.Context, []Message) error) error
}

// DeadLetters sets aside a message that failed validation, where an operator can list it.
type DeadLetters interface {
	DeadLetter(ctx context.Context, m Message, view, reason string) error
}

// Observer receives what an operator would graph. Any field may be nil.
type Observer struct {
	Batch      func(view string, events int, apply time.Duration)
	DeadLetter func(view string)
	Expired    func(view string, n int)
	Checkpoint func(view string, seq uint64, published time.Time)
}

// Projector keeps one view up to date from its stream.
type Projector struct {
	view View
	db   *DB
	src  Source
	dead DeadLetters
	log  *slog.Logger
	now  func() time.Time
	obs  Observer
	dec  *DecodeCache
	node string
}

// ProjectorConfig configures a Projector.
type ProjectorConfig struct {
	View        View
	DB          *DB
	Source      Source
	DeadLetters DeadLetters
	Logger      *slog.Logger     // default slog.Default()
	Now         func() time.Time // default time.Now; retention is judged against it
	Observer    Observer
	// Decoded, when set, is shared with the other projectors of the same stream.
	Decoded *DecodeCache
	// Node is the ledger node's id, part of the durable consumer's name (DurableName):
	// every node projects its own copy of the views with consumers of its own. Default
	// "" (the single node's names). WARNING: changing it creates new consumers (they
	// start at the view's checkpoint, so nothing is applied twice).
	Node string
}

// NewProjector returns a projector for cfg.View; it creates the view's buckets.
func NewProjector(cfg ProjectorConfig) (*Projector, error) {
	var errs []error
	if cfg.View == nil {
		errs = append(errs, errors.New("projector: View is required"))
	}
	if cfg.DB == nil {
		errs = append(errs, errors.New("projector: DB is required"))
	}
	if cfg.DeadLetters == nil {
		errs = append(errs, errors.New("projector: DeadLetters is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg.Logger, cfg.Now = defaults(cfg.Logger, cfg.Now)
	if err := cfg.DB.Update(cfg.View.Init); err != nil {
		return nil, fmt.Errorf("init view %s: %w", cfg.View.Name(), err)
	}
	return &Projector{view: cfg.View, db: cfg.DB, src: cfg.Source, dead: cfg.DeadLetters,
		log: cfg.Logger.With("view", cfg.View.Name()), now: cfg.Now, obs: cfg.Observer, dec: cfg.Decoded, node: cfg.Node}, nil
}

// Apply applies batch to v in one transaction of db, without moving the checkpoint: for
// tests and tools that feed a view events they built themselves (the stream's path is the
// Projector). The view's buckets must exist (v.Init).
func Apply(db *DB, v View, batch []Applied) error {
	return db.Update(func(tx *bolt.Tx) error { return v.Apply(tx, batch) })
}

// defaults gives a logger and a clock their defaults: slog.Default() and time.Now.
func defaults(log *slog.Logger, now func() time.Time) (*slog.Logger, func() time.Time) {
	if log == nil {
		log = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	return log, now
}

// DurableName is the durable consumer of a view on a node: "view-<view>", then
// "-<node>" when node is set. Each node has its own, since two nodes sharing a durable
// would split the messages between them. WARNING: renaming re-consumes.
func DurableName(view, node string) string {
	if node == "" {
		return "view-" + view
	}
	return "view-" + view + "-" + node
}

// Run applies batches until ctx ends (nil) or a batch cannot be applied (the error; the
// batch stays unacknowledged and is delivered again on the next Run).
func (p *Projector) Run(ctx context.Context) error {
	if p.src == nil {
		return errors.New("projector: no Source to run from")
	}
	start, err := p.db.Checkpoint()
	if err != nil {
		return fmt.Errorf("read checkpoint of %s: %w", p.view.Name(), err)
	}
	p.log.Info("projector starting", "after_seq", start)
	return p.src.Consume(ctx, p.view.Stream(), DurableName(p.view.Name(), p.node), start, p.Handle)
}

// Handle applies one batch: validation (the envelope, and its subject against its type),
// dead letters, retention, then the view's Apply and the checkpoint in one transaction. It
// is also the rebuild path (Rebuild).
func (p *Projector) Handle(ctx context.Context, msgs []Message) error {
	if len(msgs) == 0 {
		return nil
	}
	started := time.Now()
	// A redelivery overlaps what the checkpoint covers: those messages were judged
	// already, and an invalid one was set aside already (the dead letters' deduplication
	// window is finite). This projector is the file's only writer, so the checkpoint read
	// here is still the one in the transaction below, which checks again.
	done, err := p.db.Checkpoint()
	if err != nil {
		return fmt.Errorf("read checkpoint of %s: %w", p.view.Name(), err)
	}
	raw, isRaw := p.view.(RawView)
	var fresh []Message // a raw view's messages, the ones after the checkpoint
	cutoff := domain.RetentionStart(p.now())
	batch := make([]Applied, 0, len(msgs))
	expired := 0
	for _, m := range msgs {
		if m.Seq <= done {
			continue
		}
		if isRaw {
			fresh = append(fresh, m)
			continue
		}
		ev, err := p.dec.Decode(m)
		if err == nil {
			err = checkSubject(m.Subject, ev)
		}
		if err != nil {
			if derr := p.dead.DeadLetter(ctx, m, p.view.Name(), err.Error()); derr != nil {
				return fmt.Errorf("set aside seq %d of %s: %w", m.Seq, p.view.Stream(), derr)
			}
			p.log.Warn("envelope set aside", "seq", m.Seq, "subject", m.Subject, "reason", err.Error())
			if p.obs.DeadLetter != nil {
				p.obs.DeadLetter(p.view.Name())
			}
			continue
		}
		if !ev.Type.IsDirectory() && ev.OccurredAt.Before(cutoff) {
			expired++ // replay skips what the retention window excludes
			continue
		}
		batch = append(batch, Applied{Seq: m.Seq, Subject: m.Subject, Event: ev})
	}
	last := msgs[len(msgs)-1]
	err = p.db.Update(func(tx *bolt.Tx) error {
		if cp := ReadCheckpoint(tx); cp >= last.Seq {
			return nil // already applied: a redelivery after a crash between commit and ack
		} else if cp > msgs[0].Seq {
			batch = slices.DeleteFunc(batch, func(a Applied) bool { return a.Seq <= cp })
			fresh = slices.DeleteFunc(fresh, func(m Message) bool { return m.Seq <= cp })
		}
		if isRaw && len(fresh) > 0 {
			if err := raw.ApplyRaw(tx, fresh); err != nil {
				return err
			}
		}
		if len(batch) > 0 {
			if err := p.view.Apply(tx, batch); err != nil {
				return err
			}
		}
		return writeCheckpoint(tx, last)
	})
	if err != nil {
		return fmt.Errorf("project batch of %d at seq %d into %s: %w", len(msgs), msgs[0].Seq, p.view.Name(), err)
	}
	p.db.advanced(last.Seq)
	if p.obs.Batch != nil {
		p.obs.Batch(p.view.Name(), len(batch)+len(fresh), time.Since(started))
	}
	if expired > 0 && p.obs.Expired != nil {
		p.obs.Expired(p.view.Name(), expired)
	}
	if p.obs.Checkpoint != nil {
		p.obs.Checkpoint(p.view.Name(), last.Seq, last.Published)
	}
	return nil
}

// subjectPrefix is the subject prefix of the events (CONTRACT.md §4). The event store owns
// the subjects; this package may not import it, and needs only the rule below.
const subjectPrefix = "ledger.events."

// checkSubject refuses an event whose subject is not "ledger.events.<its type>" (or, for
// a task event or one of the commands on an interaction, that followed by one token: the
// per-task or per-interaction key the event store adds). The
// subject decides where a message is stored (LEDGER_DIRECTORY copies the directory
// subjects and keeps them forever) and who may publish it (producers may not publish
// directory records or erasures): a view that trusted the content of a message whose
// subject lies would let it through both gates.
func checkSubject(subject string, ev domain.Event) error {
	want := subjectPrefix + ev.Type.String()
	rest, ok := strings.CutPrefix(subject, want)
	if ok && (rest == "" || (ev.Type.IsTask() || ev.Type.IsAction()) && len(rest) > 1 && rest[0] == '.' && !strings.Contains(rest[1:], ".")) {
		return nil
	}
	return fmt.Errorf("subject %q does not match the envelope's type %q: want %q", subject, ev.Type, want)
}
