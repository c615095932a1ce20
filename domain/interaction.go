package domain

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Stamp orders the events that set a field: later OccurredAt wins, ties broken by the
// greater event id (CONTRACT.md §2), so the fold is the same whatever the arrival order.
type Stamp struct {
	At time.Time `json:"at"`
	ID string    `json:"id"`
}

// After reports whether s is later than o in the fold's order.
func (s Stamp) After(o Stamp) bool {
	if !s.At.Equal(o.At) {
		return s.At.After(o.At)
	}
	return s.ID > o.ID
}

// IsZero reports whether no event has set the field yet.
func (s Stamp) IsZero() bool { return s.ID == "" }

// EventRecord is one event of an interaction as the detail shows it.
type EventRecord struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	OccurredAt time.Time       `json:"occurred_at"`
	Source     string          `json:"source,omitempty"`
	Data       json.RawMessage `json:"data"`
}

// Link is the last word on one CRM record or case: assigned or unassigned, and when.
// Each record is decided on its own, so unassigning one record never clears another.
type Link struct {
	ID       string `json:"id"`
	Assigned bool   `json:"assigned"`
	Stamp    Stamp  `json:"stamp"`
}

// keyed is an entry of the lists an interaction keeps one per key, sorted by key, the
// latest stamp winning: links, surveys, invoices.
type keyed interface {
	key() string
	stamp() Stamp
}

func (l Link) key() string     { return l.ID }
func (l Link) stamp() Stamp    { return l.Stamp }
func (v Invoice) key() string  { return v.InvoiceID }
func (v Invoice) stamp() Stamp { return v.Stamp }
func (s Survey) key() string   { return s.SurveyID }
func (s Survey) stamp() Stamp  { return s.Stamp }

// upsert puts v in list at its key's place, or replaces the entry of its key when v's
// stamp is later: the same list in any order of events.
func upsert[T keyed](list []T, v T) []T {
	k, found := slices.BinarySearchFunc(list, v.key(), func(e T, key string) int { return strings.Compare(e.key(), key) })
	if !found {
		return slices.Insert(list, k, v)
	}
	if v.stamp().After(list[k].stamp()) {
		list[k] = v
	}
	return list
}

// currentLink is the assigned link with the latest stamp, or "".
func currentLink(links []Link) string {
	var best *Link
	for k := range links {
		if links[k].Assigned && (best == nil || links[k].Stamp.After(best.Stamp)) {
			best = &links[k]
		}
	}
	if best == nil {
		return ""
	}
	return best.ID
}

// Invoice is one invoice issued, or payment created, during an interaction (the
// detail's Invoices tab). AgentID is who created it, when an agent did.
type Invoice struct {
	InvoiceID string      `json:"invoice_id"`
	Amount    json.Number `json:"amount,omitempty"`
	Currency  string      `json:"currency,omitempty"`
	Status    string      `json:"status,omitempty"`
	Reference string      `json:"reference,omitempty"`
	AgentID   string      `json:"agent_id,omitempty"`
	Stamp     Stamp       `json:"stamp"`
}

// Survey is one survey's answers.
type Survey struct {
	SurveyID string         `json:"survey_id"`
	Answers  []SurveyAnswer `json:"answers"`
	Stamp    Stamp          `json:"stamp"`
}

