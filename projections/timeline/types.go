package timeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/interaction-ledger/ledger/domain"
)

// Kind is the kind of a timeline item (CONTRACT.md §4). Parse one with ParseKind.
type Kind string

// The timeline's kinds.
const (
	KindCall    Kind = "call"
	KindEmail   Kind = "email"
	KindSMS     Kind = "sms"
	KindChat    Kind = "chat"
	KindOrder   Kind = "order"
	KindSegment Kind = "segment"
	KindTask    Kind = "task"
	KindNote    Kind = "note"
	KindFile    Kind = "file"
	KindVisit   Kind = "visit"
	KindCard    Kind = "card"
)

// Kinds lists every kind, in the order the card shows them.
func Kinds() []Kind {
	return []Kind{KindCall, KindEmail, KindSMS, KindChat, KindOrder, KindSegment, KindTask, KindNote, KindFile, KindVisit, KindCard}
}

// kindBytes maps a kind to the byte that stands for it in keys. WARNING: changing a byte
// makes existing files unreadable; rebuild the view.
var kindBytes = map[Kind]byte{
	KindCall: 'c', KindEmail: 'e', KindSMS: 's', KindChat: 'h', KindOrder: 'o', KindSegment: 'g',
	KindTask: 't', KindNote: 'n', KindFile: 'f', KindVisit: 'v', KindCard: 'd',
}

// Pseudo-kinds of the expiry bucket: not listed in the timeline.
const (
	kbTaskState  byte = 'T' // a task record, at its latest event
	kbUnindexed  byte = 'u' // an interaction whose flow is not known yet, at its start
	kbNone       byte = 0
	maxAliasHops      = 8
)

// byteKinds is kindBytes reversed, for the hot path.
var byteKinds = func() (out [256]Kind) {
	for k, b := range kindBytes {
		out[b] = k
	}
	return out
}()

func kindOfByte(b byte) (Kind, bool) {
	k := byteKinds[b]
	return k, k != ""
}

func isInteractionByte(b byte) bool { return interactionBytes[b] }

// hasRef reports whether items of the kind are keyed by their own id (latest event wins)
// and tracked in the refs bucket.
func hasRef(b byte) bool { return refBytes[b] }

// interactionBytes and refBytes are isInteractionByte's and hasRef's answers, looked up
// for every row a card scans.
var interactionBytes, refBytes = func() (inter, ref [256]bool) {
	for _, k := range []Kind{KindCall, KindEmail, KindSMS, KindChat} {
		inter[kindBytes[k]] = true
	}
	inter[kbUnindexed] = true
	for _, k := range []Kind{KindNote, KindFile, KindVisit} {
		ref[kindBytes[k]] = true
	}
	return inter, ref
}()

// KindError reports a kind that is not one of Kinds().
type KindError struct{ Value string }

func (e *KindError) Error() string {
	names := make([]string, 0, len(kindBytes))
	for _, k := range Kinds() {
		names = append(names, string(k))
	}
	return fmt.Sprintf("unknown kind %q (allowed: %s)", e.Value, strings.Join(names, ", "))
}

// ParseKind returns the kind named s, or a *KindError naming s.
func ParseKind(s string) (Kind, error) {
	if _, ok := kindBytes[Kind(s)]; ok {
		return Kind(s), nil
	}
	return "", &KindError{Value: s}
}

// kindOfFlow is the timeline kind of an interaction: voice is a call, messaging flows are
// chats (CONTRACT.md §4).
func kindOfFlow(f domain.Flow) (Kind, bool) {
	switch {
	case f == domain.FlowVoice:
		return KindCall, true
	case f == domain.FlowEmail:
		return KindEmail, true
	case f == domain.FlowSMS:
		return KindSMS, true
	case f.IsMessaging():
		return KindChat, true
	}
	return "", false
}

// ErrBadCursor is returned by Timeline for a cursor it did not write.
var ErrBadCursor = errors.New("malformed cursor")

