package sendgrid_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
	"github.com/interaction-ledger/ledger/domain"
)

// TestConvergence: an e-mail's processed, deferred, delivered, open, spam report and
// click, each posted on its own as SendGrid does when they happen minutes apart, give the
// same row, card item and detail in any order and twice, the complaint's warning being
// the status and the click beside the open; an account that subscribes to delivered,
// open, click and spam reports only gets the same, but for the start: the delivered's
// time, as SendGrid's later events carry no time of sending.
func TestConvergence(t *testing.T) {
	key, pub := newKey(t)
	callbacks := webhookstest.SplitJSONArray(t, webhookstest.Load(t, "batch_lifecycle.json"))[:4] // the click is another recipient's
	callbacks = append(callbacks, webhookstest.SplitJSONArray(t, webhookstest.Load(t, "batch_complaints.json"))[0],
		webhookstest.Load(t, "click.json"))
	webhookstest.Convergence{
		Deliver: func(t *testing.T, i int) []domain.Event {
			app, got := webhookstest.Capture()
			w := httptest.NewRecorder()
			newHandler(t, app, pub).ServeHTTP(w, signedRequest(t, key, now.Add(-time.Minute), callbacks[i]))
			if w.Code != http.StatusOK {
				t.Fatalf("callback %d: code %d, body %s", i, w.Code, w.Body)
			}
			return *got
		},
		N:             len(callbacks),
		Final:         []int{2, 3, 4, 5},
		FinalDiffers:  []string{"row.start_at", "detail.start_at", "item.occurred_at"},
		InteractionID: "14c5d75ce93",
		CustomerID:    "cust-42",
		Check: func(t *testing.T, s webhookstest.Snapshot) {
			if s.Row["status"] != "warning" || s.Row["reason"] != "spam complaint" || s.Item["opened_at"] == nil {
				t.Errorf("row %v, item %v: want the spam complaint's warning and the open", s.Row, s.Item)
			}
			webhookstest.CheckClicked(t, s, "2026-11-21T09:32:00Z", 1)
		},
	}.Run(t)
}