// Interaction is the folded state of one interaction: every column of the History of
// interactions and every part of its detail. Build it with Apply, event by event, in any
// order; the fields with their Stamps are stored by the history view and read back as they
// are (rehydration needs no validation: only Apply writes them).
type Interaction struct {
	ID              string          `json:"id"`
	CustomerID      string          `json:"customer_id"`
	StartAt         time.Time       `json:"start_at"`
	EndAt           time.Time       `json:"end_at"`
	Flow            Flow            `json:"flow"`
	Status          Status          `json:"status"`
	Reason          string          `json:"reason,omitempty"`
	Direction       Direction       `json:"direction"`
	OriginalRouting Routing         `json:"original_routing"`
	CurrentRouting  Routing         `json:"current_routing"`
	AgentID         string          `json:"agent_id,omitempty"`
	QueueID         string          `json:"queue_id,omitempty"`
	Agents          []string        `json:"agents,omitempty"` // every agent who handled it, sorted
	Queues          []string        `json:"queues,omitempty"` // every queue it passed, sorted
	Contact         Contact         `json:"contact"`
	VoiceCampaign   string          `json:"voice_campaign,omitempty"`
	Template        string          `json:"template,omitempty"`
	Participants    []Participant   `json:"participants,omitempty"`
	SRData          json.RawMessage `json:"sr_data,omitempty"`
	CRMRecord       string          `json:"crm_record,omitempty"` // the assigned record linked last
	Case            string          `json:"case,omitempty"`       // the assigned case linked last
	CRMLinks        []Link          `json:"crm_links,omitempty"`
	CaseLinks       []Link          `json:"case_links,omitempty"`
	Qualifications  []string        `json:"qualifications,omitempty"`
	Surveys         []Survey        `json:"surveys,omitempty"`
	Invoices        []Invoice       `json:"invoices,omitempty"`
	MessageCount    int             `json:"message_count,omitempty"`
	OpenedAt        time.Time       `json:"opened_at,omitempty"`
	OpenCount       int             `json:"open_count,omitempty"`
	ClickedAt       time.Time       `json:"clicked_at,omitempty"` // the first click of a link of the e-mail
	ClickCount      int             `json:"click_count,omitempty"`
	Events          []EventRecord   `json:"events"` // oldest first; ids unique

	Stamps InteractionStamps `json:"stamps"`
}

// InteractionStamps records which event last set each group of fields.
type InteractionStamps struct {
	Started   Stamp `json:"started"`
	Current   Stamp `json:"current"`
	Ended     Stamp `json:"ended"`
	Customer  Stamp `json:"customer"`
	SRData    Stamp `json:"sr_data"`
	Qualified Stamp `json:"qualified"`
}

// Visibility returns what the access rules look at.
func (i *Interaction) Visibility() Visibility {
	return Visibility{Agents: i.Agents, Queues: i.Queues, OriginalRouting: i.OriginalRouting, Flow: i.Flow, CurrentAgent: i.AgentID}
}

// HasEvent reports whether the event id was already folded in.
func (i *Interaction) HasEvent(id string) bool {
	for _, e := range i.Events {
		if e.ID == id {
			return true
		}
	}
	return false
}

// Apply folds one event of this interaction into the state. It returns false, changing
// nothing, for an event already applied (same id) or one that is not an interaction
// event. The result does not depend on the order in which events are applied.
func (i *Interaction) Apply(ev Event) bool {
	ref, ok := ev.Payload.(InteractionRef)
	if !ok || i.HasEvent(ev.ID) {
		return false
	}
	if i.ID == "" {
		i.ID = ref.InteractionKey()
	}
	st := Stamp{At: ev.OccurredAt, ID: ev.ID}
	rec := EventRecord{ID: ev.ID, Type: ev.Type.String(), OccurredAt: ev.OccurredAt, Source: ev.Source, Data: ev.Data}
	pos := sort.Search(len(i.Events), func(k int) bool {
		e := i.Events[k]
		return Stamp{At: e.OccurredAt, ID: e.ID}.After(st)
	})
	i.Events = slices.Insert(i.Events, pos, rec)

	if st.After(i.Stamps.Customer) {
		i.CustomerID, i.Stamps.Customer = ev.CustomerID, st
	}
	switch d := ev.Payload.(type) {
	case *StartedData:
		switch {
		case d.Inferred:
			// An adapter's inference from another event: it fills the started fields only
			// while no real started is known, and sets no stamp, so a real started (earlier
			// or later) always replaces it. An adapter infers the same fields from every
			// event of one interaction, so the inferences' order does not matter either.
			if i.Stamps.Started.IsZero() {
				i.Flow, i.Direction, i.OriginalRouting = d.Flow, d.Direction, d.Routing
				i.Contact, i.VoiceCampaign, i.Template, i.Participants = d.Contact, d.VoiceCampaign, d.Template, d.Participants
			}
		case st.After(i.Stamps.Started):
			i.Stamps.Started = st
			i.Flow, i.Direction, i.OriginalRouting = d.Flow, d.Direction, d.Routing
			i.Contact, i.VoiceCampaign, i.Template, i.Participants = d.Contact, d.VoiceCampaign, d.Template, d.Participants
		}
		i.setCurrent(st, d.Routing, d.QueueID, d.AgentID)
	case *RoutedData:
		i.setCurrent(st, d.Routing, d.QueueID, d.AgentID)
		if d.SRData != nil && st.After(i.Stamps.SRData) {
			i.SRData, i.Stamps.SRData = d.SRData, st
		}
	case *MessageData:
		i.MessageCount++
	case *EndedData:
		if st.After(i.Stamps.Ended) {
			i.Stamps.Ended = st
			i.Status, i.Reason, i.EndAt = d.Status, d.Reason, ev.OccurredAt
		}
	case *LinkedData:
		if d.CRMRecordID != "" {
			i.CRMLinks = upsert(i.CRMLinks, Link{ID: d.CRMRecordID, Assigned: d.Action == LinkAssigned, Stamp: st})
			i.CRMRecord = currentLink(i.CRMLinks)
		}
		if d.CaseID != "" {
			i.CaseLinks = upsert(i.CaseLinks, Link{ID: d.CaseID, Assigned: d.Action == LinkAssigned, Stamp: st})
			i.Case = currentLink(i.CaseLinks)
		}
	case *QualifiedData:
		if st.After(i.Stamps.Qualified) {
			i.Qualifications, i.Stamps.Qualified = d.Qualifications, st
		}
	case *SurveyData:
		i.Surveys = upsert(i.Surveys, Survey{SurveyID: d.SurveyID, Answers: d.Answers, Stamp: st})
	case *InvoiceData:
		i.Invoices = upsert(i.Invoices, Invoice{InvoiceID: d.InvoiceID, Amount: d.Amount, Currency: d.Currency,
			Status: d.Status, Reference: d.Reference, AgentID: d.AgentID, Stamp: st})
	case *OpenedData:
		i.OpenCount++
		keepEarliest(&i.OpenedAt, ev.OccurredAt)
	case *ClickedData:
		i.ClickCount++
		keepEarliest(&i.ClickedAt, ev.OccurredAt)
	}
	i.StartAt = i.startAt()
	return true
}

