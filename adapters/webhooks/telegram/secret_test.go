package telegram

import (
	"strings"
	"testing"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
)

// TestSecretMinimum: the configuration refuses a secret_token shorter than the documented
// minimum, naming its environment variable, so that "ledger serve" will not start with
// a guessable secret; real secret tokens (up to Telegram's 256 characters) are accepted.
func TestSecretMinimum(t *testing.T) {
	webhookstest.CheckSecretRule(t, webhookstest.SecretRule{
		Field: "LEDGER_TELEGRAM_SECRET_TOKEN", Min: webhooks.MinTokenLen,
		Real:     []string{"ledger_tg-5f0c2a9e71b4", strings.Repeat("aZ0_-", 51) + "x"},
		Validate: func(s string) error { _, err := New(Config{SecretToken: s}); return err },
	})
}
