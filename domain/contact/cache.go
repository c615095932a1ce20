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
// so a customer's number is parsed about once however the producers write it. It is
// bounded: when full it starts afresh, which costs a few re-parses and keeps memory flat.
type PhoneCache struct {
	region string
	max    int

	mu sync.Mutex
	m  map[string]phoneResult
}

type phoneResult struct {
	e164 string
	ok   bool
}

// NewPhoneCache returns a cache of at most max numbers read in region.
func NewPhoneCache(region string, max int) *PhoneCache {
	return &PhoneCache{region: region, max: max, m: make(map[string]phoneResult)}
}

// Phone is Phone(raw, region), remembered.
func (c *PhoneCache) Phone(raw string) (string, bool) {
	key, keyed := phoneKey(raw)
	if !keyed {
		key = raw
	}
	c.mu.Lock()
	r, hit := c.m[key]
	c.mu.Unlock()
	if hit {
		return r.e164, r.ok
	}
	r.e164, r.ok = Phone(raw, c.region)
	c.mu.Lock()
	if len(c.m)+2 > c.max {
		clear(c.m)
	}
	if !keyed {
		key = strings.Clone(raw) // raw may point into a whole decoded envelope
	}
	c.m[key] = r
	if r.ok && r.e164 != key {
		c.m[r.e164] = r // its own key, read back as itself (Phone's fixed point)
	}
	c.mu.Unlock()
	return r.e164, r.ok
}
