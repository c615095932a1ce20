// Package nodetest holds what the tests of a running ledger share, in process or as a
// child process: tokens, envelopes, polling and the history list's answer.
package nodetest

import (
	"encoding/json"
	"net"
	"testing"

	"github.com/interaction-ledger/ledger/adapters/httpapi/apitest"
)

// Secret is the HS256 secret of test ledgers.
const Secret = "test-secret-0123456789abcdef0123456789"

// Token mints a token for sub with scopes, valid for an hour, with Secret.
func Token(t testing.TB, sub string, scopes ...string) string {
	t.Helper()
	return apitest.Token(t, Secret, sub, scopes...)
}

// Eventually is apitest.Eventually.
func Eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	apitest.Eventually(t, what, cond)
}

// Ev builds an envelope minutesAgo in the past (apitest.Event).
func Ev(typ, customer string, minutesAgo int, data map[string]any) map[string]any {
	return apitest.Event(typ, customer, minutesAgo, data)
}

// ListPage is the history list's answer, with the fields tests look at.
type ListPage struct {
	Items []struct {
		InteractionID  string `json:"interaction_id"`
		Status         string `json:"status"`
		AgentID        string `json:"agent_id"`
		QueueID        string `json:"queue_id"`
		CurrentRouting string `json:"current_routing"`
		CustomerID     string `json:"customer_id"`
	} `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// IDs lists the page's interaction ids in order.
func (p ListPage) IDs() []string {
	var out []string
	for _, it := range p.Items {
		out = append(out, it.InteractionID)
	}
	return out
}

// MustJSON encodes v or fails the test.
func MustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FreeAddr is a loopback address with a free port, for a server a test starts.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