// keepEarliest sets *first to at when at is earlier (or *first is unset): the first open
// or click, whichever of them arrived first.
func keepEarliest(first *time.Time, at time.Time) {
	if first.IsZero() || at.Before(*first) {
		*first = at
	}
}

// startAt is the started event's time, or, until it arrives, the earliest event's.
func (i *Interaction) startAt() time.Time {
	if !i.Stamps.Started.IsZero() {
		return i.Stamps.Started.At
	}
	if len(i.Events) > 0 {
		return i.Events[0].OccurredAt
	}
	return time.Time{}
}

func (i *Interaction) setCurrent(st Stamp, r Routing, queue, agent string) {
	if agent != "" {
		i.Agents = addSorted(i.Agents, agent)
	}
	if queue != "" {
		i.Queues = addSorted(i.Queues, queue)
	}
	if st.After(i.Stamps.Current) {
		i.Stamps.Current = st
		i.CurrentRouting, i.QueueID, i.AgentID = r, queue, agent
	}
}

func addSorted(s []string, v string) []string {
	k, found := slices.BinarySearch(s, v)
	if found {
		return s
	}
	return slices.Insert(s, k, v)
}

// Clone returns a copy of i that shares no slice with it: Apply on either leaves the
// other as it was.
func (i *Interaction) Clone() Interaction {
	c := *i
	c.Agents, c.Queues = slices.Clone(i.Agents), slices.Clone(i.Queues)
	c.Participants = slices.Clone(i.Participants)
	c.CRMLinks, c.CaseLinks = slices.Clone(i.CRMLinks), slices.Clone(i.CaseLinks)
	c.Qualifications = slices.Clone(i.Qualifications)
	c.Surveys, c.Invoices = slices.Clone(i.Surveys), slices.Clone(i.Invoices)
	c.Events = slices.Clone(i.Events)
	return c
}

// OverlapError reports a Merge of two folds that both hold the same event: its counts
// (messages, opens, clicks) would be counted twice.
type OverlapError struct {
	InteractionID, EventID string
}

func (e *OverlapError) Error() string {
	return fmt.Sprintf("merge folds of interaction %s: event %s is in both", e.InteractionID, e.EventID)
}

