package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/adapters/webhooks/asterisk"
	"github.com/interaction-ledger/ledger/adapters/webhooks/freeswitch"
	"github.com/interaction-ledger/ledger/adapters/webhooks/mailgun"
	"github.com/interaction-ledger/ledger/adapters/webhooks/messenger"
	"github.com/interaction-ledger/ledger/adapters/webhooks/metahub"
	"github.com/interaction-ledger/ledger/adapters/webhooks/sendgrid"
	"github.com/interaction-ledger/ledger/adapters/webhooks/telegram"
	"github.com/interaction-ledger/ledger/adapters/webhooks/twilio"
	"github.com/interaction-ledger/ledger/adapters/webhooks/whatsapp"
)

// loadCustomerMap reads LEDGER_CUSTOMER_MAP: a JSON object from contact keys
// ("tel:+14155550100", "mailto:a@b.c", "messenger:<psid>", "telegram:<chat id>") to the
// operator's customer ids. Contacts it does not name are their own customer key.
func loadCustomerMap(path string) (func(string) (string, bool), error) {
	if path == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("LEDGER_CUSTOMER_MAP: %w", err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("LEDGER_CUSTOMER_MAP %s: not a JSON object of strings: %w", path, err)
	}
	return func(key string) (string, bool) { id, ok := m[key]; return id, ok }, nil
}

// webhookProviders builds the providers whose secret is configured; the others answer 404.
func webhookProviders(cfg Config) ([]webhooks.Provider, error) {
	mapc, err := loadCustomerMap(cfg.CustomerMap)
	if err != nil {
		return nil, err
	}
	opts := webhooks.Options{MapCustomer: mapc}
	var ps []webhooks.Provider
	var errs []error
	add := func(p webhooks.Provider, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		ps = append(ps, p)
	}
	if cfg.Webhooks.TwilioToken != "" {
		add(twilio.New(twilio.Config{AuthToken: cfg.Webhooks.TwilioToken, PublicURL: cfg.Webhooks.PublicURL, Region: cfg.Region, Options: opts}))
	}
	if cfg.Webhooks.SendGridKey != "" {
		add(sendgrid.New(sendgrid.Config{PublicKey: cfg.Webhooks.SendGridKey, Options: opts}))
	}
	if cfg.Webhooks.MailgunKey != "" {
		add(mailgun.New(mailgun.Config{SigningKey: cfg.Webhooks.MailgunKey, Options: opts}))
	}
	if cfg.Webhooks.MetaSecret != "" {
		app := metahub.App{AppSecret: cfg.Webhooks.MetaSecret, VerifyToken: cfg.Webhooks.MetaVerify}
		add(whatsapp.New(whatsapp.Config{App: app, Region: cfg.Region, Options: opts}))
		add(messenger.New(messenger.Config{App: app, Options: opts}))
	}
	if cfg.Webhooks.TelegramSecret != "" {
		add(telegram.New(telegram.Config{SecretToken: cfg.Webhooks.TelegramSecret, Options: opts}))
	}
	if cfg.Webhooks.CDRToken != "" {
		add(asterisk.New(asterisk.Config{Token: cfg.Webhooks.CDRToken, Region: cfg.Region, Options: opts}))
		add(freeswitch.New(freeswitch.Config{Token: cfg.Webhooks.CDRToken, Region: cfg.Region, Options: opts}))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("webhook configuration: %w", err)
	}
	return ps, nil
}
