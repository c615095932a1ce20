package domain

import "time"

// Test-only doors for the external tests of package domain_test, which may import
// domain/scenario (an internal test cannot: scenario imports domain).

// DecodeReference decodes as DecodeIncoming (stored false) or DecodeStored (stored true)
// do, with encoding/json alone reading the JSON: the reference of the fast path.
func DecodeReference(raw []byte, now time.Time, stored bool) (Event, error) {
	return codec{reference: true}.decode(raw, now, stored)
}

// EncodeReference encodes as Event.Encode does, with encoding/json alone.
func EncodeReference(e Event) ([]byte, error) { return codec{reference: true}.encode(e) }

// DecodeSeeds returns every envelope of the decode tests (see decodeSeeds).
func DecodeSeeds() [][]byte { return decodeSeeds() }

// FixedNow is the "now" of the decode tests: every seed's window is judged against it.
func FixedNow() time.Time { return testNow }
