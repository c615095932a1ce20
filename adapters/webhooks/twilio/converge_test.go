package twilio_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
	"github.com/interaction-ledger/ledger/domain"
)

// TestConvergence: an inbound call answered by TwiML, then <Dial>led to agent bob. With
// every progress event subscribed Twilio sends ringing, in-progress, the child leg's
// completed and the call's completed; with Twilio's default (completed only) just the two
// completed. Every order, every retry and the default configuration give the same row,
// card item and detail: the call starts when it was answered (completed minus
// CallDuration, which is in-progress's time) and its current agent is bob.
func TestConvergence(t *testing.T) {
	files := []string{"voice_inbound_ringing.form", "voice_inbound_in_progress.form", "voice_dial_child_completed.form", "voice_inbound_completed.form"}
	webhookstest.Convergence{
		Deliver: func(t *testing.T, i int) []domain.Event {
			app, got := webhookstest.Capture()
			w := httptest.NewRecorder()
			newHandler(t, app).ServeHTTP(w, signedRequest(t, token, path, webhookstest.Load(t, files[i])))
			if w.Code != http.StatusOK {
				t.Fatalf("%s: code %d, body %s", files[i], w.Code, w.Body)
			}
			return *got
		},
		N:             len(files),
		Final:         []int{2, 3},
		InteractionID: "CA5a0ec1d9a2f1c7b5e4d3c2b1a0f9e8d7",
		CustomerID:    "tel:+14155551234",
		Check: func(t *testing.T, s webhookstest.Snapshot) {
			if s.Row["agent_id"] != "bob" || s.Row["status"] != "processed" || s.Row["start_at"] != "2026-11-21T09:14:08Z" ||
				s.Row["flow"] != "voice" || s.Row["direction"] != "incoming" || s.Row["contact"] != "+14155551234" {
				t.Errorf("row %v: want bob's processed incoming call from +14155551234, answered at 09:14:08", s.Row)
			}
		},
	}.Run(t)
}
