package history

import (
	"fmt"
	"slices"
	"testing"
)

// TestScreenCodesAreStable: a screen's enum codes are stored in the view's files, so the
// values' places in domain's lists must not move (a value added at a list's end is
// fine). A change here needs a new layoutVersion, which rebuilds the files.
func TestScreenCodesAreStable(t *testing.T) {
	for _, tt := range []struct {
		name      string
		got, want []string
	}{
		{"flow", names(flowCodes.value), []string{"", "voice", "email", "sms", "whatsapp", "whatsapp_campaign", "telegram", "chat", "messenger"}},
		{"status", names(statusCodes.value), []string{"", "processed", "delivered", "warning", "aborted", "dissuaded"}},
		{"direction", names(directionCodes.value), []string{"", "incoming", "outgoing"}},
		{"routing", names(routingCodes.value), []string{"", "smart", "direct"}},
	} {
		if len(tt.got) < len(tt.want) || !slices.Equal(tt.got[:len(tt.want)], tt.want) {
			t.Errorf("%s codes: got %q, want %q first", tt.name, tt.got, tt.want)
		}
	}
}

func names[T fmt.Stringer](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out
}
