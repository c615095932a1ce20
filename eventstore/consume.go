package eventstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Delivery is one stored message handed to a projector.
type Delivery struct {
	Stream    string
	Seq       uint64 // stream sequence: what a projector checkpoints
	Subject   string
	Data      []byte
	Published time.Time // when the stream stored it
}

// ConsumeConfig configures Consume.
type ConsumeConfig struct {
	// Stream is StreamEvents, StreamDirectory or StreamAudit (the access logs' index). Required.
	Stream string
	// Durable is the durable consumer's name, e.g. "view-history". Required.
	//
	// WARNING: the durable is the server's copy of a projector's position; renaming it
	// creates a new consumer that re-consumes the stream from StartAfter.
	Durable string
	// StartAfter is the projector's checkpoint: the last stream sequence it applied
	// (0: from the start of the stream).
	StartAfter uint64
	// Batch is the most messages handed to handle at once. Default 1000.
	Batch int
	// MaxWait is how long Consume waits for a first message before looking again; a batch
	// is handed as soon as one message is there, with whatever followed it. Default 250ms.
	MaxWait time.Duration
	// Linger is how long, once a first message is there, Consume waits for more before it
	// hands over a batch smaller than Batch. Default 50 ms: under load a projector then
	// commits (and fsyncs) full batches instead of one per message, for at most this much
	// added latency. Negative: hand over whatever is there at once.
	Linger time.Duration
}

// Defaults of ConsumeConfig.
const (
	DefaultBatch   = 1000
	DefaultMaxWait = 250 * time.Millisecond
	DefaultLinger  = 50 * time.Millisecond
	// consumeAckWait is how long the server waits for a batch's ack before redelivering
	// it: generous, as a projector commits a whole batch in one transaction.
	consumeAckWait = 5 * time.Minute
	// consumerInactive is how long an idle durable consumer is kept (see prepareConsumer).
	consumerInactive = 7 * 24 * time.Hour
)

func (c *ConsumeConfig) setDefaults() {
	c.Batch = cmp.Or(c.Batch, DefaultBatch)
	c.MaxWait = cmp.Or(c.MaxWait, DefaultMaxWait)
	c.Linger = cmp.Or(c.Linger, DefaultLinger)
}

// Validate reports every problem of the configuration at once.
func (c ConsumeConfig) Validate() error {
	var errs []error
	if c.Stream != StreamEvents && c.Stream != StreamDirectory && c.Stream != StreamAudit {
		errs = append(errs, fmt.Errorf("eventstore: consume: Stream %q: must be %s, %s or %s", c.Stream, StreamEvents, StreamDirectory, StreamAudit))
	}
	if c.Durable == "" {
		errs = append(errs, errors.New("eventstore: consume: Durable is required"))
	} else if !validName(c.Durable) {
		errs = append(errs, fmt.Errorf("eventstore: consume: Durable %q: must not hold spaces, '.', '*', '>', '/' or '\\'", c.Durable))
	}
	errs = append(errs, positive("eventstore: consume: Batch", c.Batch), positive("eventstore: consume: MaxWait", c.MaxWait))
	return errors.Join(errs...)
}

func validName(s string) bool {
	for _, r := range s {
		switch r {
		case ' ', '\t', '\r', '\n', '.', '*', '>', '/', '\\':
			return false
		}
	}
	return true
}

