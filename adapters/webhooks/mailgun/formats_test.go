package mailgun_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/adapters/webhooks/mailgun"
	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
	"github.com/interaction-ledger/ledger/domain"
)

// signLegacy signs a recorded legacy form with key: signature = hex HMAC-SHA256 of the
// form's timestamp and token, as Mailgun's legacy webhooks post it.
func signLegacy(t *testing.T, body []byte, key string) []byte {
	t.Helper()
	f, err := url.ParseQuery(string(body))
	if err != nil {
		t.Fatal(err)
	}
	f.Set("signature", hex.EncodeToString(mailgun.Sign(key, f.Get("timestamp"), f.Get("token"))))
	return []byte(f.Encode())
}

func postForm(body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// legacyID is the id a legacy webhook's event gets: it has no event id of its own.
func legacyID(event, msg, recipient, ts string) string {
	sum := sha256.Sum256([]byte(event + "\x00" + msg + "\x00" + recipient + "\x00" + ts))
	return webhooks.EventID("mailgun", msg, "legacy-"+hex.EncodeToString(sum[:12]))
}

// TestLegacyForm: legacy form-encoded webhooks are verified with the same signature and
// translated like the JSON ones; a complaint is a warning with its reason.
func TestLegacyForm(t *testing.T) {
	const msg = "20261121091403.000be97f99f8cea1@mg.example.com"
	const bounced = "20261121092041.1c2d3e4f5a6b7c8d@mg.example.com"
	started := func(id, email string) string {
		return `{"interaction_id":"` + id + `","flow":"email","direction":"outgoing","routing":"direct","contact":{"email":"` + email + `"}}`
	}
	ts := func(s string) time.Time { n, _ := strconv.ParseInt(s, 10, 64); return time.Unix(n, 0) }
	// legacy is the event of a legacy webhook (event, message id, recipient as posted, Unix
	// time) for customer, after the started inferred at it (to email).
	legacy := func(event, id, recipient, at, customer, email, typ, data string) []webhookstest.WantJSON {
		return webhookstest.AfterInferred("mailgun", started(id, email),
			webhookstest.WantJSON{typ, legacyID(event, id, recipient, at), ts(at), customer, data})
	}
	tests := []struct {
		file string
		want []webhookstest.WantJSON
	}{
		{"legacy_delivered.form", legacy("delivered", msg, "Jane.Doe@Example.com", "1795252445", "cust-42", "jane.doe@example.com",
			"interaction.ended", `{"interaction_id":"`+msg+`","status":"delivered"}`)},
		{"legacy_opened.form", legacy("opened", msg, "Jane.Doe@Example.com", "1795253460", "cust-42", "jane.doe@example.com",
			"email.opened", `{"interaction_id":"`+msg+`"}`)},
		{"legacy_clicked.form", legacy("clicked", msg, "Jane.Doe@Example.com", "1795253580", "cust-42", "jane.doe@example.com",
			"email.clicked", `{"interaction_id":"`+msg+`","url":"https://shop.example.com/orders/1234"}`)},
		{"legacy_complained.form", legacy("complained", msg, "Jane.Doe@Example.com", "1795254000", "cust-42", "jane.doe@example.com",
			"interaction.ended", `{"interaction_id":"`+msg+`","status":"warning","reason":"spam complaint"}`)},
		{"legacy_bounced.form", legacy("failed", bounced, "nobody@example.org", "1795252841", "mailto:nobody@example.org", "nobody@example.org",
			"interaction.ended", `{"interaction_id":"`+bounced+`","status":"warning","reason":"550 5.1.1 The email account that you tried to reach does not exist."}`)},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			app, got := webhookstest.Capture()
			h := newHandler(t, app)
			body := signLegacy(t, webhookstest.Load(t, tt.file), signingKey)
			for range 2 { // the retry of the same post appends the same ids (duplicates)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, postForm(body))
				if w.Code != http.StatusOK {
					t.Fatalf("code %d, body %s", w.Code, w.Body)
				}
			}
			webhookstest.CheckEventsJSON(t, *got, append(append([]webhookstest.WantJSON(nil), tt.want...), tt.want...), "mailgun")
		})
	}
	t.Run("refused", func(t *testing.T) {
		good := signLegacy(t, webhookstest.Load(t, "legacy_delivered.form"), signingKey)
		for name, body := range map[string][]byte{
			"wrong key":    signLegacy(t, webhookstest.Load(t, "legacy_delivered.form"), "not-the-key"),
			"no signature": []byte(strings.Replace(string(good), "signature=", "unsigned=", 1)),
			"stale":        signLegacy(t, []byte(strings.Replace(string(webhookstest.Load(t, "legacy_delivered.form")), "timestamp=1795252445", "timestamp=1795100000", 1)), signingKey),
		} {
			app, got := webhookstest.Capture()
			w := httptest.NewRecorder()
			newHandler(t, app).ServeHTTP(w, postForm(body))
			if w.Code != http.StatusUnauthorized || len(*got) != 0 {
				t.Errorf("%s: code %d, %d events, want 401 and none", name, w.Code, len(*got))
			}
		}
	})
}

// TestConvergence: an e-mail's accepted, delivered, opened and clicked, in any order and
// twice, give one row, card item and detail, the click beside the open; an account
// subscribed to delivered, opened and clicked only gets the same but for the start (the
// delivered's time: Mailgun's later events carry no time of sending).
func TestConvergence(t *testing.T) {
	files := []string{"accepted.json", "delivered.json", "opened.json", "clicked.json"}
	webhookstest.Convergence{
		Deliver:       deliver(files, false),
		N:             len(files),
		Final:         []int{1, 2, 3},
		FinalDiffers:  []string{"row.start_at", "detail.start_at", "item.occurred_at"},
		InteractionID: "20261121091403.000be97f99f8cea1@mg.example.com",
		CustomerID:    "cust-42",
		Check: func(t *testing.T, s webhookstest.Snapshot) {
			webhookstest.CheckClicked(t, s, "2026-11-21T09:32:00.118Z", 1)
		},
	}.Run(t)
}

// TestConvergenceLegacy: the same over legacy webhooks, which have no accepted: delivered,
// opened, a spam complaint and a click, the complaint's warning winning in every order.
func TestConvergenceLegacy(t *testing.T) {
	files := []string{"legacy_delivered.form", "legacy_opened.form", "legacy_complained.form", "legacy_clicked.form"}
	webhookstest.Convergence{
		Deliver:       deliver(files, true),
		N:             len(files),
		InteractionID: "20261121091403.000be97f99f8cea1@mg.example.com",
		CustomerID:    "cust-42",
		Check: func(t *testing.T, s webhookstest.Snapshot) {
			if s.Row["status"] != "warning" || s.Row["reason"] != "spam complaint" || s.Row["flow"] != "email" {
				t.Errorf("row %v: want an e-mail with the spam complaint's warning", s.Row)
			}
			webhookstest.CheckClicked(t, s, "2026-11-21T09:33:00Z", 1)
		},
	}.Run(t)
}

func deliver(files []string, legacy bool) func(t *testing.T, i int) []domain.Event {
	return func(t *testing.T, i int) []domain.Event {
		app, got := webhookstest.Capture()
		var req *http.Request
		if legacy {
			req = postForm(signLegacy(t, webhookstest.Load(t, files[i]), signingKey))
		} else {
			req = post(resign(t, webhookstest.Load(t, files[i]), signingKey, now.Add(-time.Minute)))
		}
		w := httptest.NewRecorder()
		newHandler(t, app).ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: code %d, body %s", files[i], w.Code, w.Body)
		}
		return *got
	}
}
