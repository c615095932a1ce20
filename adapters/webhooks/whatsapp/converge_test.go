package whatsapp

import (
	"testing"

	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
)

// TestConvergence: Camille writes, the business replies (sent in her service
// conversation), the reply is delivered and read. In every order and twice, one row,
// card item and detail. When only the statuses arrive (the customer's message lost, or a
// receiver that joined late), the dialogue is still listed, incoming as she opened it,
// with the same contact, customer, status and end; what only her message tells is
// missing: its time (the start), her profile name and the message itself.
func TestConvergence(t *testing.T) {
	webhookstest.Convergence{
		Send:   webhookstest.MetaSender(newProvider(t), now),
		Bodies: webhookstest.LoadAll(t, "inbound_text.json", "status_sent_service.json", "status_delivered_read.json"),
		Final:  []int{1, 2},
		FinalDiffers: []string{"row.start_at", "detail.start_at", "item.occurred_at", "detail.participants",
			"detail.message_count", "item.message_count"},
		InteractionID: "wa:" + phoneID + ":" + camille + ":2026-11-21",
		CustomerID:    "tel:+33612345678",
		Check: func(t *testing.T, s webhookstest.Snapshot) {
			if s.Row["flow"] != "whatsapp" || s.Row["direction"] != "incoming" || s.Row["status"] != "delivered" || s.Item["message_count"] != float64(2) {
				t.Errorf("row %v, item %v: want Camille's incoming dialogue, delivered, two messages", s.Row, s.Item)
			}
		},
	}.Run(t)
}
