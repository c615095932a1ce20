package webhookstest

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/domain"
)

// The Meta app's secrets of the recorded payloads: MetaAppSecret signs them,
// MetaVerifyToken is typed in the App Dashboard.
const (
	MetaAppSecret   = "9f86d081884c7d659a2feaa0c55ad015"
	MetaVerifyToken = "ledger-verify-7c1e"
)

// MetaProvider is a provider on Meta's scheme (WhatsApp, Messenger).
type MetaProvider interface {
	webhooks.Provider
	webhooks.Handshaker
}

// CheckMetaWiring checks that p is wired to Meta's scheme with secret and verifyToken
// (the metahub package tests the scheme's whole matrix): a signed body passes Verify, a
// tampered, unsigned or wrongly signed one does not, and the handshake answers the
// configured token only.
func CheckMetaWiring(t *testing.T, p MetaProvider, body []byte, secret, verifyToken string, now time.Time) {
	t.Helper()
	path := "/v1/webhooks/" + p.Name()
	for _, tt := range []struct {
		name   string
		header string
		body   []byte
		ok     bool
	}{
		{"valid", MetaSignature(secret, body), body, true},
		{"missing", "", body, false},
		{"wrong secret", MetaSignature("not-the-secret", body), body, false},
		{"tampered body", MetaSignature(secret, body), append([]byte(" "), body...), false},
	} {
		r := httptest.NewRequest(http.MethodPost, path, nil)
		if tt.header != "" {
			r.Header.Set("X-Hub-Signature-256", tt.header)
		}
		err := p.Verify(r, tt.body, now)
		if tt.ok != (err == nil) || (err != nil && !errors.Is(err, webhooks.ErrUnauthorized)) {
			t.Errorf("%s: Verify = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
	for token, code := range map[string]int{verifyToken: 200, "guess": 403} {
		q := url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {token}, "hub.challenge": {"1158201444"}}
		w := httptest.NewRecorder()
		p.Handshake(w, httptest.NewRequest(http.MethodGet, path+"?"+q.Encode(), nil))
		if w.Code != code {
			t.Errorf("handshake with token %q: got %d, want %d", token, w.Code, code)
		}
	}
}

// MetaSecretRules are the rules of Meta's two secrets (WhatsApp, Messenger), for a
// provider that validate builds from an app secret and a verify token; run each with
// CheckSecretRule.
func MetaSecretRules(validate func(appSecret, verifyToken string) error) []SecretRule {
	const appSecret, verifyToken = MetaAppSecret, MetaVerifyToken
	return []SecretRule{
		{
			Field: "LEDGER_META_APP_SECRET", Min: webhooks.MinIssuedKeyLen,
			Real:     []string{appSecret},
			Validate: func(s string) error { return validate(s, verifyToken) },
		},
		{
			Field: "LEDGER_META_VERIFY_TOKEN", Min: webhooks.MinTokenLen, Optional: true,
			Real:     []string{verifyToken, "3f7a9c1e5b2d4f6081a3c5e7092b4d6f"},
			Validate: func(s string) error { return validate(appSecret, s) },
		},
	}
}

// MetaSender is Sender for a Meta provider: each body is posted signed with
// MetaAppSecret (MetaPost).
func MetaSender(p MetaProvider, now time.Time) func(t *testing.T, body []byte) []domain.Event {
	return Sender(p, now, func(body []byte) *http.Request { return MetaPost(p.Name(), MetaAppSecret, body) })
}

// MetaPost is the POST Meta sends to provider's webhook: body signed with secret.
func MetaPost(provider, secret string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/webhooks/"+provider, bytes.NewReader(body))
	r.Header.Set("X-Hub-Signature-256", MetaSignature(secret, body))
	return r
}
