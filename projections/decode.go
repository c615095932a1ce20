package projections

import (
	"sync/atomic"

	"github.com/interaction-ledger/ledger/domain"
)

// DecodeCache lets the projectors of one stream share the decoding of each envelope.
// Decoding is the largest CPU cost of projecting (the views read the same messages at
// nearly the same pace), so the first projector to reach a sequence decodes it and the
// others find it here. It is a fixed ring indexed by sequence: a slot holds the last
// message decoded at that position, and a miss simply decodes again. Events are shared
// read-only between views.
type DecodeCache struct {
	slots []atomic.Pointer[decodedMsg]
}

type decodedMsg struct {
	stream string
	seq    uint64
	ev     domain.Event
	err    error
}

// NewDecodeCache returns a cache of size slots (at least a few projector batches).
func NewDecodeCache(size int) *DecodeCache {
	if size < 1 {
		size = 1
	}
	return &DecodeCache{slots: make([]atomic.Pointer[decodedMsg], size)}
}

// Decode returns domain.DecodeStored(m.Data, m.Published), decoding at most once per
// message while it stays in the ring.
func (c *DecodeCache) Decode(m Message) (domain.Event, error) {
	if c == nil {
		return domain.DecodeStored(m.Data, m.Published)
	}
	slot := &c.slots[m.Seq%uint64(len(c.slots))]
	if d := slot.Load(); d != nil && d.seq == m.Seq && d.stream == m.Stream {
		return d.ev, d.err
	}
	ev, err := domain.DecodeStored(m.Data, m.Published)
	slot.Store(&decodedMsg{stream: m.Stream, seq: m.Seq, ev: ev, err: err})
	return ev, err
}
