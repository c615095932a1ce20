package contact

import "testing"

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

func TestPhoneCache(t *testing.T) {
	c := NewPhoneCache("US", 2)
	for range 3 {
		for _, raw := range []string{"(415) 555-0100", "+33 1 23 45 67 89", "nope"} {
			got, ok := c.Phone(raw)
			want, wantOK := Phone(raw, "US")
			if got != want || ok != wantOK {
				t.Errorf("cache Phone(%q) = %q, %v; want %q, %v", raw, got, ok, want, wantOK)
			}
		}
	}
	if len(c.m) > 2 {
		t.Errorf("cache holds %d entries, bound is 2", len(c.m))
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
