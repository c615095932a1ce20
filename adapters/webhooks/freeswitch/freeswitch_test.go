package freeswitch_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/adapters/webhooks/freeswitch"
	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
)

const (
	cdrToken = "cdr-secret-token"
	path     = "/v1/webhooks/freeswitch"
)

var now = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func newProvider(t testing.TB) *freeswitch.Provider {
	return webhookstest.Must[*freeswitch.Provider](t)(freeswitch.New(freeswitch.Config{Token: cdrToken, Region: "FR"}))
}

func post(body []byte, auth string) *http.Request {
	return webhookstest.CDRPost(freeswitch.Name, body, auth)
}

type wantEvent = webhookstest.WantJSON

func TestTranslateRecorded(t *testing.T) {
	const (
		answered = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
		missed   = "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e"
		busy     = "c3d4e5f6-a7b8-4c9d-8e0f-2a3b4c5d6e7f"
	)
	tests := []struct {
		file string
		want []wantEvent
	}{
		{"inbound_queue_answered.json", []wantEvent{
			{"interaction.started", webhooks.EventID("freeswitch", answered, "started"), time.UnixMicro(1795252443123456), "tel:+33612345678",
				`{"interaction_id":"` + answered + `","flow":"voice","direction":"incoming","routing":"smart","queue_id":"support@default","agent_id":"1001@default","contact":{"phone":"+33612345678"}}`},
			{"interaction.ended", webhooks.EventID("freeswitch", answered, "ended"), time.UnixMicro(1795252780654321), "tel:+33612345678",
				`{"interaction_id":"` + answered + `","status":"processed"}`},
		}},
		{"inbound_no_answer.form", []wantEvent{
			{"interaction.started", webhooks.EventID("freeswitch", missed, "started"), time.UnixMicro(1795252841123456), "tel:+33698765432",
				`{"interaction_id":"` + missed + `","flow":"voice","direction":"incoming","routing":"direct","agent_id":"1003","contact":{"phone":"+33698765432"}}`},
			{"interaction.ended", webhooks.EventID("freeswitch", missed, "ended"), time.UnixMicro(1795252871654321), "tel:+33698765432",
				`{"interaction_id":"` + missed + `","status":"aborted","reason":"NO_ANSWER"}`},
		}},
		{"outgoing_user_busy.b64.form", []wantEvent{
			{"interaction.started", webhooks.EventID("freeswitch", busy, "started"), time.UnixMicro(1795253460123456), "tel:+14155551234",
				`{"interaction_id":"` + busy + `","flow":"voice","direction":"outgoing","routing":"direct","agent_id":"1002","contact":{"phone":"+14155551234"}}`},
			{"interaction.ended", webhooks.EventID("freeswitch", busy, "ended"), time.UnixMicro(1795253467654321), "tel:+14155551234",
				`{"interaction_id":"` + busy + `","status":"aborted","reason":"USER_BUSY"}`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := webhookstest.Serve(t, newProvider(t), now, post(webhookstest.Load(t, tt.file), webhookstest.Basic("freeswitch", cdrToken)))
			webhookstest.CheckEventsJSON(t, got, tt.want, "freeswitch")
		})
	}
}

func TestAuthMatrix(t *testing.T) {
	body := webhookstest.Load(t, "inbound_no_answer.form")
	webhookstest.CheckAuth(t, webhookstest.Handlers(newProvider(t), now), func(auth string) *http.Request { return post(body, auth) }, []webhookstest.AuthCase{
		{"basic password", webhookstest.Basic("freeswitch", cdrToken), http.StatusOK},
		{"bearer", "Bearer " + cdrToken, http.StatusOK},
		{"missing", "", http.StatusUnauthorized},
		{"wrong password", webhookstest.Basic("freeswitch", "nope"), http.StatusUnauthorized},
		{"token as user", webhookstest.Basic(cdrToken, "x"), http.StatusUnauthorized},
		{"wrong bearer", "Bearer " + cdrToken + "x", http.StatusUnauthorized},
	})
}

func TestIdempotentRetry(t *testing.T) {
	body := webhookstest.Load(t, "inbound_queue_answered.json")
	webhookstest.CheckPostedTwice(t, webhookstest.Handlers(newProvider(t), now), func() *http.Request { return post(body, webhookstest.Basic("fs", cdrToken)) }, 2)
}

func TestTranslateRejects(t *testing.T) {
	p := newProvider(t)
	form := func(s string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, path, nil)
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	for _, body := range []string{
		`[]`,
		`{"variables":{"direction":"inbound"}}`,
		`{"variables":{"uuid":"u1","direction":"inbound","caller_id_number":"+33612345678","end_epoch":"1795252780"},"callflow":[{"caller_profile":{"context":"public"}}]}`,
		`{"variables":{"uuid":"u1","start_epoch":"soon","end_epoch":"1795252780","caller_id_number":"+33612345678"}}`,
		`{"variables":{"uuid":"u1","start_epoch":"1000","end_epoch":"1001","destination_number":"+33612345678"}}`,
		`not json nor base64!`,
	} {
		if evs, err := p.Translate(nil, []byte(body), now); !errors.Is(err, webhooks.ErrBadPayload) {
			t.Errorf("%s: got %v, %v; want ErrBadPayload", body, evs, err)
		}
	}
	if evs, err := p.Translate(form(""), []byte("foo=bar"), now); !errors.Is(err, webhooks.ErrBadPayload) {
		t.Errorf("form without cdr: got %v, %v", evs, err)
	}
}

func FuzzTranslate(f *testing.F) {
	p := newProvider(f)
	webhookstest.Fuzz(f, p, now, nil)
}