// Merge folds o, the fold of other events of the same interaction, into i: the result is
// the fold of both sets of events, as Apply of all of them in any order would give (the
// fold keeps only stamps, maxima, sets and counts, so two partial folds combine). It lets
// a view that keeps one partial fold per customer fold an interaction again without one
// customer's events (an erasure). The two must hold no event in common (*OverlapError,
// i unchanged).
func (i *Interaction) Merge(o *Interaction) error {
	if i.ID != "" && o.ID != "" && i.ID != o.ID {
		return fmt.Errorf("merge folds: interaction %s with interaction %s", i.ID, o.ID)
	}
	for _, e := range o.Events {
		if i.HasEvent(e.ID) {
			return &OverlapError{InteractionID: cmp.Or(i.ID, o.ID), EventID: e.ID}
		}
	}
	if i.ID == "" {
		i.ID = o.ID
	}
	i.Events = mergeEvents(i.Events, o.Events)
	if o.Stamps.Customer.After(i.Stamps.Customer) {
		i.CustomerID, i.Stamps.Customer = o.CustomerID, o.Stamps.Customer
	}
	// A real started beats an inference; two inferences carry the same fields (Apply).
	if o.Stamps.Started.After(i.Stamps.Started) || i.Stamps.Started.IsZero() && o.Stamps.Started.IsZero() && i.Flow == (Flow{}) {
		i.Stamps.Started = o.Stamps.Started
		i.Flow, i.Direction, i.OriginalRouting = o.Flow, o.Direction, o.OriginalRouting
		i.Contact, i.VoiceCampaign, i.Template, i.Participants = o.Contact, o.VoiceCampaign, o.Template, slices.Clone(o.Participants)
	}
	for _, a := range o.Agents {
		i.Agents = addSorted(i.Agents, a)
	}
	for _, q := range o.Queues {
		i.Queues = addSorted(i.Queues, q)
	}
	if o.Stamps.Current.After(i.Stamps.Current) {
		i.Stamps.Current = o.Stamps.Current
		i.CurrentRouting, i.QueueID, i.AgentID = o.CurrentRouting, o.QueueID, o.AgentID
	}
	if o.Stamps.SRData.After(i.Stamps.SRData) {
		i.SRData, i.Stamps.SRData = o.SRData, o.Stamps.SRData
	}
	if o.Stamps.Ended.After(i.Stamps.Ended) {
		i.Stamps.Ended = o.Stamps.Ended
		i.Status, i.Reason, i.EndAt = o.Status, o.Reason, o.EndAt
	}
	if len(o.CRMLinks) > 0 {
		for _, l := range o.CRMLinks {
			i.CRMLinks = upsert(i.CRMLinks, l)
		}
		i.CRMRecord = currentLink(i.CRMLinks)
	}
	if len(o.CaseLinks) > 0 {
		for _, l := range o.CaseLinks {
			i.CaseLinks = upsert(i.CaseLinks, l)
		}
		i.Case = currentLink(i.CaseLinks)
	}
	if o.Stamps.Qualified.After(i.Stamps.Qualified) {
		i.Qualifications, i.Stamps.Qualified = slices.Clone(o.Qualifications), o.Stamps.Qualified
	}
	for _, s := range o.Surveys {
		i.Surveys = upsert(i.Surveys, s)
	}
	for _, v := range o.Invoices {
		i.Invoices = upsert(i.Invoices, v)
	}
	i.MessageCount += o.MessageCount
	i.OpenCount += o.OpenCount
	i.ClickCount += o.ClickCount
	if !o.OpenedAt.IsZero() {
		keepEarliest(&i.OpenedAt, o.OpenedAt)
	}
	if !o.ClickedAt.IsZero() {
		keepEarliest(&i.ClickedAt, o.ClickedAt)
	}
	i.StartAt = i.startAt()
	return nil
}

// mergeEvents returns the events of a and b (each sorted by stamp, no id in both) in
// stamp order, as Apply keeps them.
func mergeEvents(a, b []EventRecord) []EventRecord {
	if len(b) == 0 {
		return a
	}
	out := make([]EventRecord, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if (Stamp{At: a[0].OccurredAt, ID: a[0].ID}).After(Stamp{At: b[0].OccurredAt, ID: b[0].ID}) {
			out, b = append(out, b[0]), b[1:]
		} else {
			out, a = append(out, a[0]), a[1:]
		}
	}
	return append(append(out, a...), b...)
}
