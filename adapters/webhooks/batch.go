package webhooks

import (
	"time"

	"github.com/interaction-ledger/ledger/domain"
)

// Batch collects the events of one messaging payload (WhatsApp, Messenger), where one
// body may carry several messages and receipts of the same dialogue: it keeps at most one
// interaction.started per dialogue (the earliest) and drops a fact repeated within the
// payload, so that the appended batch has no two events with one id.
type Batch struct {
	provider, source string
	now              time.Time
	events           []domain.Event
	started          map[string]int // interaction id → index of its started event
	seen             map[string]bool
}

// NewBatch starts the batch of one payload of provider, whose events carry source,
// judged at now.
func NewBatch(provider, source string, now time.Time) *Batch {
	return &Batch{provider: provider, source: source, now: now, started: map[string]int{}, seen: map[string]bool{}}
}

// Start adds the dialogue's started event (id derived from the interaction id), or keeps
// the earlier of two in one payload.
func (b *Batch) Start(at time.Time, customer string, d *domain.StartedData, ext ...domain.Extension) error {
	ev, err := domain.NewEvent(EventID(b.provider, "started", d.InteractionID), domain.TypeInteractionStarted,
		at, customer, b.source, d, b.now, ext...)
	if err != nil {
		return err
	}
	if k, ok := b.started[d.InteractionID]; ok {
		if at.Before(b.events[k].OccurredAt) {
			b.events[k] = ev
		}
		return nil
	}
	b.started[d.InteractionID] = len(b.events)
	b.events = append(b.events, ev)
	return nil
}

// Add adds one event, unless this payload already gave one with that id.
func (b *Batch) Add(id string, t domain.EventType, at time.Time, customer string, p domain.Payload, ext ...domain.Extension) error {
	return b.add(id, t, at, customer, p, nil, ext)
}

// AddInferred adds one event preceded by the started it implies (WithInferredStarted):
// a receipt or reply of a dialogue whose opening message the ledger may never receive.
func (b *Batch) AddInferred(id string, t domain.EventType, at time.Time, customer string, p domain.Payload, started domain.StartedData, ext ...domain.Extension) error {
	return b.add(id, t, at, customer, p, &started, ext)
}

func (b *Batch) add(id string, t domain.EventType, at time.Time, customer string, p domain.Payload, started *domain.StartedData, ext []domain.Extension) error {
	if b.seen[id] {
		return nil
	}
	b.seen[id] = true
	ev, err := domain.NewEvent(id, t, at, customer, b.source, p, b.now, ext...)
	if err != nil {
		return err
	}
	if started == nil {
		b.events = append(b.events, ev)
		return nil
	}
	evs, err := WithInferredStarted(b.provider, ev, *started, at, b.now)
	if err != nil {
		return err
	}
	b.events = append(b.events, evs...)
	return nil
}

// Events returns what the batch collected, in payload order.
func (b *Batch) Events() []domain.Event { return b.events }
