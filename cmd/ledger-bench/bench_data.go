package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/domain/scenario"
	"github.com/interaction-ledger/ledger/eventstore"
)

// benchData is the generated contact centre, encoded once before any timed section:
// every envelope (directory first, then the scenario's events in delivery order, with its
// duplicates) in a file of records (uvarint-prefixed subject, id and envelope), so that
// the bench's own memory stays small and every phase reads the same bytes.
type benchData struct {
	sc        *scenario.Scenario
	path      string
	events    int   // envelopes, duplicates included
	unique    int   // distinct event ids: what the stream ends up holding
	directory int   // directory envelopes (the first records)
	bytes     int64 // envelope bytes
	// interactionIDs are the distinct interaction ids in first-seen order, packed: the
	// keys of the raw bbolt insert.
	interactionIDs benchIDList
	busiest        string // the customer with the most events
	busiestEvents  int
	phone          string // a contact phone of the busiest customer, as stored in one event
	generated      time.Duration
}

// benchIDList packs many short strings into one buffer (no per-string header on the heap).
type benchIDList struct {
	buf  []byte
	ends []uint32
}

func (l *benchIDList) add(s string) {
	l.buf = append(l.buf, s...)
	l.ends = append(l.ends, uint32(len(l.buf)))
}
func (l *benchIDList) len() int { return len(l.ends) }
func (l *benchIDList) at(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = l.ends[i-1]
	}
	return l.buf[start:l.ends[i]]
}

// benchInteractionID returns the interaction id an interaction-scoped event names.
func benchInteractionID(ev domain.Event) string {
	if ref, ok := ev.Payload.(domain.InteractionRef); ok {
		return ref.InteractionKey()
	}
	return ""
}

// generateBenchData encodes the scenario into dir/events.bin.
func generateBenchData(sc *scenario.Scenario, dir string) (*benchData, error) {
	start := time.Now()
	d := &benchData{sc: sc, path: dir + "/events.bin"}
	f, err := os.Create(d.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	var rec []byte
	seen := map[string]struct{}{}
	ids := map[string]struct{}{}
	perCustomer := map[string]int{}
	put := func(ev domain.Event) error {
		data, err := ev.Encode()
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", ev.Type, ev.ID, err)
		}
		subject := eventstore.Subject(ev)
		rec = binary.AppendUvarint(rec[:0], uint64(len(subject)))
		rec = append(rec, subject...)
		rec = binary.AppendUvarint(rec, uint64(len(ev.ID)))
		rec = append(rec, ev.ID...)
		rec = binary.AppendUvarint(rec, uint64(len(data)))
		rec = append(rec, data...)
		if _, err := w.Write(rec); err != nil {
			return err
		}
		d.events++
		d.bytes += int64(len(data))
		if _, dup := ids[ev.ID]; !dup {
			ids[ev.ID] = struct{}{}
			d.unique++
		}
		if ev.CustomerID != "" {
			perCustomer[ev.CustomerID]++
		}
		if ev.Type.IsInteraction() {
			if iid := benchInteractionID(ev); iid != "" {
				if _, ok := seen[iid]; !ok {
					seen[iid] = struct{}{}
					d.interactionIDs.add(iid)
				}
			}
		}
		return nil
	}
	for _, ev := range sc.Directory() {
		if err := put(ev); err != nil {
			return nil, err
		}
		d.directory++
	}
	for ev := range sc.Events {
		if err = put(ev); err != nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	for c, n := range perCustomer {
		if n > d.busiestEvents || (n == d.busiestEvents && c < d.busiest) {
			d.busiest, d.busiestEvents = c, n
		}
	}
	// A second, short pass finds a phone the busiest customer called from (the scenario
	// keeps nothing per customer; its first interactions come early).
	for ev := range sc.Events {
		if p, ok := ev.Payload.(*domain.StartedData); ok && ev.CustomerID == d.busiest && p.Contact.Phone != "" {
			d.phone = p.Contact.Phone
			break
		}
	}
	if d.phone == "" { // any customer's phone
		for ev := range sc.Events {
			if p, ok := ev.Payload.(*domain.StartedData); ok && p.Contact.Phone != "" {
				d.phone = p.Contact.Phone
				break
			}
		}
	}
	d.generated = time.Since(start)
	return d, nil
}

// each calls fn with every record in order. When fresh is set, data is a new slice the
// callee may keep (an async publish keeps it until its ack); otherwise it is reused.
func (d *benchData) each(fresh bool, fn func(subject, id string, data []byte) error) error {
	f, err := os.Open(d.path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var buf []byte
	readField := func() ([]byte, error) {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return nil, err
		}
		if fresh {
			b := make([]byte, n)
			_, err = io.ReadFull(r, b)
			return b, err
		}
		if uint64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		_, err = io.ReadFull(r, buf)
		return buf, err
	}
	var subj, id string
	for {
		n, err := binary.ReadUvarint(r)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", d.path, err)
		}
		var sb strings.Builder
		sb.Grow(int(n))
		if _, err := io.CopyN(&sb, r, int64(n)); err != nil {
			return fmt.Errorf("read %s: %w", d.path, err)
		}
		subj = sb.String()
		raw, err := readField()
		if err != nil {
			return fmt.Errorf("read %s: %w", d.path, err)
		}
		id = string(raw)
		data, err := readField()
		if err != nil {
			return fmt.Errorf("read %s: %w", d.path, err)
		}
		if err := fn(subj, id, data); err != nil {
			return err
		}
	}
}

// benchOtherPhoneFormat writes phone in another common format than the one stored, so that
// the search has to normalize: "+14155550123" becomes "(415) 555-0123", a formatted
// number becomes compact, "+33123456789" becomes "+33 1 23 45 67 89".
func benchOtherPhoneFormat(phone string) string {
	var digits []byte
	plus := strings.HasPrefix(strings.TrimSpace(phone), "+")
	for i := 0; i < len(phone); i++ {
		if c := phone[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	d := string(digits)
	compact := phone == d || phone == "+"+d
	switch {
	case !compact && plus:
		return "+" + d
	case !compact:
		return d
	case plus && len(d) == 11 && d[0] == '1':
		return "(" + d[1:4] + ") " + d[4:7] + "-" + d[7:]
	case !plus && len(d) == 10:
		return "+1 " + d[:3] + " " + d[3:6] + " " + d[6:]
	case plus && len(d) > 3:
		var b strings.Builder
		b.WriteString("+" + d[:2] + " " + d[2:3])
		for i := 3; i < len(d); i += 2 {
			b.WriteString(" " + d[i:min(i+2, len(d))])
		}
		return b.String()
	}
	return phone
}
