package timeline

import (
	"errors"
	"testing"
)

// FuzzParseCursor: a cursor comes from outside (the cursor parameter); whatever it is,
// parsing never panics, refuses with ErrBadCursor, and what it accepts round-trips.
func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"", "AAAAAAAAAAAA", cursor{inv: 42, kb: 1, key: "item"}.String(), "!!!", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCursor(s)
		if err != nil {
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("parseCursor(%q) error %v does not match ErrBadCursor", s, err)
			}
			return
		}
		again, err := parseCursor(c.String())
		if err != nil || again != c {
			t.Fatalf("cursor %q does not round-trip: %+v vs %+v (%v)", s, c, again, err)
		}
	})
}
