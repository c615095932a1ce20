// Package nodetest holds what the tests of a running ledger share, in process or as a
// child process: tokens, envelopes, polling and the history list's answer.
package nodetest

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

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

// ListAll walks every page of tok's history list of the last hour to the next one on the
// ledger at base and counts each interaction id (an id listed twice is a defect). A
// request that fails ends the walk with what was read.
func ListAll(base, tok string) map[string]int {
	seen := map[string]int{}
	now := time.Now().UTC()
	q := url.Values{"from": {now.Add(-time.Hour).Format(time.RFC3339)}, "to": {now.Add(time.Hour).Format(time.RFC3339)}, "limit": {"500"}}
	for {
		req, err := http.NewRequest("GET", base+"/v1/interactions?"+q.Encode(), nil)
		if err != nil {
			return seen
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return seen
		}
		var p ListPage
		json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		for _, it := range p.Items {
			seen[it.InteractionID]++
		}
		if p.NextCursor == "" || len(p.Items) == 0 {
			return seen
		}
		q.Set("cursor", p.NextCursor)
	}
}
