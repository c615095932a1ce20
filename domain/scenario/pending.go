package scenario

import "github.com/interaction-ledger/ledger/domain"

// maxPending bounds the events scheduled but not yet delivered (about 400 bytes each).
const maxPending = 1 << 16

// pending is a min-heap of scheduled deliveries: by delivery time, then by scheduling
// order, so that the delivery order is a pure function of the schedule. Events live in a
// slab with a free list; the heap moves only small items.
type pending struct {
	h    []pendItem
	slab []domain.Event
	free []int32
	seq  uint64
}

type pendItem struct {
	at   int64 // delivery time, Unix ms
	seq  uint64
	slot int32
}

func (p *pending) len() int { return len(p.h) }

func (p *pending) minAt() int64 { return p.h[0].at }

func (p *pending) push(at int64, ev domain.Event) {
	var slot int32
	if n := len(p.free); n > 0 {
		slot = p.free[n-1]
		p.free = p.free[:n-1]
		p.slab[slot] = ev
	} else {
		slot = int32(len(p.slab))
		p.slab = append(p.slab, ev)
	}
	p.seq++
	p.h = append(p.h, pendItem{at: at, seq: p.seq, slot: slot})
	p.up(len(p.h) - 1)
}

func (p *pending) pop() domain.Event {
	it := p.h[0]
	n := len(p.h) - 1
	p.h[0] = p.h[n]
	p.h = p.h[:n]
	if n > 0 {
		p.down(0)
	}
	ev := p.slab[it.slot]
	p.slab[it.slot] = domain.Event{}
	p.free = append(p.free, it.slot)
	return ev
}

func (a pendItem) less(b pendItem) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

func (p *pending) up(i int) {
	h := p.h
	for i > 0 {
		parent := (i - 1) / 2
		if !h[i].less(h[parent]) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func (p *pending) down(i int) {
	h := p.h
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].less(h[l]) {
			m = r
		}
		if !h[m].less(h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
