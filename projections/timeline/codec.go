package timeline

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/interaction-ledger/ledger/domain"
)

// The stored values are a small binary encoding, not JSON: the tabs decode hundreds of
// rows per request, and encoding/json (times as text, reflection) was most of their cost
// (BenchmarkTabs). Each value starts with a format byte; fields follow in a fixed order:
// strings as uvarint length + bytes, numbers as varints, times as Unix nanoseconds (0 for
// none). WARNING: changing an order or a field means a new format byte or a rebuild.
//
// Format 2 of items and interactions appends an e-mail's first click and click count
// (email.clicked); format 1 values are still read (no click). Format 3 of interactions
// appends the per-customer parts of an interaction that carried several customers.
const (
	fmtItem        byte = 2
	fmtInteraction byte = 3
	fmtTask        byte = 1
)

var errShort = errors.New("stored value too short")

type enc struct{ b []byte }

func (e *enc) str(s string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *enc) int(n int64) { e.b = binary.AppendVarint(e.b, n) }

func (e *enc) time(t time.Time) {
	if t.IsZero() {
		e.int(0)
		return
	}
	e.int(t.UnixNano())
}

func (e *enc) ptime(t *time.Time) {
	if t == nil {
		e.int(0)
		return
	}
	e.time(*t)
}

func (e *enc) stamp(s domain.Stamp) {
	e.time(s.At)
	e.str(s.ID)
}

type dec struct {
	b   []byte
	err error
}

func (d *dec) str() string {
	n, k := binary.Uvarint(d.b)
	if k <= 0 || uint64(len(d.b)-k) < n {
		d.fail()
		return ""
	}
	s := string(d.b[k : k+int(n)])
	d.b = d.b[k+int(n):]
	return s
}

func (d *dec) skip() {
	n, k := binary.Uvarint(d.b)
	if k <= 0 || uint64(len(d.b)-k) < n {
		d.fail()
		return
	}
	d.b = d.b[k+int(n):]
}

func (d *dec) int() int64 {
	n, k := binary.Varint(d.b)
	if k <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[k:]
	return n
}

