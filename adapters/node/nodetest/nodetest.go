// Package nodetest holds what the tests of a running ledger share, in process or as a
// child process: tokens, envelopes, polling and the history list's answer.
package nodetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/interaction-ledger/ledger/adapters/auth"
)

// Secret is the HS256 secret of test ledgers.
const Secret = "test-secret-0123456789abcdef0123456789"

// Token mints a token for sub with scopes, valid for an hour.
func Token(t testing.TB, sub string, scopes ...string) string {
	t.Helper()
	tok, err := auth.Mint(Secret, sub, scopes, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Eventually polls cond until it holds or 15 s pass (no sleeps in assertions).
func Eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not reached within 15s; last: %s", what, last)
}

// Ev builds an envelope minutesAgo in the past.
func Ev(typ, customer string, minutesAgo int, data map[string]any) map[string]any {
	e := map[string]any{"id": uuid.NewString(), "type": typ, "source": "test",
		"occurred_at": time.Now().UTC().Add(-time.Duration(minutesAgo) * time.Minute).Format(time.RFC3339Nano), "data": data}
	if customer != "" {
		e["customer_id"] = customer
	}
	return e
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
