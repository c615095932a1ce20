package mailgun_test

import (
	"testing"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/adapters/webhooks/mailgun"
	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
)

// TestSecretMinimum: the configuration refuses a signing key shorter than the documented
// minimum, naming its environment variable, so that "ledger serve" will not start with
// a guessable secret; real signing keys (old "key-" and 32 hex, new 32 hex and two groups of 8) are accepted.
func TestSecretMinimum(t *testing.T) {
	webhookstest.CheckSecretRule(t, webhookstest.SecretRule{
		Field: "LEDGER_MAILGUN_SIGNING_KEY", Min: webhooks.MinIssuedKeyLen,
		Real:     []string{"key-3f7a9c1e5b2d4f6081a3c5e7092b4d6f", "3f7a9c1e5b2d4f6081a3c5e7092b4d6f-0a1b2c3d-4e5f6a7b"},
		Validate: func(s string) error { _, err := mailgun.New(mailgun.Config{SigningKey: s}); return err },
	})
}
