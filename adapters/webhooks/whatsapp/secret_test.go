package whatsapp

import (
	"testing"

	"github.com/interaction-ledger/ledger/adapters/webhooks/metahub"
	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
)

// TestSecretMinimum: the configuration refuses an app secret or a verify token shorter
// than the documented minimum, naming its environment variable, so that "ledger serve"
// will not start with a guessable secret; real app secrets (32 hex characters) and
// verify tokens are accepted.
func TestSecretMinimum(t *testing.T) {
	rules := webhookstest.MetaSecretRules(func(appSecret, verifyToken string) error {
		_, err := New(Config{App: metahub.App{AppSecret: appSecret, VerifyToken: verifyToken}})
		return err
	})
	for _, r := range rules {
		t.Run(r.Field, func(t *testing.T) { webhookstest.CheckSecretRule(t, r) })
	}
}
