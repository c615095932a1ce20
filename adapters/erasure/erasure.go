package erasure

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/eventstore"
)

// Topic is the subject the Eraser consumes: every customer.erased of StreamEvents.
const Topic = "ledger.events.customer.erased"

// View is a view of StreamEvents that deletes a customer's entries when it applies
// customer.erased (history, timeline). Declared here, where it is used.
type View interface {
	// Name names the view in logs and errors.
	Name() string
	// WaitCheckpoint blocks until the view has applied StreamEvents up to seq, or ctx
	// ends (projections.DB.WaitCheckpoint).
	WaitCheckpoint(ctx context.Context, seq uint64) error
	// Compact rewrites the view's file without its free pages (which still hold deleted
	// bytes) and swaps it in between two projector batches (projections.Runner.Compact).
	Compact(ctx context.Context) error
}

// Steps say which parts of an erasure an Eraser carries out. On one node an Eraser does
// both. With several ledger nodes each node runs a StepViews eraser of its own (its views
// and their files) and one StepStream eraser whose durable all nodes share through a
// deliver group, so that the stream deletions run once per cluster.
type Steps uint8

// The steps of an erasure.
const (
	// StepViews waits until this node's views applied the erase event (which deletes the
	// customer's entries) and compacts their files.
	StepViews Steps = 1 << iota
	// StepStream waits for Peers, then deletes the customer's messages from the streams,
	// the erase event last.
	StepStream
	// StepAll is both, on a single node.
	StepAll = StepViews | StepStream
)

// Config configures an Eraser.
type Config struct {
	// Steps are the parts of an erasure this Eraser carries out. Default StepAll.
	Steps Steps
	// Group, if set, is the deliver group of the durable: every node that subscribes with
	// the same Durable and Group shares one consumer, and JetStream hands each message to
	// one of them (StepStream on a cluster). Default "": one subscriber per durable.
	Group string
	// Peers, if set, is waited for before the stream deletions: it returns once every
	// node has done its StepViews for the erase event at seq (a node whose views have not
	// applied the erase event must still receive it). Default nil: nobody else to wait for.
	Peers func(ctx context.Context, seq uint64) error
	// InactiveThreshold, if set, lets the server remove the durable once it has had no
	// subscriber this long: a node's own durable (StepViews) outlives a node that left the
	// cluster only that long, and Peers stops waiting for it. Default 0: kept forever.
	// Only for a new durable: an existing one created without it refuses the subscription.
	InactiveThreshold time.Duration
	// Store holds the streams that are scanned and erased. Required.
	Store *eventstore.Store
	// Views are every view of StreamEvents that keeps customer data. Required (one or
	// more) with StepViews. Not the directory view: it reads another stream, whose sequences are not
	// comparable, and holds no customer data.
	Views []View
	// Maintenance, if set, is held for the whole of one erasure. An online rebuild must
	// hold it too: it reads the stream outside the view's gate and could otherwise apply
	// messages just before they are erased and swap them back in. Default nil (no lock).
	Maintenance sync.Locker
	// Durable is the durable consumer of customer.erased. Default "erasure".
	//
	// WARNING: renaming it re-consumes every customer.erased still in the stream (each is
	// erased last, so there are few; each costs a full scan).
	Durable string
	// ViewWait bounds one attempt's wait for the views to apply the erase event; the
	// attempt then fails and is delivered again after the backoff. Default 1 minute.
	ViewWait time.Duration
	// AckWait is how long the server waits for an ack before it delivers an erasure
	// again. While an erasure runs it is kept alive with in-progress acks every AckWait/3,
	// so this only bounds how soon an erasure interrupted by a crash starts over.
	// Default 1 minute.
	AckWait time.Duration
	// RetryMin and RetryMax bound the exponential backoff between the attempts of a
	// failing erasure, which is retried forever (see the package doc). Defaults 1 s, 5 min.
	RetryMin, RetryMax time.Duration
	// ReadBatch is the batch size of the stream scans. Default 5000.
	ReadBatch int
	// Logger receives progress and failures; it never gets customer ids. Default
	// slog.Default().
	Logger *slog.Logger
	// OnErased, if set, is called after each completed erasure (metrics, tests).
	OnErased func(Report)
}

