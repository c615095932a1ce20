package node

import (
	"strings"
	"testing"
)

// TestWebhookSecretsUnderMinimumRefuseToStart: the node builds no webhook provider from a
// guessable secret (LEDGER_CDR_TOKEN=abc and the like): the error that stops "ledger
// serve" names the environment variable to fix; real-length secrets start.
func TestWebhookSecretsUnderMinimumRefuseToStart(t *testing.T) {
	const (
		token = "3f7a9c1e5b2d4f60" // 16 bytes: the floor for tokens the operator chooses
		key   = "3f7a9c1e5b2d4f6081a3c5e7092b4d6f"
	)
	tests := []struct {
		name    string
		secrets WebhookSecrets
		want    string // the variable the error names; "" for no error
	}{
		{"real secrets", WebhookSecrets{PublicURL: "https://ledger.example.com", TwilioToken: key, MailgunKey: "key-" + key,
			MetaSecret: key, MetaVerify: token, TelegramSecret: token, CDRToken: token}, ""},
		{"CDR token", WebhookSecrets{CDRToken: "abc"}, "LEDGER_CDR_TOKEN"},
		{"Telegram secret token", WebhookSecrets{TelegramSecret: "abc"}, "LEDGER_TELEGRAM_SECRET_TOKEN"},
		{"Twilio auth token", WebhookSecrets{PublicURL: "https://ledger.example.com", TwilioToken: "abc"}, "LEDGER_TWILIO_AUTH_TOKEN"},
		{"Mailgun signing key", WebhookSecrets{MailgunKey: "abc"}, "LEDGER_MAILGUN_SIGNING_KEY"},
		{"Meta app secret", WebhookSecrets{MetaSecret: "abc"}, "LEDGER_META_APP_SECRET"},
		{"Meta verify token", WebhookSecrets{MetaSecret: key, MetaVerify: "abc"}, "LEDGER_META_VERIFY_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := webhookProviders(Config{Webhooks: tt.secrets})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want the providers built", err)
				}
				if len(ps) != 7 { // all but SendGrid, whose key is public and not set here
					t.Fatalf("got %d providers, want 7", len(ps))
				}
				return
			}
			if err == nil {
				t.Fatalf("got %d providers and no error, want %s refused", len(ps), tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %s", err, tt.want)
			}
		})
	}
}
