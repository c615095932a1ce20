package main

import (
	"flag"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/interaction-ledger/ledger/adapters/auth"

	"github.com/interaction-ledger/ledger/adapters/node"
	"github.com/interaction-ledger/ledger/eventstore"
)

// flags binds the configuration every command reads: environment variables, each also a
// flag (CONTRACT: Configuration).
func flags(fs *flag.FlagSet, getenv func(string) string) *node.Config {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	c := &node.Config{}
	fs.StringVar(&c.DataDir, "data", env("LEDGER_DATA", node.DefaultDataDir), "data directory (LEDGER_DATA)")
	fs.StringVar(&c.HTTPAddr, "http-addr", env("LEDGER_HTTP_ADDR", node.DefaultHTTPAddr), "HTTP listen address (LEDGER_HTTP_ADDR)")
	fs.StringVar(&c.NATSAddr, "nats-addr", env("LEDGER_NATS_ADDR", node.DefaultNATSAddr), "embedded NATS listen address (LEDGER_NATS_ADDR)")
	fs.StringVar(&c.NATSURL, "nats-url", env("LEDGER_NATS_URL", ""), "existing NATS JetStream URL; no embedded server (LEDGER_NATS_URL)")
	fs.StringVar(&c.NATSCreds, "nats-creds", env("LEDGER_NATS_CREDS", ""), "NATS credentials file for LEDGER_NATS_URL (LEDGER_NATS_CREDS)")
	fs.StringVar(&c.AuthSecret, "auth-secret", env("LEDGER_AUTH_SECRET", ""), "HS256 secret for bearer tokens (LEDGER_AUTH_SECRET)")
	fs.DurationVar(&c.AuditMaxAge, "audit-max-age", durationEnv(getenv, "LEDGER_AUDIT_MAX_AGE", eventstore.DefaultAuditMaxAge), "retention of the read audit (LEDGER_AUDIT_MAX_AGE)")
	fs.DurationVar(&c.Auth.MaxTTL, "auth-max-ttl", durationEnv(getenv, "LEDGER_AUTH_MAX_TTL", auth.DefaultMaxTTL), "longest token lifetime accepted (LEDGER_AUTH_MAX_TTL)")
	fs.StringVar(&c.Auth.Issuer, "auth-issuer", env("LEDGER_AUTH_ISSUER", ""), "required token issuer, when set (LEDGER_AUTH_ISSUER)")
	fs.StringVar(&c.Auth.Audience, "auth-audience", env("LEDGER_AUTH_AUDIENCE", ""), "required token audience, when set (LEDGER_AUTH_AUDIENCE)")
	fs.StringVar(&c.Region, "phone-region", env("LEDGER_PHONE_REGION", node.DefaultRegion), "region of national phone numbers (LEDGER_PHONE_REGION)")
	c.SyncAlways = env("LEDGER_NATS_SYNC", "") == "always"
	fs.BoolVar(&c.SyncAlways, "sync-always", c.SyncAlways, "fsync every message (LEDGER_NATS_SYNC=always)")
	fs.IntVar(&c.Replicas, "replicas", intEnv(getenv, "LEDGER_NATS_REPLICAS", 0), "stream replicas: default 3 with LEDGER_NATS_URL, 1 embedded (LEDGER_NATS_REPLICAS)")
	fs.StringVar(&c.NodeID, "node-id", env("LEDGER_NODE_ID", ""), "this node's id in its consumers' names; default the host name (LEDGER_NODE_ID)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env("LEDGER_METRICS_ADDR", ""), "serve /metrics on this address of its own, not on the HTTP address (LEDGER_METRICS_ADDR)")
	c.MetricsOps = env("LEDGER_METRICS_AUTH", "") == "ops"
	fs.BoolVar(&c.MetricsOps, "metrics-ops", c.MetricsOps, "/metrics asks for a token with scope ops (LEDGER_METRICS_AUTH=ops)")
	c.FrameAncestors = strings.Fields(env("LEDGER_FRAME_ANCESTORS", ""))
	fs.StringVar(&c.CRMRecordURL, "crm-record-url", env("LEDGER_CRM_RECORD_URL", ""), "URL of a CRM record in the pages, {id} for its id (LEDGER_CRM_RECORD_URL)")
	fs.StringVar(&c.ClickToCallURL, "click-to-call-url", env("LEDGER_CLICK_TO_CALL_URL", ""), "click-to-call URL in the pages, {number} for the number (LEDGER_CLICK_TO_CALL_URL)")
	c.CustomerMap = env("LEDGER_CUSTOMER_MAP", "")
	c.Webhooks = node.WebhookSecrets{
		PublicURL:      env("LEDGER_PUBLIC_URL", ""),
		TwilioToken:    env("LEDGER_TWILIO_AUTH_TOKEN", ""),
		SendGridKey:    env("LEDGER_SENDGRID_PUBLIC_KEY", ""),
		MailgunKey:     env("LEDGER_MAILGUN_SIGNING_KEY", ""),
		MetaSecret:     env("LEDGER_META_APP_SECRET", ""),
		MetaVerify:     env("LEDGER_META_VERIFY_TOKEN", ""),
		TelegramSecret: env("LEDGER_TELEGRAM_SECRET_TOKEN", ""),
		CDRToken:       env("LEDGER_CDR_TOKEN", ""),
	}
	return c
}

// durationEnv reads a duration variable; a bad value is left for the flag package to
// report (it is the flag's default, shown in the error).
func durationEnv(getenv func(string) string, k string, def time.Duration) time.Duration {
	if v := getenv(k); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

// intEnv reads an integer variable; a bad value becomes -1, which node.Config.Validate
// refuses with the variable's name.
func intEnv(getenv func(string) string, k string, def int) int {
	if v := getenv(k); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return -1
		}
		return n
	}
	return def
}

// parse reads the flags of command name, with extra flags of its own; it returns the
// configuration and the positional arguments.
func parse(name string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (node.Config, []string, error) {
	fs := flag.NewFlagSet("ledger "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := flags(fs, getenv)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return node.Config{}, nil, err
	}
	return *cfg, fs.Args(), nil
}