// Defaults of Config.
const (
	DefaultDurable   = "erasure"
	DefaultViewWait  = time.Minute
	DefaultAckWait   = time.Minute
	DefaultRetryMin  = time.Second
	DefaultRetryMax  = 5 * time.Minute
	DefaultReadBatch = 5000
)

func (c *Config) setDefaults() {
	c.Durable = cmp.Or(c.Durable, DefaultDurable)
	c.Steps = cmp.Or(c.Steps, StepAll)
	c.ViewWait = cmp.Or(c.ViewWait, DefaultViewWait)
	c.AckWait = cmp.Or(c.AckWait, DefaultAckWait)
	c.RetryMin = cmp.Or(c.RetryMin, DefaultRetryMin)
	c.RetryMax = cmp.Or(c.RetryMax, DefaultRetryMax)
	c.ReadBatch = cmp.Or(c.ReadBatch, DefaultReadBatch)
	c.Logger = cmp.Or(c.Logger, slog.Default())
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("erasure: Store is required"))
	}
	if c.Steps&StepViews != 0 && len(c.Views) == 0 {
		errs = append(errs, errors.New("erasure: Views: at least one view is required"))
	}
	if c.Steps&^StepAll != 0 {
		errs = append(errs, fmt.Errorf("erasure: Steps %d: unknown steps", c.Steps))
	}
	for i, v := range c.Views {
		if v == nil {
			errs = append(errs, fmt.Errorf("erasure: Views[%d] is nil", i))
		}
	}
	if c.ViewWait <= 0 {
		errs = append(errs, fmt.Errorf("erasure: ViewWait %s: must be positive", c.ViewWait))
	}
	if c.AckWait < time.Second {
		errs = append(errs, fmt.Errorf("erasure: AckWait %s: must be at least 1s", c.AckWait))
	}
	if c.RetryMin <= 0 || c.RetryMax < c.RetryMin {
		errs = append(errs, fmt.Errorf("erasure: RetryMin %s, RetryMax %s: need 0 < RetryMin <= RetryMax", c.RetryMin, c.RetryMax))
	}
	if c.ReadBatch <= 0 {
		errs = append(errs, fmt.Errorf("erasure: ReadBatch %d: must be positive", c.ReadBatch))
	}
	return errors.Join(errs...)
}

// Report describes one completed erasure. It holds no customer id.
type Report struct {
	EventID   string        // the customer.erased event
	Seq       uint64        // its sequence in StreamEvents
	Customers int           // the customer and those merged into it
	Events    int           // messages erased from StreamEvents, the erase event included
	Dead      int           // dead letters erased from StreamDead
	Directory int           // messages erased from StreamDirectory (events on a directory subject)
	Scanned   time.Duration // time spent reading the streams
	Took      time.Duration // the whole erasure, waits included
}

// Eraser carries out customer.erased. See the package doc.
type Eraser struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	inflight map[string]*nats.Msg // delivery key -> the JetStream message, for in-progress acks
}

// New returns an Eraser; it connects nothing until Run.
func New(cfg Config) (*Eraser, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Eraser{cfg: cfg, log: cfg.Logger.With("component", "erasure"), inflight: map[string]*nats.Msg{}}, nil
}

// Metadata keys the unmarshaler sets on each watermill message.
const (
	metaSeq       = "ledger_stream_seq"
	metaPublished = "ledger_published"
	metaDelivery  = "ledger_delivery"
)

