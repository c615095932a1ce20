package contact

import (
	"fmt"
	"testing"
)

func TestPhone(t *testing.T) {
	tests := []struct {
		name, raw, region, want string
		ok                      bool
	}{
		{"international spaced", "+1 415 555 0100", "", "+14155550100", true},
		{"national US", "(415) 555-0100", "US", "+14155550100", true},
		{"national FR", "01 23 45 67 89", "FR", "+33123456789", true},
		{"00 prefix", "0033 1 23 45 67 89", "FR", "+33123456789", true},
		{"tel uri", "tel:+33123456789", "", "+33123456789", true},
		{"dots", "415.555.0100", "US", "+14155550100", true},
		{"letters", "hello", "", "", false},
		{"unstable national prefix", "+2000000000000", "", "", false},
		{"too short", "12", "", "", false},
		{"empty", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Phone(tt.raw, tt.region)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Phone(%q, %q) = %q, %v; want %q, %v", tt.raw, tt.region, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestEmail(t *testing.T) {
	tests := []struct {
		raw, want string
		ok        bool
	}{
		{"C@Example.COM", "c@example.com", true},
		{" mailto:a.b@x.org ", "a.b@x.org", true},
		{"no-at", "", false},
		{"a@b@c", "", false},
		{"@x.org", "", false},
		{"a b@x.org", "", false},
	}
	for _, tt := range tests {
		got, ok := Email(tt.raw)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Email(%q) = %q, %v; want %q, %v", tt.raw, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzPhone(f *testing.F) {
	for _, s := range []string{"+1 415 555 0100", "(415) 555-0100", "tel:+33123456789", "", "++++", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if e, ok := Phone(s, ""); ok {
			if e[0] != '+' || Digits(e) != e[1:] {
				t.Fatalf("Phone(%q) = %q, not E.164", s, e)
			}
			if again, ok := Phone(e, ""); !ok || again != e {
				t.Fatalf("Phone(%q) = %q, not stable: %q", s, e, again)
			}
		}
	})
}

// FuzzPhoneKey: a number read through its key reads as the number as written, in any
// region, so a cache keyed by it answers what Phone answers.
func FuzzPhoneKey(f *testing.F) {
	for _, s := range []string{"+1 415 555 0100", "(415) 555-0100", "415-555-0100", "+14155550100", "415.555.0100",
		"+33 1 23 45 67 89", "+33123456789", "+44 20 7946 0958", "tel:+33123456789", " 0033 1 23 45 67 89 ",
		"+44 (0) 20 7946 0958", "(+1) 415 555 0100", "+ 1 415", "1-800-FLOWERS", "+1 415 555 0100 ext. 12", "++1 415", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, ok := phoneKey(s)
		if !ok {
			return
		}
		for _, region := range []string{"US", "FR", "GB", "DE"} {
			want, wantOK := Phone(s, region)
			if got, gotOK := Phone(key, region); got != want || gotOK != wantOK {
				t.Fatalf("in %s, Phone(%q) = %q, %v but its key %q reads as %q, %v", region, s, want, wantOK, key, got, gotOK)
			}
		}
	})
}

func TestPhoneCache(t *testing.T) {
	c := NewPhoneCache("US", 4)
	for range 3 {
		for _, raw := range []string{"(415) 555-0100", "+33 1 23 45 67 89", "nope", "+1 415 555 0100 ext. 12"} {
			got, ok := c.Phone(raw)
			want, wantOK := Phone(raw, "US")
			if got != want || ok != wantOK {
				t.Errorf("cache Phone(%q) = %q, %v; want %q, %v", raw, got, ok, want, wantOK)
			}
		}
	}
	if n := cacheLen(c); n > 4 {
		t.Errorf("cache holds %d entries, bound is 4", n)
	}

	// One number written the five ways of a US customer's records: one entry for the
	// national forms, one for the international ones, which is also the canonical form.
	c = NewPhoneCache("US", 100)
	for _, raw := range []string{"(415) 555-0100", "+1 415 555 0100", "415-555-0100", "+14155550100", "415.555.0100", "tel:+14155550100"} {
		if got, ok := c.Phone(raw); got != "+14155550100" || !ok {
			t.Errorf("cache Phone(%q) = %q, %v; want +14155550100", raw, got, ok)
		}
	}
	if n := cacheLen(c); n != 2 {
		t.Errorf("cache holds %d entries for one number written six ways, want 2: %v %v", n, c.cur, c.old)
	}
}

// TestPhoneCacheKeepsWhatIsUsed: a number read between every two others (a busy
// customer's) is never dropped, however many others come and go; a cache that started
// afresh when full dropped it with them.
func TestPhoneCacheKeepsWhatIsUsed(t *testing.T) {
	c := NewPhoneCache("US", 8)
	hot := "+14155550100"
	c.Phone(hot)
	for i := range 100 {
		c.Phone(fmt.Sprintf("+1415555%04d", 200+i))
		c.mu.Lock()
		_, inCur := c.cur[hot]
		_, inOld := c.old[hot]
		c.mu.Unlock()
		if !inCur && !inOld {
			t.Fatalf("after %d other numbers the one read between each is gone", i+1)
		}
		if got, ok := c.Phone(hot); got != hot || !ok {
			t.Fatalf("Phone(%q) = %q, %v", hot, got, ok)
		}
		if n := cacheLen(c); n > 8 {
			t.Fatalf("cache holds %d entries, bound is 8", n)
		}
	}
}

// BenchmarkPhone: a number already in E.164 is read once, not twice (its canonical form
// is the input, so the fixed-point check has nothing to read again).
func BenchmarkPhone(b *testing.B) {
	for _, raw := range []string{"+14155550100", "(415) 555-0100"} {
		b.Run(raw, func(b *testing.B) {
			for b.Loop() {
				if _, ok := Phone(raw, "US"); !ok {
					b.Fatal("not a phone")
				}
			}
		})
	}
}

// cacheLen is the number of entries of both generations.
func cacheLen(c *PhoneCache) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.old)
}
