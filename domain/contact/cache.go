package contact

import (
	"strings"
	"sync"
)

// PhoneCache remembers the canonical form of the numbers it has seen: parsing with
// libphonenumber (regular expressions, twice for a number written nationally) was a fifth
// of the history view's apply time, and a contact centre sees the same customers' numbers
// again and again, written in different ways. It keys a number by what libphonenumber
// reads of it (phoneKey: "+1 415 555 0100" and "+14155550100" are one entry, "(415)
// 555-0100" and "415.555.0100" another) and remembers a canonical form as its own answer,
// so a customer's number is parsed about once however the producers write it.
//
// It is bounded, in two generations of half the bound each: a number is looked up in the
// current one, then in the previous one (and brought back to the current); when the
// current one is full it becomes the previous one and the oldest is dropped. A single map
// that started afresh when full dropped the busiest customers' numbers with the rest;
// two maps keep what is used once per generation, at the cost of a map lookup, with no
// per-entry links for the collector to follow (an LRU list). At 2 million envelopes
// (107,000 customers, each number keyed national and international) that saved a
// seventh of a rebuild's parses (4.1 → 3.5 s of CPU): what is left is near one parse
// per number and key.
type PhoneCache struct {
	region string
	gen    int // entries per generation

	mu       sync.Mutex
	cur, old map[string]phoneResult
}

type phoneResult struct {
	e164 string
	ok   bool
}

// NewPhoneCache returns a cache of at most bound entries (4 at least) read in region.
func NewPhoneCache(region string, bound int) *PhoneCache {
	return &PhoneCache{region: region, gen: max(bound/2, 2), cur: make(map[string]phoneResult)}
}

// get looks key up, bringing an entry of the previous generation into the current one.
// c.mu is held.
func (c *PhoneCache) get(key string) (phoneResult, bool) {
	if r, ok := c.cur[key]; ok {
		return r, true
	}
	r, ok := c.old[key]
	if ok {
		c.put(strings.Clone(key), r) // key may point into a whole decoded envelope
	}
	return r, ok
}

// put adds an entry; key is the cache's own. c.mu is held.
func (c *PhoneCache) put(key string, r phoneResult) {
	if len(c.cur)+1 > c.gen {
		c.old, c.cur = c.cur, make(map[string]phoneResult, c.gen)
	}
	c.cur[key] = r
}

// Phone is Phone(raw, region), remembered.
func (c *PhoneCache) Phone(raw string) (string, bool) {
	key, keyed := phoneKey(raw)
	if !keyed {
		key = raw
	}
	c.mu.Lock()
	r, hit := c.get(key)
	c.mu.Unlock()
	if hit {
		return r.e164, r.ok
	}
	r.e164, r.ok = Phone(raw, c.region)
	c.mu.Lock()
	if !keyed {
		key = strings.Clone(raw) // raw may point into a whole decoded envelope
	}
	c.put(key, r)
	if r.ok && r.e164 != key {
		c.put(r.e164, r) // its own key, read back as itself (Phone's fixed point)
	}
	c.mu.Unlock()
	return r.e164, r.ok
}
