package webhooks_test

import (
	"strings"
	"testing"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/adapters/webhooks/asterisk"
	"github.com/interaction-ledger/ledger/adapters/webhooks/freeswitch"
	"github.com/interaction-ledger/ledger/adapters/webhooks/mailgun"
	"github.com/interaction-ledger/ledger/adapters/webhooks/messenger"
	"github.com/interaction-ledger/ledger/adapters/webhooks/metahub"
	"github.com/interaction-ledger/ledger/adapters/webhooks/telegram"
	"github.com/interaction-ledger/ledger/adapters/webhooks/twilio"
	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
	"github.com/interaction-ledger/ledger/adapters/webhooks/whatsapp"
)

// TestSecretMinimum: every provider's configuration refuses a secret shorter than its
// documented minimum, naming its environment variable, so that "ledger serve" will not
// start with a guessable secret; secrets in the provider's real format are accepted: CDR
// tokens ("openssl rand -hex 16"), Mailgun signing keys (old "key-" and 32 hex, new 32
// hex and two groups of 8), Twilio auth tokens and Meta app secrets (32 hex), Meta verify
// tokens, Telegram secret tokens (up to Telegram's 256 characters).
func TestSecretMinimum(t *testing.T) {
	cdrTokens := []string{"3f7a9c1e5b2d4f6081a3c5e7092b4d6f", "Zt8v-Qm2x_Lp5rWc"}
	meta := func(build func(metahub.App) error) []webhookstest.SecretRule {
		return webhookstest.MetaSecretRules(func(appSecret, verifyToken string) error {
			return build(metahub.App{AppSecret: appSecret, VerifyToken: verifyToken})
		})
	}
	providers := []struct {
		name  string
		rules []webhookstest.SecretRule
	}{
		{asterisk.Name, []webhookstest.SecretRule{{Field: "LEDGER_CDR_TOKEN", Min: webhooks.MinTokenLen, Real: cdrTokens,
			Validate: func(s string) error { _, err := asterisk.New(asterisk.Config{Token: s}); return err }}}},
		{freeswitch.Name, []webhookstest.SecretRule{{Field: "LEDGER_CDR_TOKEN", Min: webhooks.MinTokenLen, Real: cdrTokens,
			Validate: func(s string) error { _, err := freeswitch.New(freeswitch.Config{Token: s}); return err }}}},
		{mailgun.Name, []webhookstest.SecretRule{{Field: "LEDGER_MAILGUN_SIGNING_KEY", Min: webhooks.MinIssuedKeyLen,
			Real:     []string{"key-3f7a9c1e5b2d4f6081a3c5e7092b4d6f", "3f7a9c1e5b2d4f6081a3c5e7092b4d6f-0a1b2c3d-4e5f6a7b"},
			Validate: func(s string) error { _, err := mailgun.New(mailgun.Config{SigningKey: s}); return err }}}},
		{twilio.Name, []webhookstest.SecretRule{{Field: "LEDGER_TWILIO_AUTH_TOKEN", Min: webhooks.MinIssuedKeyLen,
			Real: []string{"3f7a9c1e5b2d4f6081a3c5e7092b4d6f"},
			Validate: func(s string) error {
				_, err := twilio.New(twilio.Config{AuthToken: s, PublicURL: "https://ledger.example.com"})
				return err
			}}}},
		{telegram.Name, []webhookstest.SecretRule{{Field: "LEDGER_TELEGRAM_SECRET_TOKEN", Min: webhooks.MinTokenLen,
			Real:     []string{"ledger_tg-5f0c2a9e71b4", strings.Repeat("aZ0_-", 51) + "x"},
			Validate: func(s string) error { _, err := telegram.New(telegram.Config{SecretToken: s}); return err }}}},
		{whatsapp.Name, meta(func(app metahub.App) error { _, err := whatsapp.New(whatsapp.Config{App: app}); return err })},
		{messenger.Name, meta(func(app metahub.App) error { _, err := messenger.New(messenger.Config{App: app}); return err })},
	}
	for _, p := range providers {
		for _, r := range p.rules {
			t.Run(p.name+"/"+r.Field, func(t *testing.T) { webhookstest.CheckSecretRule(t, r) })
		}
	}
}
