package twilio_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/adapters/webhooks/twilio"
	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
)

// jsonRequest builds a JSON-bodied webhook as Twilio signs it: the body's hex SHA-256 in
// the bodySHA256 query parameter, the signature over the full URL and no parameters.
func jsonRequest(t *testing.T, secret, uri string, body []byte) *http.Request {
	t.Helper()
	sum := sha256.Sum256(body)
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	uri += sep + "bodySHA256=" + hex.EncodeToString(sum[:])
	r := httptest.NewRequest(http.MethodPost, uri, strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Twilio-Signature", twilio.Signature(secret, publicURL+uri, nil))
	return r
}

// TestJSONBodied: a JSON-bodied callback (verified by the bodySHA256 variant, see
// TestSignatureMatrix) is translated exactly as the same callback form-encoded.
func TestJSONBodied(t *testing.T) {
	formApp, want := webhookstest.Capture()
	w := httptest.NewRecorder()
	newHandler(t, formApp).ServeHTTP(w, signedRequest(t, token, path, webhookstest.Load(t, "voice_inbound_completed.form")))
	jsonApp, got := webhookstest.Capture()
	w2 := httptest.NewRecorder()
	newHandler(t, jsonApp).ServeHTTP(w2, jsonRequest(t, token, path, webhookstest.Load(t, "voice_inbound_completed.json")))
	if w.Code != http.StatusOK || w2.Code != http.StatusOK || len(*want) != 2 || len(*got) != len(*want) {
		t.Fatalf("form: code %d, %d events; JSON: code %d, %d events", w.Code, len(*want), w2.Code, len(*got))
	}
	for i, ev := range *got {
		if w := (*want)[i]; ev.ID != w.ID || ev.Type != w.Type || !ev.OccurredAt.Equal(w.OccurredAt) || string(ev.Data) != string(w.Data) {
			t.Errorf("event %d: got %s %s %s, want the form's %s %s %s", i, ev.Type, ev.ID, ev.Data, w.Type, w.ID, w.Data)
		}
	}
}

// TestDialChildLegs: a <Dial> child leg belongs to its parent call; an answered leg
// routes the call to the agent it reached (answered at its end minus CallDuration), and
// a leg nobody answered records nothing.
func TestDialChildLegs(t *testing.T) {
	const parent = "CA5a0ec1d9a2f1c7b5e4d3c2b1a0f9e8d7"
	tests := []struct {
		file string
		want []wantEvent
	}{
		{"voice_dial_child_completed.form", []wantEvent{{
			Type: "interaction.routed", ID: webhooks.EventID("twilio", "CA0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f", "completed", "2"),
			OccurredAt: time.Date(2026, 11, 21, 9, 14, 30, 0, time.UTC), CustomerID: "tel:+14155551234",
			Data: `{"interaction_id":"` + parent + `","routing":"direct","agent_id":"bob"}`,
		}}},
		{"voice_dial_child_no_answer.form", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			app, got := webhookstest.Capture()
			w := httptest.NewRecorder()
			newHandler(t, app).ServeHTTP(w, signedRequest(t, token, path, webhookstest.Load(t, tt.file)))
			if w.Code != http.StatusOK {
				t.Fatalf("code %d, body %s", w.Code, w.Body)
			}
			webhookstest.CheckEventsJSON(t, *got, tt.want, "twilio")
		})
	}
}

// TestRecording: a completed callback of a recorded call carries the recording on its
// ended event (the detail shows it); a recording status callback, which names no party,
// is accepted and records nothing.
func TestRecording(t *testing.T) {
	const call = "CA5a0ec1d9a2f1c7b5e4d3c2b1a0f9e8d7"
	app, got := webhookstest.Capture()
	w := httptest.NewRecorder()
	newHandler(t, app).ServeHTTP(w, signedRequest(t, token, path, webhookstest.Load(t, "voice_inbound_completed_recorded.form")))
	if w.Code != http.StatusOK {
		t.Fatalf("code %d, body %s", w.Code, w.Body)
	}
	webhookstest.CheckEventsJSON(t, *got, []wantEvent{
		webhookstest.Inferred("twilio", webhooks.EventID("twilio", call, "completed", "3"), time.Date(2026, 11, 21, 9, 14, 8, 0, time.UTC),
			"tel:+14155551234", `{"interaction_id":"`+call+`","flow":"voice","direction":"incoming","routing":"direct","contact":{"phone":"+14155551234"}}`),
		{Type: "interaction.ended", ID: webhooks.EventID("twilio", call, "completed", "3"),
			OccurredAt: time.Date(2026, 11, 21, 9, 16, 15, 0, time.UTC), CustomerID: "tel:+14155551234",
			Data: `{"interaction_id":"` + call + `","status":"processed","recording_url":"https://api.twilio.com/2010-04-01/Accounts/ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX/Recordings/RE1a2b3c4d5e6f708192a3b4c5d6e7f8091",` +
				`"recording_sid":"RE1a2b3c4d5e6f708192a3b4c5d6e7f8091","recording_duration_s":125}`},
	}, "twilio")

	app, got = webhookstest.Capture()
	w = httptest.NewRecorder()
	newHandler(t, app).ServeHTTP(w, signedRequest(t, token, path, webhookstest.Load(t, "recording_status_completed.form")))
	if w.Code != http.StatusOK || len(*got) != 0 {
		t.Fatalf("recording status callback: code %d, %d events, want 200 and none", w.Code, len(*got))
	}
}
