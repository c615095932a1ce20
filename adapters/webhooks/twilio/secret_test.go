package twilio_test

import (
	"testing"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/adapters/webhooks/twilio"
	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
)

// TestSecretMinimum: the configuration refuses an auth token shorter than the documented
// minimum, naming its environment variable, so that "ledger serve" will not start with
// a guessable secret; real auth tokens (32 hex characters) are accepted.
func TestSecretMinimum(t *testing.T) {
	webhookstest.CheckSecretRule(t, webhookstest.SecretRule{
		Field: "LEDGER_TWILIO_AUTH_TOKEN", Min: webhooks.MinIssuedKeyLen,
		Real: []string{"3f7a9c1e5b2d4f6081a3c5e7092b4d6f"},
		Validate: func(s string) error {
			_, err := twilio.New(twilio.Config{AuthToken: s, PublicURL: publicURL})
			return err
		},
	})
}
