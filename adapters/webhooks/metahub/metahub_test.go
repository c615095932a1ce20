package metahub

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
)

func TestVerify(t *testing.T) {
	body := []byte(`{"object":"page","entry":[{"id":"4521","messaging":[]}]}`)
	tampered := []byte(strings.Replace(string(body), "4521", "4522", 1))
	tests := []struct {
		name   string
		header string
		body   []byte
		ok     bool
	}{
		{"valid", webhookstest.MetaSignature(webhookstest.MetaAppSecret, body), body, true},
		{"missing", "", body, false},
		{"wrong secret", webhookstest.MetaSignature("not-the-secret", body), body, false},
		{"tampered body", webhookstest.MetaSignature(webhookstest.MetaAppSecret, body), tampered, false},
		{"no sha256= prefix", strings.TrimPrefix(webhookstest.MetaSignature(webhookstest.MetaAppSecret, body), "sha256="), body, false},
		{"legacy sha1 scheme", "sha1=" + strings.TrimPrefix(webhookstest.MetaSignature(webhookstest.MetaAppSecret, body), "sha256="), body, false},
		{"not hex", "sha256=zz", body, false},
		{"truncated digest", webhookstest.MetaSignature(webhookstest.MetaAppSecret, body)[:40], body, false},
		{"upper-case hex", "sha256=" + strings.ToUpper(strings.TrimPrefix(webhookstest.MetaSignature(webhookstest.MetaAppSecret, body), "sha256=")), body, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.header, tt.body, webhookstest.MetaAppSecret)
			if tt.ok && err != nil {
				t.Fatalf("got %v, want accepted", err)
			}
			if !tt.ok && !errors.Is(err, webhooks.ErrUnauthorized) {
				t.Fatalf("got %v, want ErrUnauthorized", err)
			}
		})
	}
}

func TestHandshake(t *testing.T) {
	tests := []struct {
		name     string
		token    string // configured
		query    url.Values
		wantCode int
		wantBody string
	}{
		{"right token", webhookstest.MetaVerifyToken, url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {webhookstest.MetaVerifyToken}, "hub.challenge": {"1158201444"}}, 200, "1158201444"},
		{"wrong token", webhookstest.MetaVerifyToken, url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {"guess"}, "hub.challenge": {"1158201444"}}, 403, ""},
		{"wrong mode", webhookstest.MetaVerifyToken, url.Values{"hub.mode": {"unsubscribe"}, "hub.verify_token": {webhookstest.MetaVerifyToken}, "hub.challenge": {"1158201444"}}, 403, ""},
		{"no mode", webhookstest.MetaVerifyToken, url.Values{"hub.verify_token": {webhookstest.MetaVerifyToken}, "hub.challenge": {"1158201444"}}, 403, ""},
		{"no challenge", webhookstest.MetaVerifyToken, url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {webhookstest.MetaVerifyToken}}, 403, ""},
		{"no token configured", "", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {""}, "hub.challenge": {"1158201444"}}, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			Handshake(w, httptest.NewRequest(http.MethodGet, "/v1/webhooks/x?"+tt.query.Encode(), nil), tt.token)
			body, _ := io.ReadAll(w.Result().Body)
			if w.Code != tt.wantCode {
				t.Fatalf("got %d, want %d", w.Code, tt.wantCode)
			}
			if tt.wantCode == 200 && string(body) != tt.wantBody {
				t.Errorf("got body %q, want %q", body, tt.wantBody)
			}
			if tt.wantCode != 200 && strings.Contains(string(body), "1158201444") {
				t.Errorf("refusal echoed the challenge: %q", body)
			}
		})
	}
}