// Item is one entry of the timeline. Kind says which of the field groups below it fills;
// the others are left empty and omitted from JSON.
type Item struct {
	Kind       string    `json:"kind"`
	OccurredAt time.Time `json:"occurred_at"`

	// Interactions (call, email, sms, chat).
	InteractionID string     `json:"interaction_id,omitempty"`
	Flow          string     `json:"flow,omitempty"`
	Direction     string     `json:"direction,omitempty"`
	Reason        string     `json:"reason,omitempty"`
	AgentID       string     `json:"agent_id,omitempty"`
	EndedAt       *time.Time `json:"ended_at,omitempty"`
	MessageCount  int        `json:"message_count,omitempty"` // chat: always written
	OpenedAt      *time.Time `json:"opened_at,omitempty"`     // email: always written, null until the first open
	OpenCount     int        `json:"open_count,omitempty"`    // email: always written
	ClickedAt     *time.Time `json:"clicked_at,omitempty"`    // email: always written, null until the first click
	ClickCount    int        `json:"click_count,omitempty"`   // email: always written

	// Shared: an interaction's, an order's or a task's status; what an order, segment or
	// task event did; an order's or the card's field changes; a segment's or file's name.
	// Changes is the JSON object of field -> domain.Change, as stored (ChangeMap reads
	// it): a card read hands it on as it is, not decoded and encoded again per item.
	Status  string          `json:"status,omitempty"`
	Action  string          `json:"action,omitempty"`
	Changes json.RawMessage `json:"changes,omitempty"`
	Name    string          `json:"name,omitempty"`

	// Order.
	OrderID  string      `json:"order_id,omitempty"`
	Total    json.Number `json:"total,omitempty"`
	Currency string      `json:"currency,omitempty"`

	// Segment.
	SegmentID string `json:"segment_id,omitempty"`

	// Task.
	TaskID     string     `json:"task_id,omitempty"`
	Title      string     `json:"title,omitempty"`
	DueAt      *time.Time `json:"due_at,omitempty"`
	AssigneeID string     `json:"assignee_id,omitempty"`

	// Note.
	NoteID   string `json:"note_id,omitempty"`
	Text     string `json:"text,omitempty"`
	AuthorID string `json:"author_id,omitempty"`

	// File.
	FileID      string `json:"file_id,omitempty"`
	Size        int64  `json:"size,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	URL         string `json:"url,omitempty"`

	// Visit. Pages is the number of pages seen.
	VisitID   string `json:"visit_id,omitempty"`
	Source    string `json:"source,omitempty"`
	Channel   string `json:"channel,omitempty"`
	DurationS int64  `json:"duration_s,omitempty"`
	Pages     int    `json:"pages,omitempty"`

	// from is the customer whose event put the item there, when it is not the customer
	// it is filed under (an event addressed to a merged id, or an item a merge moved):
	// what an erasure of that merged id removes. Stored, never shown.
	from string
}

type itemFields Item // Item without its MarshalJSON

// itemJSON is an item as the API writes it: the fields a kind always writes are non-nil
// pointers (a nil **time.Time still writes "opened_at": null), and they shadow the
// embedded omitempty ones of the same name.
type itemJSON struct {
	itemFields
	MessageCount *int        `json:"message_count,omitempty"`
	OpenedAt     **time.Time `json:"opened_at,omitempty"`
	OpenCount    *int        `json:"open_count,omitempty"`
	ClickedAt    **time.Time `json:"clicked_at,omitempty"`
	ClickCount   *int        `json:"click_count,omitempty"`
}

// forJSON returns it in its wire form; the pointers point into it.
func (it *Item) forJSON() itemJSON {
	j := itemJSON{itemFields: itemFields(*it)}
	switch Kind(it.Kind) {
	case KindEmail:
		j.OpenedAt, j.OpenCount, j.ClickedAt, j.ClickCount = &it.OpenedAt, &it.OpenCount, &it.ClickedAt, &it.ClickCount
	case KindChat:
		j.MessageCount = &it.MessageCount
	}
	return j
}

// MarshalJSON writes the item's own fields; an email always has opened_at and
// clicked_at (null until opened, clicked), open_count and click_count, a chat always has
// message_count.
func (it Item) MarshalJSON() ([]byte, error) {
	return json.Marshal(it.forJSON())
}

// PageJSON is a Page as the API writes it (Page.JSON).
type PageJSON struct {
	Items      []itemJSON `json:"items"`
	NextCursor string     `json:"next_cursor"`
}

// JSON returns the page in a form that encodes to the same bytes as the page itself, but
// without a MarshalJSON per item: an encoder parses again whatever a MarshalJSON returns,
// and encoding a page of 50 items that way was two fifths of a timeline request's CPU.
// The result points into p.
func (p *Page) JSON() PageJSON {
	out := PageJSON{Items: make([]itemJSON, len(p.Items)), NextCursor: p.NextCursor}
	for i := range p.Items {
		out.Items[i] = p.Items[i].forJSON()
	}
	return out
}

// ChangeMap decodes Changes (nil when there are none).
func (it Item) ChangeMap() (map[string]domain.Change, error) {
	if len(it.Changes) == 0 {
		return nil, nil
	}
	var m map[string]domain.Change
	if err := json.Unmarshal(it.Changes, &m); err != nil {
		return nil, fmt.Errorf("item changes: %w", err)
	}
	return m, nil
}

// changesJSON is the stored form of an event's changes (nil for none): encoding/json
// writes a map's keys sorted, so the same changes give the same bytes.
func changesJSON(m map[string]domain.Change) (json.RawMessage, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode changes: %w", err)
	}
	return b, nil
}

// Page is one page of the timeline; NextCursor is empty on the last page.
type Page struct {
	Items      []Item `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// Card is the summary at the top of the customer card.
type Card struct {
	CustomerID string `json:"customer_id"`
	// LastEmail is the last email SENT to the customer (outgoing), the one the product
	// asks about; nil when none was sent.
	LastEmail *Item `json:"last_email"`
	// LastEmailOpened tells whether the customer opened LastEmail.
	LastEmailOpened bool `json:"last_email_opened"`
	// MergedFrom lists the customers merged into this one, sorted.
	MergedFrom []string `json:"merged_from,omitempty"`
	// Counts holds the number of timeline items of every kind (zero included).
	Counts map[string]int `json:"counts"`
}

// Chat is a row of the Chats tab: one messaging dialogue.
type Chat struct {
	InteractionID string    `json:"interaction_id"`
	StartedAt     time.Time `json:"started_at"`
	Status        string    `json:"status"` // the interaction's status, or "open" until it ends
	MessageCount  int       `json:"message_count"`
	Channel       string    `json:"channel"` // where the customer first wrote: the flow
}

// Task is a row of the Tasks tab and the state task commands check.
type Task struct {
	TaskID     string     `json:"task_id"`
	Title      string     `json:"title"`
	Status     string     `json:"status"` // pending, completed (deleted: only from View.Task)
	DueAt      *time.Time `json:"due_at"`
	AssigneeID string     `json:"assignee_id"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	// LastSeq is the stream sequence of the task's last event on its keyed subject, for
	// the customer id it was asked with: the next command's expected last subject
	// sequence (0: none).
	LastSeq uint64 `json:"-"`
}

// Visit is a row of the Visits tab.
type Visit struct {
	VisitID    string    `json:"visit_id"`
	Source     string    `json:"source"`
	Channel    string    `json:"channel"`
	DurationS  int64     `json:"duration_s"`
	Pages      int       `json:"pages"`
	OccurredAt time.Time `json:"occurred_at"`
}

// SegmentChange is a row of the Segments tab.
type SegmentChange struct {
	SegmentID  string    `json:"segment_id"`
	Name       string    `json:"name"`
	Action     string    `json:"action"` // joined, left
	OccurredAt time.Time `json:"occurred_at"`
}