func (d *dec) time() time.Time {
	n := d.int()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func (d *dec) ptime() *time.Time {
	t := d.time()
	if t.IsZero() {
		return nil
	}
	return &t
}

func (d *dec) stamp() domain.Stamp { return domain.Stamp{At: d.time(), ID: d.str()} }

func (d *dec) fail() {
	if d.err == nil {
		d.err = errShort
	}
	d.b = nil
}

// version reads the format byte: 1 to latest, or fails (0).
func (d *dec) version(latest byte, what string) byte {
	if len(d.b) == 0 || d.b[0] < 1 || d.b[0] > latest {
		d.err = fmt.Errorf("stored %s: unknown format", what)
		d.b = nil
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func encodeItem(it *Item) []byte {
	e := enc{b: make([]byte, 0, 128)}
	e.b = append(e.b, fmtItem)
	e.str(it.Kind)
	e.time(it.OccurredAt)
	for _, s := range []string{it.InteractionID, it.Flow, it.Direction, it.Reason, it.AgentID} {
		e.str(s)
	}
	e.ptime(it.EndedAt)
	e.int(int64(it.MessageCount))
	e.ptime(it.OpenedAt)
	e.int(int64(it.OpenCount))
	e.str(it.Status)
	e.str(it.Action)
	e.str(string(it.Changes)) // the JSON object as changesJSON wrote it
	for _, s := range []string{it.Name, it.OrderID, string(it.Total), it.Currency, it.SegmentID, it.TaskID, it.Title} {
		e.str(s)
	}
	e.ptime(it.DueAt)
	for _, s := range []string{it.AssigneeID, it.NoteID, it.Text, it.AuthorID, it.FileID} {
		e.str(s)
	}
	e.int(it.Size)
	for _, s := range []string{it.ContentType, it.URL, it.VisitID, it.Source, it.Channel} {
		e.str(s)
	}
	e.int(it.DurationS)
	e.int(int64(it.Pages))
	e.ptime(it.ClickedAt)
	e.int(int64(it.ClickCount))
	return e.b
}

func decodeItem(b []byte) (Item, error) {
	d := dec{b: b}
	v := d.version(fmtItem, "item")
	var it Item
	it.Kind = d.str()
	it.OccurredAt = d.time()
	it.InteractionID, it.Flow, it.Direction, it.Reason, it.AgentID = d.str(), d.str(), d.str(), d.str(), d.str()
	it.EndedAt = d.ptime()
	it.MessageCount = int(d.int())
	it.OpenedAt = d.ptime()
	it.OpenCount = int(d.int())
	it.Status = d.str()
	it.Action = d.str()
	if changes := d.str(); changes != "" {
		it.Changes = json.RawMessage(changes)
	}
	it.Name, it.OrderID, it.Total, it.Currency = d.str(), d.str(), json.Number(d.str()), d.str()
	it.SegmentID, it.TaskID, it.Title = d.str(), d.str(), d.str()
	it.DueAt = d.ptime()
	it.AssigneeID, it.NoteID, it.Text, it.AuthorID, it.FileID = d.str(), d.str(), d.str(), d.str(), d.str()
	it.Size = d.int()
	it.ContentType, it.URL, it.VisitID, it.Source, it.Channel = d.str(), d.str(), d.str(), d.str(), d.str()
	it.DurationS = d.int()
	it.Pages = int(d.int())
	if v >= 2 {
		it.ClickedAt = d.ptime()
		it.ClickCount = int(d.int())
	}
	if d.err != nil {
		return Item{}, fmt.Errorf("decode item: %w", d.err)
	}
	return it, nil
}

// encodeInteraction keeps what the card and the fold need of an interaction: the
// columns it shows, the stamps that decide them, and the ids and times of its events
// (Apply's dedupe and start time), for the whole fold and, for an interaction that
// carried several customers, for each customer's part. Nothing else is stored: no
// contact, participants, event data or any other personal data the fold may carry.
func encodeInteraction(r *interactionRecord) []byte {
	n := len(r.Fold.Events)
	for k := range r.Parts {
		n += len(r.Parts[k].Fold.Events)
	}
	e := enc{b: make([]byte, 0, 256*(1+len(r.Parts))+45*n)}
	e.b = append(e.b, fmtInteraction, r.KB)
	e.str(r.Owner)
	e.int(r.At)
	e.fold(&r.Fold)
	e.int(int64(len(r.Parts)))
	for k := range r.Parts {
		e.str(r.Parts[k].Customer)
		e.fold(&r.Parts[k].Fold)
	}
	return e.b
}

func (e *enc) fold(f *domain.Interaction) {
	e.str(f.ID)
	e.str(f.CustomerID)
	e.time(f.StartAt)
	e.time(f.EndAt)
	for _, s := range []string{f.Flow.String(), f.Status.String(), f.Reason, f.Direction.String(),
		f.OriginalRouting.String(), f.CurrentRouting.String(), f.AgentID, f.QueueID} {
		e.str(s)
	}
	e.int(int64(f.MessageCount))
	e.time(f.OpenedAt)
	e.int(int64(f.OpenCount))
	st := &f.Stamps
	for _, s := range []domain.Stamp{st.Started, st.Current, st.Ended, st.Customer} {
		e.stamp(s)
	}
	e.int(int64(len(f.Events)))
	for _, ev := range f.Events {
		e.str(ev.ID)
		e.time(ev.OccurredAt)
	}
	e.time(f.ClickedAt)
	e.int(int64(f.ClickCount))
}

func decodeInteraction(b []byte) (interactionRecord, error) {
	var r interactionRecord
	d := dec{b: b}
	v := d.version(fmtInteraction, "interaction")
	if len(d.b) > 0 {
		r.KB, d.b = d.b[0], d.b[1:]
	}
	r.Owner = d.str()
	r.At = d.int()
	err := d.fold(&r.Fold, v)
	if v >= 3 {
		n := d.int()
		if n < 0 || n > int64(len(d.b)) {
			d.fail()
		}
		if d.err == nil && n > 0 {
			r.Parts = make([]part, n)
			for k := range r.Parts {
				r.Parts[k].Customer = d.str()
				err = errors.Join(err, d.fold(&r.Parts[k].Fold, v))
			}
		}
	}
	if d.err != nil {
		return r, fmt.Errorf("decode interaction: %w", d.err)
	}
	if err != nil {
		return r, fmt.Errorf("decode interaction %s: %w", r.Fold.ID, err)
	}
	return r, nil
}

// fold reads what enc.fold wrote (format v); a malformed enum is returned, a short value
// left in d.err.
func (d *dec) fold(f *domain.Interaction, v byte) error {
	f.ID, f.CustomerID = d.str(), d.str()
	f.StartAt, f.EndAt = d.time(), d.time()
	var flow, status, direction, orig, cur string
	flow, status, f.Reason, direction, orig, cur, f.AgentID, f.QueueID = d.str(), d.str(), d.str(), d.str(), d.str(), d.str(), d.str(), d.str()
	f.MessageCount = int(d.int())
	f.OpenedAt = d.time()
	f.OpenCount = int(d.int())
	st := &f.Stamps
	for _, s := range []*domain.Stamp{&st.Started, &st.Current, &st.Ended, &st.Customer} {
		*s = d.stamp()
	}
	n := d.int()
	if n < 0 || n > int64(len(d.b)) {
		d.fail()
	}
	if d.err == nil && n > 0 {
		f.Events = make([]domain.EventRecord, n)
		for i := range f.Events {
			f.Events[i].ID, f.Events[i].OccurredAt = d.str(), d.time()
		}
	}
	if v >= 2 {
		f.ClickedAt = d.time()
		f.ClickCount = int(d.int())
	}
	if d.err != nil {
		return nil
	}
	return errors.Join(f.Flow.UnmarshalText([]byte(flow)), f.Status.UnmarshalText([]byte(status)),
		f.Direction.UnmarshalText([]byte(direction)), f.OriginalRouting.UnmarshalText([]byte(orig)),
		f.CurrentRouting.UnmarshalText([]byte(cur)))
}

func encodeTask(r *taskRecord) []byte {
	e := enc{b: make([]byte, 0, 192)}
	e.b = append(e.b, fmtTask)
	e.str(r.TaskID)
	e.str(r.Status.String())
	e.stamp(r.StatusStamp)
	e.str(r.Title)
	e.stamp(r.TitleStamp)
	e.ptime(r.DueAt)
	e.stamp(r.DueStamp)
	e.str(r.AssigneeID)
	e.stamp(r.AssigneeStamp)
	e.time(r.CreatedAt)
	e.time(r.FirstAt)
	e.time(r.LastAt)
	e.int(int64(len(r.Seqs)))
	for _, c := range slices.Sorted(maps.Keys(r.Seqs)) {
		e.str(c)
		e.int(int64(r.Seqs[c]))
	}
	return e.b
}

func decodeTask(b []byte) (taskRecord, error) { return decodeTaskFor(b, true) }

// decodeTaskFor decodes a task record; without stamps (the read path: the tabs never
// look at them) it skips them and allocates less.
func decodeTaskFor(b []byte, stamps bool) (taskRecord, error) {
	var r taskRecord
	d := dec{b: b}
	stamp := func() domain.Stamp {
		if stamps {
			return d.stamp()
		}
		d.int()
		d.skip()
		return domain.Stamp{}
	}
	d.version(fmtTask, "task")
	r.TaskID = d.str()
	status := d.str()
	r.StatusStamp = stamp()
	r.Title, r.TitleStamp = d.str(), stamp()
	r.DueAt, r.DueStamp = d.ptime(), stamp()
	r.AssigneeID, r.AssigneeStamp = d.str(), stamp()
	r.CreatedAt, r.FirstAt, r.LastAt = d.time(), d.time(), d.time()
	n := d.int()
	if n < 0 || n > int64(len(d.b)) {
		d.fail()
	}
	if d.err == nil && n > 0 {
		r.Seqs = make(map[string]uint64, n)
		for range n {
			c := d.str()
			r.Seqs[c] = uint64(d.int())
		}
	}
	if d.err != nil {
		return r, fmt.Errorf("decode task: %w", d.err)
	}
	if err := r.Status.UnmarshalText([]byte(status)); err != nil {
		return r, fmt.Errorf("decode task %s: %w", r.TaskID, err)
	}
	return r, nil
}
