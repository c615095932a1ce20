// Package apitest drives the ledger's HTTP API from tests: a JSON client that returns the
// status code, tokens, contract envelopes and a polling helper. It is shared by the
// tests that start the API in process (adapters/httpapi) and those that start the whole
// ledger (cmd/ledger), so that both speak to it the same way.
package apitest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/interaction-ledger/ledger/adapters/auth"
)

// Client sends requests to the API at BaseURL ("http://127.0.0.1:port").
type Client struct {
	T       testing.TB
	BaseURL string
}

// Do sends a request with body as JSON (unless nil) and tok as bearer token (unless
// empty), decodes a JSON answer into out (unless nil) and returns the status code. A
// failure to send or to decode fails the test.
func (c Client) Do(method, path, tok string, body, out any) int {
	c.T.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.T.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.BaseURL+path, rd)
	if err != nil {
		c.T.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.T.Fatalf("%s %s: read answer: %v", method, path, err)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			c.T.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

// Token mints a token for sub with scopes, valid for an hour.
func Token(t testing.TB, secret, sub string, scopes ...string) string {
	t.Helper()
	tok, err := auth.Mint(secret, sub, scopes, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Event builds an envelope of type typ minutesAgo in the past (Ago), with a fresh id;
// customer "" leaves customer_id out (directory events).
func Event(typ, customer string, minutesAgo int, data map[string]any) map[string]any {
	e := map[string]any{"id": uuid.NewString(), "type": typ, "source": "test",
		"occurred_at": Ago(minutesAgo).Format(time.RFC3339Nano), "data": data}
	if customer != "" {
		e["customer_id"] = customer
	}
	return e
}

// Ago is the time minutesAgo minutes before now (UTC), except in the first two hours of a
// UTC day: the tests read the default list, which is today's, and events a few minutes old
// fell on yesterday when a run started after midnight (CI failed between 00:00 and 00:30).
// Then up to 150 "minutes" are squeezed into the time since midnight, in the same order;
// older ones, yesterday's at that hour anyway, are as asked.
func Ago(minutesAgo int) time.Time {
	now := time.Now().UTC()
	unit := time.Minute
	if since := now.Sub(now.Truncate(24 * time.Hour)); since < 2*time.Hour && minutesAgo < 150 {
		unit = since / 151
	}
	return now.Add(-time.Duration(minutesAgo) * unit)
}

// Eventually polls cond until it holds, failing the test after 15 s with what cond last
// said: assertions on asynchronous views wait for a state, never for a duration.
func Eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within 15s; last: %s", what, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
