package erasure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/eventstore"
)

// errStop ends a Read early once the scan passed the sequence it needs.
var errStop = errors.New("erasure: scan reached its end")

// found is what a scan of StreamEvents collected.
type found struct {
	seqs  []uint64            // messages of the customers (sorted, unique)
	ids   map[string]bool     // the erased customer and every customer merged into it
	edges map[string][]string // customer.merged: to -> from, every merge up to the scan's end
}

// scanEvents collects the sequences, up to and including upTo, of every message of
// StreamEvents that belongs to root or to a customer merged into root (transitively), or
// that names one of them as customer_id or data.from_customer_id. A message that is not
// a JSON envelope matches when its raw bytes hold one of the ids.
//
// The first pass matches root and records every merge; when merges add customers, a
// second pass matches only those (their events usually precede the merge that reveals
// them). So erasing a customer costs one full read of the stream, two with merges.
func scanEvents(ctx context.Context, store *eventstore.Store, batch int, upTo uint64, root string) (found, error) {
	f := found{ids: map[string]bool{root: true}, edges: map[string][]string{}}
	m := newMatcher([]string{root})
	seqs := map[uint64]bool{}
	pass := func(m *matcher, recordMerges bool) error {
		err := store.Read(ctx, eventstore.StreamEvents, 1, batch, func(_ context.Context, ds []eventstore.Delivery) error {
			for _, d := range ds {
				if d.Seq > upTo {
					return errStop
				}
				hit, merge := m.envelope(d.Data)
				if recordMerges && merge.to != "" && merge.from != "" {
					f.edges[merge.to] = append(f.edges[merge.to], merge.from)
				}
				if hit {
					seqs[d.Seq] = true
				}
			}
			return nil
		})
		if errors.Is(err, errStop) {
			return nil
		}
		return err
	}
	if err := pass(m, true); err != nil {
		return f, err
	}
	// Close the set over the merges: whoever was merged into an erased customer is erased.
	var added []string
	queue := []string{root}
	for len(queue) > 0 {
		to := queue[0]
		queue = queue[1:]
		for _, from := range f.edges[to] {
			if !f.ids[from] {
				f.ids[from] = true
				added = append(added, from)
				queue = append(queue, from)
			}
		}
	}
	if len(added) > 0 {
		if err := pass(newMatcher(added), false); err != nil {
			return f, err
		}
	}
	f.seqs = sortedSeqs(seqs)
	return f, nil
}

// scanDead collects the sequences of the dead letters (StreamDead, up to its last
// sequence when called) whose raw bytes hold one of ids: a dead letter is an envelope
// that failed validation and may not be JSON at all. The match is a substring match, so a
// dead letter of "cust-42" also goes when "cust-4" is erased: over-erasing a letter set
// aside for operators is the safe side.
func scanDead(ctx context.Context, store *eventstore.Store, batch int, ids map[string]bool) ([]uint64, error) {
	return scanStream(ctx, store, eventstore.StreamDead, batch, newMatcher(sortedKeys(ids)).raw)
}

// scanDirectory collects the sequences of StreamDirectory that belong to ids, as
// scanEvents matches them. Directory records name no customer, but the stream copies
// every message published on a directory subject, and a customer's event published there
// (a subject that lies about its type: the views set it aside) would otherwise outlive
// both the erasure and the retention: the stream never expires.
func scanDirectory(ctx context.Context, store *eventstore.Store, batch int, ids map[string]bool) ([]uint64, error) {
	m := newMatcher(sortedKeys(ids))
	return scanStream(ctx, store, eventstore.StreamDirectory, batch, func(data []byte) bool {
		hit, _ := m.envelope(data)
		return hit
	})
}

// scanStream collects the sequences of the stream, up to its last sequence when called,
// whose data match.
func scanStream(ctx context.Context, store *eventstore.Store, stream string, batch int, match func([]byte) bool) ([]uint64, error) {
	seqs := map[uint64]bool{}
	err := store.Read(ctx, stream, 1, batch, func(_ context.Context, ds []eventstore.Delivery) error {
		for _, d := range ds {
			if match(d.Data) {
				seqs[d.Seq] = true
			}
		}
		return nil
	})
	return sortedSeqs(seqs), err
}

// matcher tells whether a message belongs to one of a set of customers.
type matcher struct {
	ids     map[string]bool
	needles [][]byte // each id as raw bytes and as JSON string content (escaped forms)
}

var (
	mergedType = []byte(domain.TypeCustomerMerged.String())
	backslash  = []byte{'\\'}
)

func newMatcher(ids []string) *matcher {
	m := &matcher{ids: map[string]bool{}}
	seen := map[string]bool{}
	add := func(b []byte) {
		if len(b) > 0 && !seen[string(b)] {
			seen[string(b)] = true
			m.needles = append(m.needles, b)
		}
	}
	for _, id := range ids {
		m.ids[id] = true
		add([]byte(id))
		// encoding/json escapes <, >, & (and U+2028/9) by default; producers may not.
		if b, err := json.Marshal(id); err == nil {
			add(b[1 : len(b)-1])
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if enc.Encode(id) == nil {
			b := bytes.TrimSpace(buf.Bytes())
			add(b[1 : len(b)-1])
		}
	}
	return m
}

// raw reports whether data holds one of the ids, as bytes.
func (m *matcher) raw(data []byte) bool {
	for _, n := range m.needles {
		if bytes.Contains(data, n) {
			return true
		}
	}
	return false
}

// mergeEdge is a customer.merged: from was merged into to.
type mergeEdge struct{ to, from string }

// probe is the part of an envelope the matcher reads.
type probe struct {
	Type       string `json:"type"`
	CustomerID string `json:"customer_id"`
	Data       struct {
		FromCustomerID string `json:"from_customer_id"`
	} `json:"data"`
}

// envelope reports whether the message belongs to the matcher's customers, and returns
// the merge it records, if it is a customer.merged.
//
// Most messages are decided without decoding: a message whose bytes hold neither an id,
// nor the word customer.merged, nor any JSON escape cannot name an id in a string.
func (m *matcher) envelope(data []byte) (bool, mergeEdge) {
	hasID := m.raw(data)
	if !hasID && !bytes.Contains(data, mergedType) && !bytes.Contains(data, backslash) {
		return false, mergeEdge{}
	}
	var p probe
	if err := json.Unmarshal(data, &p); err != nil {
		// Not an envelope (projectors set it aside): the bytes decide.
		return hasID, mergeEdge{}
	}
	var e mergeEdge
	if p.Type == domain.TypeCustomerMerged.String() {
		e = mergeEdge{to: p.CustomerID, from: p.Data.FromCustomerID}
	}
	hit := m.ids[p.CustomerID] || (e.from != "" && m.ids[e.from])
	return hit, e
}

func sortedSeqs(set map[uint64]bool) []uint64 {
	out := make([]uint64, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.SortFunc(out, strings.Compare)
	return out
}
