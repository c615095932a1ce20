package asterisk_test

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
)

// TestConvergence: a call answered from the support queue by 1001, then transferred to
// 1003, is two CDRs of one linkedid. A CDR is always final and carries the whole leg, so
// every configuration sends both: in either order and each twice (the forwarder's
// retry), one row, card item and detail: the call starts with the first leg, from the
// queue, and its current agent is 1003.
func TestConvergence(t *testing.T) {
	webhookstest.Convergence{
		Send:          webhookstest.Sender(newProvider(t), now, func(body []byte) *http.Request { return post(body, "Bearer "+cdrToken) }),
		Bodies:        webhookstest.LoadAll(t, "incoming_queue_answered.json", "incoming_transferred_leg.json"),
		InteractionID: "1795252443.42",
		CustomerID:    "tel:+33612345678",
		Queues:        []string{"support"},
		Check: func(t *testing.T, s webhookstest.Snapshot) {
			if s.Row["agent_id"] != "1003" || s.Row["status"] != "processed" || s.Row["flow"] != "voice" ||
				s.Row["start_at"] != "2026-11-21T09:14:03Z" || s.Row["end_at"] != "2026-11-21T09:24:02Z" ||
				s.Row["original_routing"] != "smart" || s.Row["current_routing"] != "direct" {
				t.Errorf("row %v: want a processed call from the queue, 09:14:03 to 09:24:02 UTC, now with 1003", s.Row)
			}
			if agents := s.Detail["agents"]; !reflect.DeepEqual(agents, []any{"1001", "1003"}) {
				t.Errorf("detail agents %v, want 1001 and 1003 (both may see it)", agents)
			}
		},
	}.Run(t)
}
