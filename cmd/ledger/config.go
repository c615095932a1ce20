package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/interaction-ledger/ledger/adapters/auth"
)

// config is what every command reads from the environment, each also a flag.
type config struct {
	DataDir    string // LEDGER_DATA, default ./data
	HTTPAddr   string // LEDGER_HTTP_ADDR, default 127.0.0.1:8080
	NATSAddr   string // LEDGER_NATS_ADDR, default 127.0.0.1:4222 (the embedded server's listen address)
	NATSURL    string // LEDGER_NATS_URL: use an existing NATS JetStream cluster, start none
	AuthSecret string // LEDGER_AUTH_SECRET, at least 32 bytes
	Region     string // LEDGER_PHONE_REGION: region for national phone numbers, default US
	SyncAlways bool   // LEDGER_NATS_SYNC=always: fsync every message
	Replicas   int    // LEDGER_NATS_REPLICAS, default 1 (3 on a cluster)

	// Provider webhook secrets (a provider whose secret is empty is disabled).
	CustomerMap string // LEDGER_CUSTOMER_MAP: JSON file mapping contact keys to customer ids

	PublicURL, TwilioToken, SendGridKey, MailgunKey, MetaSecret, MetaVerify, TelegramSecret, CDRToken string

	Demo bool // serve: load demo data when the stream is empty
}

func (c *config) flags(fs *flag.FlagSet, getenv func(string) string) {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&c.DataDir, "data", env("LEDGER_DATA", "./data"), "data directory (LEDGER_DATA)")
	fs.StringVar(&c.HTTPAddr, "http-addr", env("LEDGER_HTTP_ADDR", "127.0.0.1:8080"), "HTTP listen address (LEDGER_HTTP_ADDR)")
	fs.StringVar(&c.NATSAddr, "nats-addr", env("LEDGER_NATS_ADDR", "127.0.0.1:4222"), "embedded NATS listen address (LEDGER_NATS_ADDR)")
	fs.StringVar(&c.NATSURL, "nats-url", env("LEDGER_NATS_URL", ""), "existing NATS JetStream URL; no embedded server (LEDGER_NATS_URL)")
	fs.StringVar(&c.AuthSecret, "auth-secret", env("LEDGER_AUTH_SECRET", ""), "HS256 secret for bearer tokens (LEDGER_AUTH_SECRET)")
	fs.StringVar(&c.Region, "phone-region", env("LEDGER_PHONE_REGION", "US"), "region of national phone numbers (LEDGER_PHONE_REGION)")
	c.SyncAlways = env("LEDGER_NATS_SYNC", "") == "always"
	fs.BoolVar(&c.SyncAlways, "sync-always", c.SyncAlways, "fsync every message (LEDGER_NATS_SYNC=always)")
	fs.IntVar(&c.Replicas, "replicas", 1, "stream replicas when using LEDGER_NATS_URL")
	c.CustomerMap = env("LEDGER_CUSTOMER_MAP", "")
	c.PublicURL = env("LEDGER_PUBLIC_URL", "")
	c.TwilioToken = env("LEDGER_TWILIO_AUTH_TOKEN", "")
	c.SendGridKey = env("LEDGER_SENDGRID_PUBLIC_KEY", "")
	c.MailgunKey = env("LEDGER_MAILGUN_SIGNING_KEY", "")
	c.MetaSecret = env("LEDGER_META_APP_SECRET", "")
	c.MetaVerify = env("LEDGER_META_VERIFY_TOKEN", "")
	c.TelegramSecret = env("LEDGER_TELEGRAM_SECRET_TOKEN", "")
	c.CDRToken = env("LEDGER_CDR_TOKEN", "")
}

// parse reads the flags of command name; it returns the positional arguments.
func (c *config) parse(name string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) ([]string, error) {
	fs := flag.NewFlagSet("ledger "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.flags(fs, getenv)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return fs.Args(), nil
}

// validate reports every problem at once.
func (c *config) validate(needSecret bool) error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("LEDGER_DATA is empty"))
	}
	if needSecret && len(c.AuthSecret) < auth.MinSecretBytes {
		errs = append(errs, fmt.Errorf("LEDGER_AUTH_SECRET must be at least %d bytes (got %d)", auth.MinSecretBytes, len(c.AuthSecret)))
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("replicas must be 1 to 5, got %d", c.Replicas))
	}
	return errors.Join(errs...)
}

func (c *config) viewsDir() string { return filepath.Join(c.DataDir, "views") }

// tokenTTL is how long `ledger token` tokens live by default.
const tokenTTL = 12 * time.Hour