// Run consumes customer.erased until ctx ends, then returns nil once its handler and
// subscriber stopped (an erasure cut short is delivered again after AckWait). It opens its
// own connection (watermill closes the connection it is given) and closes it.
func (e *Eraser) Run(ctx context.Context) error {
	nc, err := e.cfg.Store.Connect(nats.Name("ledger-erasure"))
	if err != nil {
		return fmt.Errorf("erasure: connect: %w", err)
	}
	wlog := watermill.NewSlogLogger(e.log)
	sub, err := wmnats.NewSubscriberWithNatsConn(nc, SubscriberConfig(e.cfg, unmarshaler{e}), wlog)
	if err != nil {
		nc.Close()
		return fmt.Errorf("erasure: subscriber: %w", err)
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 30 * time.Second}, wlog)
	if err != nil {
		sub.Close()
		return fmt.Errorf("erasure: router: %w", err)
	}
	// keepAlive outermost, so the server hears from us during the handler's retries too;
	// recoverer innermost, so a panic becomes an error like any other.
	h := e.keepAlive(recoverer(e.handle))
	router.AddConsumerHandler("erasure", Topic, sub, func(m *message.Message) error {
		_, err := h(m)
		return err
	})
	done := make(chan error, 1)
	go func() { done <- router.Run(ctx) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// Closing a watermill router before Run has started its handlers blocks for the
		// whole CloseTimeout (Close holds the handlers lock that Run still needs): wait
		// until it runs, or has already given up, before closing it.
		select {
		case <-router.Running():
			cerr := router.Close()
			err = errors.Join(<-done, cerr)
		case err = <-done:
		}
	}
	// The router closes the subscriber (and its connection) when its handler stops; closing
	// again is a no-op, and covers a router that failed to start.
	err = errors.Join(err, sub.Close())
	e.mu.Lock()
	clear(e.inflight)
	e.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("erasure: router: %w", err)
	}
	return nil
}

// SubscriberConfig is the watermill-nats subscription the Eraser consumes Topic with, for
// cfg (its defaults applied) and u. It is exported so that watermill's universal suite runs
// against exactly what ships (subscriber_test.go); the Eraser's own unmarshaler is not
// exported, as it exists only to feed the Eraser's handler.
func SubscriberConfig(cfg Config, u wmnats.Unmarshaler) wmnats.SubscriberSubscriptionConfig {
	cfg.setDefaults()
	var extra []nats.SubOpt
	if cfg.InactiveThreshold > 0 {
		extra = append(extra, nats.InactiveThreshold(cfg.InactiveThreshold))
	}
	return wmnats.SubscriberSubscriptionConfig{
		Unmarshaler:      u,
		SubscribersCount: 1,
		QueueGroupPrefix: cfg.Group,
		// The subscriber waits this long for the handler's ack before it gives up on the
		// message; an erasure is a full scan of the stream plus compactions, kept alive
		// towards the server by in-progress acks: a day is "never" here.
		AckWaitTimeout:    24 * time.Hour,
		CloseTimeout:      30 * time.Second,
		SubscribeTimeout:  30 * time.Second,
		SubjectCalculator: wmnats.DefaultSubjectCalculator,
		NakDelay:          backoffDelay{min: cfg.RetryMin, max: cfg.RetryMax},
		JetStream: wmnats.JetStreamConfig{
			AutoProvision:     false, // the event store owns the streams
			DurablePrefix:     cfg.Durable,
			DurableCalculator: durableName,
			AckAsync:          false,
			SubscribeOptions: append([]nats.SubOpt{
				nats.BindStream(eventstore.StreamEvents),
				nats.DeliverAll(),
				nats.AckExplicit(),
				// No auto-ack when the callback returns: a message the subscriber drops
				// while closing must come back, not be acknowledged.
				nats.ManualAck(),
				nats.AckWait(cfg.AckWait),
				// One erasure at a time: they compact the same files.
				nats.MaxAckPending(1),
				nats.MaxDeliver(-1),
			}, extra...),
		},
	}
}

// durableName names the consumer of topic. Topic's consumer is named durable itself (see
// Config.Durable's warning); any other topic, which only the conformance suite subscribes
// to, gets a consumer of its own, as a JetStream consumer filters one subject.
func durableName(durable, topic string) string {
	if topic == Topic {
		return durable
	}
	return durable + "_" + strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, topic)
}

// unmarshaler reads a customer.erased delivery: the envelope as payload, its event id
// (Nats-Msg-Id) as UUID, its stream sequence and timestamp as metadata. It keeps the
// JetStream message for in-progress acks.
type unmarshaler struct{ e *Eraser }

