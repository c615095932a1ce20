package messenger

import (
	"testing"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
)

// TestSecretMinimum: the configuration refuses an app secret or a verify token shorter than the documented
// minimum, naming its environment variable, so that "ledger serve" will not start with
// a guessable secret; real app secrets (32 hex characters) and verify tokens are accepted.
func TestSecretMinimum(t *testing.T) {
	rules := []webhookstest.SecretRule{
		{
			Field: "LEDGER_META_APP_SECRET", Min: webhooks.MinIssuedKeyLen,
			Real:     []string{"9f86d081884c7d659a2feaa0c55ad015"},
			Validate: func(s string) error { _, err := New(Config{AppSecret: s, VerifyToken: testToken}); return err },
		},
		{
			Field: "LEDGER_META_VERIFY_TOKEN", Min: webhooks.MinTokenLen, Optional: true,
			Real:     []string{"ledger-verify-7c1e", "3f7a9c1e5b2d4f6081a3c5e7092b4d6f"},
			Validate: func(s string) error { _, err := New(Config{AppSecret: testSecret, VerifyToken: s}); return err },
		},
	}
	for _, r := range rules {
		t.Run(r.Field, func(t *testing.T) { webhookstest.CheckSecretRule(t, r) })
	}
}
