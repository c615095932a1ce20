package asterisk_test

import (
	"testing"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/adapters/webhooks/asterisk"
	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
)

// TestSecretMinimum: the configuration refuses a CDR token shorter than the documented
// minimum, naming its environment variable, so that "ledger serve" will not start with
// a guessable secret; real tokens ("openssl rand -hex 16") are accepted.
func TestSecretMinimum(t *testing.T) {
	webhookstest.CheckSecretRule(t, webhookstest.SecretRule{
		Field: "LEDGER_CDR_TOKEN", Min: webhooks.MinTokenLen,
		Real:     []string{"3f7a9c1e5b2d4f6081a3c5e7092b4d6f", "Zt8v-Qm2x_Lp5rWc"},
		Validate: func(s string) error { _, err := asterisk.New(asterisk.Config{Token: s}); return err },
	})
}