func (u unmarshaler) Unmarshal(m *nats.Msg) (*message.Message, error) {
	md, err := m.Metadata()
	if err != nil {
		return nil, fmt.Errorf("erasure: not a JetStream message: %w", err)
	}
	id := m.Header.Get(nats.MsgIdHdr)
	if id == "" {
		id = watermill.NewUUID()
	}
	wm := message.NewMessage(id, m.Data)
	key := strconv.FormatUint(md.Sequence.Consumer, 10) // unique per delivery
	wm.Metadata.Set(metaSeq, strconv.FormatUint(md.Sequence.Stream, 10))
	wm.Metadata.Set(metaPublished, md.Timestamp.Format(time.RFC3339Nano))
	wm.Metadata.Set(metaDelivery, key)
	u.e.mu.Lock()
	u.e.inflight[key] = m
	u.e.mu.Unlock()
	return wm, nil
}

// keepAlive sends in-progress acks for the message every AckWait/3 while h runs, so that
// the server does not deliver it again during a long scan or compaction.
func (e *Eraser) keepAlive(h message.HandlerFunc) message.HandlerFunc {
	return func(m *message.Message) ([]*message.Message, error) {
		key := m.Metadata.Get(metaDelivery)
		e.mu.Lock()
		jm := e.inflight[key]
		delete(e.inflight, key)
		e.mu.Unlock()
		if jm == nil {
			return h(m)
		}
		stop, stopped := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(stopped)
			t := time.NewTicker(e.cfg.AckWait / 3)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					if err := jm.InProgress(); err != nil {
						e.log.Warn("in-progress ack failed", "err", err)
					}
				}
			}
		}()
		defer func() { close(stop); <-stopped }()
		return h(m)
	}
}

// recoverer turns a panic of h into an error (watermill's middleware.Recoverer does the
// same; its package needs modules that this one does not otherwise require).
func recoverer(h message.HandlerFunc) message.HandlerFunc {
	return func(m *message.Message) (out []*message.Message, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("erasure: panic: %v\n%s", r, debug.Stack())
			}
		}()
		return h(m)
	}
}

// backoffDelay is the server-side retry policy of a failed erasure: the message is
// negatively acknowledged with a delay that doubles from min to max per delivery, forever.
type backoffDelay struct{ min, max time.Duration }

func (b backoffDelay) WaitTime(delivered uint64) time.Duration {
	n := min(max(delivered, 1)-1, 30)
	d := time.Duration(float64(b.min) * math.Pow(2, float64(n)))
	if d <= 0 || d > b.max {
		d = b.max
	}
	return d
}

// handle is one attempt at one customer.erased. An error nacks it (retried after the
// backoff); nil acknowledges it.
func (e *Eraser) handle(m *message.Message) ([]*message.Message, error) {
	ctx := m.Context()
	start := time.Now()
	seq, err := strconv.ParseUint(m.Metadata.Get(metaSeq), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("erasure: message %s: no stream sequence: %w", m.UUID, err)
	}
	published, _ := time.Parse(time.RFC3339Nano, m.Metadata.Get(metaPublished))
	log := e.log.With("seq", seq, "event_id", m.UUID)
	ev, err := domain.DecodeStored(m.Payload, published)
	if err != nil || ev.Type != domain.TypeCustomerErased || ev.CustomerID == "" {
		// The projectors set an invalid envelope aside (LEDGER_DEAD) and did not apply it;
		// nothing to erase until a valid one is sent. Its error text may quote the
		// envelope, so it is not logged.
		var field string
		if verr := (*domain.ValidationError)(nil); errors.As(err, &verr) {
			field = verr.Field
		}
		log.Error("customer.erased is not a valid erase request; ignored (see dead letters)", "invalid_field", field)
		return nil, nil
	}
	rep, err := e.erase(ctx, seq, ev.CustomerID, log)
	if err != nil {
		log.Error("erasure failed; it will be retried", "err", err)
		return nil, err
	}
	rep.EventID, rep.Took = ev.ID, time.Since(start)
	log.Info("customer erased", "customers", rep.Customers, "events", rep.Events, "dead_letters", rep.Dead, "directory", rep.Directory,
		"scan", rep.Scanned.Round(time.Millisecond), "took", rep.Took.Round(time.Millisecond))
	if e.cfg.OnErased != nil {
		e.cfg.OnErased(rep)
	}
	return nil, nil
}

