package telegram

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
)

// TestConvergence: two messages of one private chat, in either order and each twice
// (Telegram redelivers until it gets a 2xx), give one row, card item and detail that
// start with the first message. Telegram has no receipts and no other subscription:
// every update is a message, and each one carries the whole dialogue's started, so there
// is no final-only configuration to test.
func TestConvergence(t *testing.T) {
	webhookstest.Convergence{
		Send: webhookstest.Sender(newProvider(t), now, func(body []byte) *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/v1/webhooks/telegram", strings.NewReader(string(body)))
			r.Header.Set("X-Telegram-Bot-Api-Secret-Token", testSecret)
			return r
		}),
		Bodies:        webhookstest.LoadAll(t, "private_text.json", "private_text_followup.json"),
		InteractionID: "tg:" + chat + ":2026-11-21",
		CustomerID:    "telegram:" + chat,
		Check: func(t *testing.T, s webhookstest.Snapshot) {
			if s.Row["flow"] != "telegram" || s.Row["start_at"] != "2026-11-21T09:14:03Z" || s.Item["message_count"] != float64(2) {
				t.Errorf("row %v, item %v: want a telegram dialogue from 09:14:03 with two messages", s.Row, s.Item)
			}
		},
	}.Run(t)
}
