package history

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
)

// An interaction's events are entries of their own, not a list inside its detail: a chat
// dialogue is one interaction per customer and day and takes any number of messages, and
// a list rewritten on every batch (and scanned for duplicates on every event) made one
// long dialogue slow the projector for everyone (issue 11, item 13: 0.10 → 0.69 ms per
// event at 7,000 messages). Each event costs two small inserts next to its interaction's
// others, whatever the dialogue's length.
//
//	events    handle(8) | occurred_at(8) | event id -> customer, type, source, data
//	          The detail's events in the fold's order (oldest first, ties by id), paged
//	          with a Seek. The customer is what erasure needs: an interaction that carried
//	          an erased customer and another keeps the other's events (refold). The
//	          interaction's handle (handles.go), not its id: the entries of recent
//	          interactions sit together at the end of the tree.
//	eventids  handle(8) | event id -> empty. Duplicate detection by key.
var (
	bEvents   = []byte("events")
	bEventIDs = []byte("eventids")
)

// eventEntry is one event of an interaction as stored.
type eventEntry struct {
	rec      domain.EventRecord
	customer string
}

// eventKey is the entry's key in bEvents of an event of the interaction whose handle is
// h; its part after the handle is the position that an events cursor names.
func eventKey(h []byte, at time.Time, eventID string) []byte {
	k := make([]byte, 0, 16+len(eventID))
	k = tsBytes(append(k, h...), at)
	return append(k, eventID...)
}

func eventIDKey(h []byte, eventID string) []byte {
	k := make([]byte, 0, 8+len(eventID))
	return append(append(k, h...), eventID...)
}

func (e *eventEntry) encode() []byte {
	b := make([]byte, 0, 16+len(e.customer)+len(e.rec.Type)+len(e.rec.Source)+len(e.rec.Data))
	b = appendStr(b, e.customer)
	b = appendStr(b, e.rec.Type)
	b = appendStr(b, e.rec.Source)
	return appendBytes(b, e.rec.Data)
}

// decodeEvent reads an entry of bEvents whose key follows prefix.
func decodeEvent(prefix, k, v []byte) (eventEntry, error) {
	pos := k[len(prefix):]
	if len(pos) < 8 {
		return eventEntry{}, errCorrupt
	}
	var e eventEntry
	e.rec.OccurredAt = time.Unix(0, tsNanos(pos)).UTC()
	e.rec.ID = string(pos[8:])
	d := decoder{b: v}
	e.customer = d.str()
	e.rec.Type = d.eventType()
	e.rec.Source = d.str()
	e.rec.Data = d.bytes()
	if d.err == nil && len(d.b) != 0 {
		return eventEntry{}, errCorrupt
	}
	return e, d.err
}

// event rebuilds the domain event of a stored entry (a refold after an erasure): the
// envelope is validated again as the stream's copy was, at its own time.
func (e *eventEntry) event() (domain.Event, error) {
	t, err := domain.ParseEventType(e.rec.Type)
	if err != nil {
		return domain.Event{}, err
	}
	raw, err := domain.Event{ID: e.rec.ID, Type: t, OccurredAt: e.rec.OccurredAt, CustomerID: e.customer,
		Source: e.rec.Source, Data: e.rec.Data}.Encode()
	if err != nil {
		return domain.Event{}, err
	}
	return domain.DecodeStored(raw, e.rec.OccurredAt)
}

// stub keeps, of an interaction's events, only what the fold reads of them: the earliest
// one's id and time (domain.Interaction's start before its started event arrives). The
// view checks duplicates against eventids itself, so the fold never scans a long list.
func stub(evs []domain.EventRecord) []domain.EventRecord {
	if len(evs) == 0 {
		return evs
	}
	evs[0] = domain.EventRecord{ID: evs[0].ID, OccurredAt: evs[0].OccurredAt}
	return evs[:1:1]
}

// deleteEvents removes every event entry of the interaction id (handle h), and its
// action sequences.
func deleteEvents(tx *bolt.Tx, id string, h []byte) error {
	for _, del := range []struct {
		b      *bolt.Bucket
		prefix []byte
	}{{tx.Bucket(bEvents), h}, {tx.Bucket(bEventIDs), h}, {tx.Bucket(bActionSeqs), actionsPrefix(id)}} {
		var keys [][]byte
		c := del.b.Cursor()
		for k, _ := c.Seek(del.prefix); k != nil && bytes.HasPrefix(k, del.prefix); k, _ = c.Next() {
			keys = append(keys, slices.Clone(k))
		}
		if err := deleteSorted(del.b, keys); err != nil {
			return err
		}
	}
	return nil
}

// EventsPage asks for one page of a detail's events (GET /v1/interactions/{id}
// ?events_cursor=&events_limit=).
type EventsPage struct {
	// Cursor is the previous page's events_next_cursor; "" for the first page.
	Cursor string
	// Limit is the page's size: default DefaultEventsLimit, at most MaxEventsLimit.
	Limit int
}

// Bounds of EventsPage.Limit.
const (
	DefaultEventsLimit = 100
	MaxEventsLimit     = 1000
)

// ParseEventsPage reads events_cursor and events_limit; a bad value is a *QueryError
// naming the parameter.
func ParseEventsPage(v url.Values) (EventsPage, error) {
	ep := EventsPage{Cursor: v.Get("events_cursor")}
	if s := v.Get("events_limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxEventsLimit {
			return ep, qerr("events_limit", "%q is not a number from 1 to %d", clip(s), MaxEventsLimit)
		}
		ep.Limit = n
	}
	if _, err := ep.position(); err != nil {
		return ep, err
	}
	return ep, nil
}

// position decodes the cursor: the key suffix (occurred_at | event id) of the last event
// of the previous page.
func (ep EventsPage) position() ([]byte, error) {
	if ep.Cursor == "" {
		return nil, nil
	}
	pos, err := base64.RawURLEncoding.DecodeString(ep.Cursor)
	if err != nil || len(pos) < 9 {
		return nil, qerr("events_cursor", "%q is not a cursor of this API", clip(ep.Cursor))
	}
	return pos, nil
}

// readEvents returns one page of the interaction's events, oldest first, and the cursor
// of the next page ("" on the last).
func readEvents(tx *bolt.Tx, h []byte, ep EventsPage) ([]domain.EventRecord, string, error) {
	pos, err := ep.position()
	if err != nil {
		return nil, "", err
	}
	limit := ep.Limit
	if limit <= 0 {
		limit = DefaultEventsLimit
	}
	limit = min(limit, MaxEventsLimit)
	p := h
	c := tx.Bucket(bEvents).Cursor()
	start := append(slices.Clip(p), pos...)
	k, v := c.Seek(start)
	if pos != nil && bytes.Equal(k, start) {
		k, v = c.Next()
	}
	out := []domain.EventRecord{}
	for ; k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if len(out) == limit {
			last := out[len(out)-1]
			next := tsBytes(nil, last.OccurredAt)
			return out, base64.RawURLEncoding.EncodeToString(append(next, last.ID...)), nil
		}
		e, err := decodeEvent(p, k, v)
		if err != nil {
			return nil, "", fmt.Errorf("interaction with handle %x: event: %w", h, err)
		}
		out = append(out, e.rec)
	}
	return out, "", nil
}