// erase carries out the erasure of customer, whose erase event is at seq. Every step is
// idempotent, and the erase event itself is deleted last: until then a crash, a failure
// or a restart delivers it again and the erasure starts over.
func (e *Eraser) erase(ctx context.Context, seq uint64, customer string, log *slog.Logger) (Report, error) {
	rep := Report{Seq: seq}
	if e.cfg.Maintenance != nil {
		e.cfg.Maintenance.Lock()
		defer e.cfg.Maintenance.Unlock()
	}
	// 1. Every view has applied the erase event (and so deleted the customer's entries):
	// only then may the stream lose the messages, the erase event included, that a view
	// still needs to see.
	wctx, cancel := context.WithTimeout(ctx, e.cfg.ViewWait)
	for _, v := range e.cfg.Views {
		if e.cfg.Steps&StepViews == 0 {
			break
		}
		if err := v.WaitCheckpoint(wctx, seq); err != nil {
			cancel()
			return rep, fmt.Errorf("erasure: view %s has not applied seq %d: %w", v.Name(), seq, err)
		}
	}
	cancel()
	if e.cfg.Steps&StepStream == 0 {
		return rep, e.compact(ctx)
	}
	if e.cfg.Peers != nil {
		wctx, cancel := context.WithTimeout(ctx, e.cfg.ViewWait)
		err := e.cfg.Peers(wctx, seq)
		cancel()
		if err != nil {
			return rep, fmt.Errorf("erasure: not every node has erased seq %d from its views: %w", seq, err)
		}
	}

	// 2. Find and securely delete every message of the customer (and of those merged into
	// it) up to the erase event, every dead letter that mentions them, and their messages
	// that a lying subject copied into the directory stream.
	scanStart := time.Now()
	f, err := scanEvents(ctx, e.cfg.Store, e.cfg.ReadBatch, seq, customer)
	if err != nil {
		return rep, fmt.Errorf("erasure: scan %s: %w", eventstore.StreamEvents, err)
	}
	dead, err := scanDead(ctx, e.cfg.Store, e.cfg.ReadBatch, f.ids)
	if err != nil {
		return rep, fmt.Errorf("erasure: scan %s: %w", eventstore.StreamDead, err)
	}
	dir, err := scanDirectory(ctx, e.cfg.Store, e.cfg.ReadBatch, f.ids)
	if err != nil {
		return rep, fmt.Errorf("erasure: scan %s: %w", eventstore.StreamDirectory, err)
	}
	rep.Scanned = time.Since(scanStart)
	rep.Customers = len(f.ids)
	events := make([]uint64, 0, len(f.seqs))
	for _, s := range f.seqs {
		if s != seq {
			events = append(events, s)
		}
	}
	log.Debug("erasure scanned", "events", len(events), "dead_letters", len(dead), "directory", len(dir), "took", rep.Scanned)
	if err := e.cfg.Store.Erase(ctx, eventstore.StreamEvents, events); err != nil {
		return rep, err
	}
	if err := e.cfg.Store.Erase(ctx, eventstore.StreamDead, dead); err != nil {
		return rep, err
	}
	if err := e.cfg.Store.Erase(ctx, eventstore.StreamDirectory, dir); err != nil {
		return rep, err
	}

	// 3. Rewrite each view file without the free pages that still hold the deleted
	// entries' bytes.
	if e.cfg.Steps&StepViews != 0 {
		if err := e.compact(ctx); err != nil {
			return rep, err
		}
	}

	// 4. Last, the erase event itself: its customer_id may be personal data (tel:+...).
	if err := e.cfg.Store.Erase(ctx, eventstore.StreamEvents, []uint64{seq}); err != nil {
		return rep, err
	}
	rep.Events, rep.Dead, rep.Directory = len(events)+1, len(dead), len(dir)
	return rep, nil
}

// compact rewrites each view file without the free pages that still hold the deleted
// entries' bytes.
func (e *Eraser) compact(ctx context.Context) error {
	for _, v := range e.cfg.Views {
		if err := v.Compact(ctx); err != nil {
			return fmt.Errorf("erasure: compact view %s: %w", v.Name(), err)
		}
	}
	return nil
}