// Consume hands the stream's messages after cfg.StartAfter to handle, in batches of up to
// cfg.Batch, in stream order, through a durable pull consumer. It runs until ctx is done
// (and returns nil) or handle fails (and returns its error, wrapped; that batch is not
// acknowledged and the next Consume from the same checkpoint gets it again).
//
// A batch is acknowledged once handle returned nil, by acking its last message (AckAll).
// The projector's checkpoint, not the durable, is the truth: on start the durable is
// recreated at StartAfter+1 unless it stands exactly at StartAfter. Messages at or before
// the last sequence handed over are acknowledged and skipped, never handed twice.
//
// One Consume per durable at a time.
func (s *Store) Consume(ctx context.Context, cfg ConsumeConfig, handle func(ctx context.Context, batch []Delivery) error) error {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	cons, err := s.prepareConsumer(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	f, err := startFeed(cons, cfg.Batch)
	if err != nil {
		return fmt.Errorf("eventstore: consume %s/%s: %w", cfg.Stream, cfg.Durable, err)
	}
	defer f.close()

	last := cfg.StartAfter
	msgs := make([]jetstream.Msg, 0, cfg.Batch)
	batch := make([]Delivery, 0, cfg.Batch)
	for {
		msgs, err = f.next(ctx, msgs[:0], cfg.Batch, cfg.MaxWait, cfg.Linger)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("eventstore: consume %s/%s: %w (last library error: %v)", cfg.Stream, cfg.Durable, err, f.lastErr())
		}
		batch = batch[:0]
		var lastMsg, skipped jetstream.Msg
		for _, m := range msgs {
			md, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("eventstore: consume %s/%s: metadata: %w", cfg.Stream, cfg.Durable, err)
			}
			if md.Sequence.Stream <= last {
				// A redelivery (the ack wait passed) of what was handed already.
				skipped = m
				continue
			}
			if md.Sequence.Stream > last+1 {
				// Never past a gap: each missing sequence is proven expired or deleted,
				// or fetched from the stream leader and handed over in its place.
				missing, err := s.fillGap(ctx, cfg.Stream, last+1, md.Sequence.Stream-1)
				if err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return fmt.Errorf("eventstore: consume %s/%s: %w", cfg.Stream, cfg.Durable, err)
				}
				if len(missing) > 0 {
					s.log.Warn("eventstore: consumer skipped messages; fetched them from the stream leader",
						"stream", cfg.Stream, "durable", cfg.Durable, "from", last+1, "to", md.Sequence.Stream-1, "fetched", len(missing))
				}
				batch = append(batch, missing...)
			}
			batch = append(batch, Delivery{
				Stream: cfg.Stream, Seq: md.Sequence.Stream, Subject: m.Subject(),
				Data: m.Data(), Published: md.Timestamp,
			})
			last, lastMsg = md.Sequence.Stream, m
		}
		if len(batch) == 0 {
			if skipped != nil {
				_ = skipped.Ack()
			}
			continue
		}
		if err := handle(ctx, batch); err != nil {
			return fmt.Errorf("eventstore: consume %s/%s: handle batch %d..%d: %w",
				cfg.Stream, cfg.Durable, batch[0].Seq, batch[len(batch)-1].Seq, err)
		}
		// AckAll: acknowledges every message of the batch (and any skipped before it).
		if err := lastMsg.Ack(); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("eventstore: consume %s/%s: ack %d: %w", cfg.Stream, cfg.Durable, last, err)
		}
	}
}

// prepareConsumer returns the durable, recreated at StartAfter+1 unless it is configured
// as this package configures it and stands exactly at StartAfter. A durable ahead of the
// checkpoint (a view deleted or rebuilt) would skip messages; one behind would redeliver
// messages the projector already has (each acknowledged and skipped, but each a cost).
func (s *Store) prepareConsumer(ctx context.Context, cfg ConsumeConfig) (jetstream.Consumer, error) {
	stream, err := s.js.Stream(ctx, cfg.Stream)
	if err != nil {
		return nil, fmt.Errorf("eventstore: consume: stream %s: %w", cfg.Stream, err)
	}
	want := jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		Description:   "ledger projector",
		AckPolicy:     jetstream.AckAllPolicy,
		AckWait:       consumeAckWait,
		MaxAckPending: max(8*cfg.Batch, 10_000), // above the feed's buffers and a batch
		MaxWaiting:    512,
		MaxDeliver:    -1,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
		Replicas:      0, // as the stream
		// A node that left the cluster leaves its consumers behind; the server removes
		// them after this long idle. Harmless to a node that returns later: its
		// checkpoint, not the durable, is the truth, and the durable is created again.
		InactiveThreshold: consumerInactive,
	}
	if cfg.StartAfter == 0 {
		want.DeliverPolicy = jetstream.DeliverAllPolicy
	} else {
		want.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		want.OptStartSeq = cfg.StartAfter + 1
	}

	cons, err := stream.Consumer(ctx, cfg.Durable)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
	case err != nil:
		return nil, fmt.Errorf("eventstore: consume: consumer %s/%s: %w", cfg.Stream, cfg.Durable, err)
	default:
		ci := cons.CachedInfo()
		if ci.Config.AckPolicy == jetstream.AckAllPolicy && ci.Config.FilterSubject == "" &&
			ci.Config.MaxAckPending >= want.MaxAckPending &&
			ci.Delivered.Stream == cfg.StartAfter && ci.AckFloor.Stream == cfg.StartAfter {
			return cons, nil
		}
		s.log.Info("eventstore: resetting durable consumer to the checkpoint",
			"stream", cfg.Stream, "durable", cfg.Durable, "start_after", cfg.StartAfter,
			"delivered", ci.Delivered.Stream, "ack_floor", ci.AckFloor.Stream)
		if err := stream.DeleteConsumer(ctx, cfg.Durable); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, fmt.Errorf("eventstore: consume: delete consumer %s/%s: %w", cfg.Stream, cfg.Durable, err)
		}
	}
	cons, err = stream.CreateConsumer(ctx, want)
	if err != nil {
		return nil, fmt.Errorf("eventstore: consume: create consumer %s/%s: %w", cfg.Stream, cfg.Durable, err)
	}
	return cons, nil
}
