package webhooks

import (
	"time"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/domain/contact"
)

// Call is one call as a PBX's call detail record tells it (Asterisk, FreeSWITCH). Each
// adapter reads its own field names and disposition rules into it; CallEvents maps it
// the same way for both.
type Call struct {
	// InteractionID is the call's id (every leg of one call shares it).
	InteractionID string
	// Key identifies the record; the event ids derive from it and the event kind.
	Key []string
	// Start and End bound the record's leg.
	Start, End time.Time
	// Direction is the call's; Number is the customer side's number, as written.
	Direction domain.Direction
	Number    string
	// AgentID is the agent-side extension; QueueID the queue that routed the call
	// (routing smart), if any.
	AgentID, QueueID string
	// Answered tells processed from aborted; Reason is why an unanswered call ended.
	Answered bool
	Reason   string
}

// CallEvents are a call record's customer, started data and events.
type CallEvents struct {
	CustomerID string
	Started    domain.StartedData
	// StartedEvent and EndedEvent are the record's interaction.started and
	// interaction.ended.
	StartedEvent, EndedEvent domain.Event
}

// CallEvents maps a call record of provider: the customer is the number's contact key
// (mapped by MapCustomer), the routing smart when a queue routed the call, else direct;
// an answered call is processed, any other aborted with its reason. ok is false for a
// number that is no possible phone number in region (an internal or anonymous call:
// no customer, nothing recorded).
func (o Options) CallEvents(provider, region string, c Call, now time.Time) (ev CallEvents, ok bool, err error) {
	e164, ok := contact.Phone(c.Number, region)
	if !ok {
		return CallEvents{}, false, nil
	}
	ev.CustomerID = o.Customer(contact.PhoneKey(e164))
	ev.Started = domain.StartedData{InteractionID: c.InteractionID, Flow: domain.FlowVoice, Direction: c.Direction,
		Routing: domain.RoutingDirect, AgentID: c.AgentID, Contact: domain.Contact{Phone: e164}}
	if c.QueueID != "" {
		ev.Started.Routing, ev.Started.QueueID = domain.RoutingSmart, c.QueueID
	}
	ed := &domain.EndedData{InteractionID: c.InteractionID, Status: domain.StatusProcessed}
	if !c.Answered {
		ed.Status, ed.Reason = domain.StatusAborted, domain.FitText(c.Reason, domain.MaxTextBytes)
	}
	id := func(kind string) string { return EventID(provider, append(c.Key[:len(c.Key):len(c.Key)], kind)...) }
	sd := ev.Started
	if ev.StartedEvent, err = domain.NewEvent(id("started"), domain.TypeInteractionStarted, c.Start, ev.CustomerID, o.Source, &sd, now); err != nil {
		return CallEvents{}, true, err
	}
	if ev.EndedEvent, err = domain.NewEvent(id("ended"), domain.TypeInteractionEnded, c.End, ev.CustomerID, o.Source, ed, now); err != nil {
		return CallEvents{}, true, err
	}
	return ev, true, nil
}
