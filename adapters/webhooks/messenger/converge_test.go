package messenger

import (
	"testing"

	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
)

// TestConvergence: a person writes to the page, the page answers (echo), the answer is
// delivered and read. In every order and twice, one row, card item and detail. A page
// subscribed to message_deliveries and message_reads only still lists the dialogue with
// its customer, direction, status and end; the messages, with their times, are not known.
func TestConvergence(t *testing.T) {
	webhookstest.Convergence{
		Send:          webhookstest.MetaSender(newProvider(t), now),
		Bodies:        webhookstest.LoadAll(t, "inbound_text.json", "echo.json", "delivery.json", "read.json"),
		Final:         []int{2, 3},
		FinalDiffers:  []string{"row.start_at", "detail.start_at", "item.occurred_at", "detail.message_count", "item.message_count"},
		InteractionID: "fb:" + page + ":" + psid + ":2026-11-21",
		CustomerID:    "messenger:" + psid,
		Check: func(t *testing.T, s webhookstest.Snapshot) {
			if s.Row["flow"] != "messenger" || s.Row["direction"] != "incoming" || s.Row["status"] != "delivered" || s.Item["message_count"] != float64(2) {
				t.Errorf("row %v, item %v: want the person's incoming dialogue, delivered, two messages", s.Row, s.Item)
			}
		},
	}.Run(t)
}
