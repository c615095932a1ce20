package asterisk_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/adapters/webhooks/asterisk"
	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
)

const cdrToken = "cdr-secret-token"

var (
	now   = time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)
	paris = time.FixedZone("CET", 3600) // the PBX's local time in November
)

func newProvider(t testing.TB) *asterisk.Provider {
	return webhookstest.Must[*asterisk.Provider](t)(asterisk.New(asterisk.Config{Token: cdrToken, Location: paris, Region: "FR"}))
}

func post(body []byte, auth string) *http.Request {
	return webhookstest.CDRPost(asterisk.Name, body, auth)
}

type wantEvent = webhookstest.WantJSON

func at(h, m, s int) time.Time { return time.Date(2026, 11, 21, h, m, s, 0, paris) }

func TestTranslateRecorded(t *testing.T) {
	tests := []struct {
		file string
		want []wantEvent
	}{
		{"incoming_queue_answered.json", []wantEvent{
			{"interaction.started", webhooks.EventID("asterisk", "1795252443.42", "17", "2026-11-21 10:14:03", "started"), at(10, 14, 3), "tel:+33612345678",
				`{"interaction_id":"1795252443.42","flow":"voice","direction":"incoming","routing":"smart","queue_id":"support","agent_id":"1001","contact":{"phone":"+33612345678"}}`},
			{"interaction.ended", webhooks.EventID("asterisk", "1795252443.42", "17", "2026-11-21 10:14:03", "ended"), at(10, 19, 40), "tel:+33612345678",
				`{"interaction_id":"1795252443.42","status":"processed"}`},
		}},
		{"outgoing_busy.json", []wantEvent{
			{"interaction.started", webhooks.EventID("asterisk", "1795253400.43", "", "2026-11-21 10:30:00", "started"), at(10, 30, 0), "tel:+14155551234",
				`{"interaction_id":"1795253400.43","flow":"voice","direction":"outgoing","routing":"direct","agent_id":"1002","contact":{"phone":"+14155551234"}}`},
			{"interaction.ended", webhooks.EventID("asterisk", "1795253400.43", "", "2026-11-21 10:30:00", "ended"), at(10, 30, 7), "tel:+14155551234",
				`{"interaction_id":"1795253400.43","status":"aborted","reason":"BUSY"}`},
		}},
		{"batch_with_internal.json", []wantEvent{ // the internal 1001 → 1002 call records nothing
			{"interaction.started", webhooks.EventID("asterisk", "1795254300.45", "", "2026-11-21 10:45:00", "started"), at(10, 45, 0), "tel:+33612345678",
				`{"interaction_id":"1795254300.45","flow":"voice","direction":"incoming","routing":"direct","agent_id":"1003","contact":{"phone":"+33612345678"}}`},
			{"interaction.ended", webhooks.EventID("asterisk", "1795254300.45", "", "2026-11-21 10:45:00", "ended"), at(10, 45, 30), "tel:+33612345678",
				`{"interaction_id":"1795254300.45","status":"aborted","reason":"NO ANSWER"}`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := webhookstest.Serve(t, newProvider(t), now, post(webhookstest.Load(t, tt.file), "Bearer "+cdrToken))
			webhookstest.CheckEventsJSON(t, got, tt.want, "asterisk")
		})
	}
}

func TestAuthMatrix(t *testing.T) {
	body := webhookstest.Load(t, "outgoing_busy.json")
	webhookstest.CheckAuth(t, webhookstest.Handlers(newProvider(t), now), func(auth string) *http.Request { return post(body, auth) }, []webhookstest.AuthCase{
		{"bearer", "Bearer " + cdrToken, http.StatusOK},
		{"basic password", webhookstest.Basic("asterisk", cdrToken), http.StatusOK},
		{"missing", "", http.StatusUnauthorized},
		{"wrong bearer", "Bearer not-the-token", http.StatusUnauthorized},
		{"token as basic user", webhookstest.Basic(cdrToken, ""), http.StatusUnauthorized},
		{"wrong basic password", webhookstest.Basic("asterisk", "nope"), http.StatusUnauthorized},
		{"bad basic encoding", "Basic %%%", http.StatusUnauthorized},
		{"other scheme", "Digest " + cdrToken, http.StatusUnauthorized},
		{"prefix of token", "Bearer " + cdrToken[:5], http.StatusUnauthorized},
	})
}

func TestIdempotentRetry(t *testing.T) {
	body := webhookstest.Load(t, "incoming_queue_answered.json")
	webhookstest.CheckPostedTwice(t, webhookstest.Handlers(newProvider(t), now), func() *http.Request { return post(body, "Bearer "+cdrToken) }, 2)
}

func TestTranslateRejects(t *testing.T) {
	p := newProvider(t)
	for _, body := range []string{
		`"cdr"`,
		`{"src":"0612345678","dcontext":"from-external","start":"2026-11-21 10:00:00","end":"2026-11-21 10:01:00","disposition":"ANSWERED"}`,
		`{"uniqueid":"1.1","src":"0612345678","dcontext":"from-external","end":"2026-11-21 10:01:00","disposition":"ANSWERED"}`,
		`{"uniqueid":"1.1","src":"0612345678","dcontext":"from-external","start":"yesterday","disposition":"ANSWERED"}`,
		`{"uniqueid":"1.1","src":"0612345678","dcontext":"from-external","start":"2026-11-21 10:00:00","disposition":"ANSWERED"}`,
		`{"uniqueid":"1.1","src":"0612345678","dcontext":"from-external","start":"2026-11-21 10:00:00","end":"2026-11-21 10:01:00"}`,
		`{"uniqueid":"1.1","src":"0612345678","dcontext":"from-external","start":"2020-11-21 10:00:00","end":"2020-11-21 10:01:00","disposition":"ANSWERED"}`,
		`{"uniqueid":true}`,
	} {
		if evs, err := p.Translate(nil, []byte(body), now); !errors.Is(err, webhooks.ErrBadPayload) {
			t.Errorf("%s: got %v, %v; want ErrBadPayload", body, evs, err)
		}
	}
}

func FuzzTranslate(f *testing.F) {
	p := newProvider(f)
	webhookstest.Fuzz(f, p, now, nil)
}
