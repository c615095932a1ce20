package pages

import "testing"

// TestCount: one message, never "1 messages".
func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{{0, "0 messages"}, {1, "1 message"}, {2, "2 messages"}, {17, "17 messages"}} {
		if got := count(tc.n, "message"); got != tc.want {
			t.Errorf("count(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
