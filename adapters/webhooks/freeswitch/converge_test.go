package freeswitch_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
)

// TestConvergence: mod_json_cdr posts one CDR per call (the a-leg), always final, and
// retries it until it gets a 2xx, possibly with another encoding after a configuration
// change. The CDR raw and form-encoded, in either order and each twice, give one row,
// card item and detail.
func TestConvergence(t *testing.T) {
	raw := webhookstest.Load(t, "inbound_queue_answered.json")
	webhookstest.Convergence{
		Send:          webhookstest.Sender(newProvider(t), now, func(body []byte) *http.Request { return post(body, webhookstest.Basic("freeswitch", cdrToken)) }),
		Bodies:        [][]byte{raw, []byte("cdr=" + url.QueryEscape(string(raw)))},
		InteractionID: "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
		CustomerID:    "tel:+33612345678",
		Queues:        []string{"support@default"},
		Check: func(t *testing.T, s webhookstest.Snapshot) {
			if s.Row["flow"] != "voice" || s.Row["status"] != "processed" || s.Row["original_routing"] != "smart" || s.Row["direction"] != "incoming" {
				t.Errorf("row %v: want a processed incoming call from the queue", s.Row)
			}
		},
	}.Run(t)
}
