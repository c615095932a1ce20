package node

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/eventstore"
)

// Config is everything a node reads from its environment. cmd/ledger fills it from
// flags and LEDGER_* variables; tests and the benchmark fill it directly.
type Config struct {
	DataDir    string // LEDGER_DATA, default ./data
	HTTPAddr   string // LEDGER_HTTP_ADDR, default 127.0.0.1:8080 (port 0: a free port)
	NATSAddr   string // LEDGER_NATS_ADDR: the embedded server's listen address; "" listens nowhere
	NATSURL    string // LEDGER_NATS_URL: use an existing NATS JetStream cluster, start none
	NATSCreds  string // LEDGER_NATS_CREDS: a NATS credentials file for LEDGER_NATS_URL
	AuthSecret string // LEDGER_AUTH_SECRET, at least auth.MinSecretBytes (serve, token)
	// Auth bounds and scopes the tokens: LEDGER_AUTH_MAX_TTL (default 24h),
	// LEDGER_AUTH_ISSUER and LEDGER_AUTH_AUDIENCE (checked, and written by `ledger token`,
	// when set). Its Secret is AuthSecret.
	Auth       auth.Config
	Region     string // LEDGER_PHONE_REGION: region of national phone numbers, default US
	SyncAlways bool   // LEDGER_NATS_SYNC=always: fsync every message
	Replicas   int    // LEDGER_NATS_REPLICAS, default 1 embedded, 3 with NATSURL
	// NodeID names this ledger node in its durable consumers (LEDGER_NODE_ID, default the
	// host name with '.' made '_'). Every node of a cluster needs its own. WARNING:
	// changing it gives the node new consumers (they start at the views' checkpoints).
	NodeID string

	// CustomerMap is LEDGER_CUSTOMER_MAP: a JSON file mapping contact keys to customer ids.
	CustomerMap string
	// Webhooks holds the providers' secrets; a provider whose secret is empty is disabled.
	Webhooks WebhookSecrets

	// MetricsAddr, when set, serves /metrics on this listen address of its own and not on
	// HTTPAddr (LEDGER_METRICS_ADDR). MetricsOps asks for a token with scope ops on
	// HTTPAddr (LEDGER_METRICS_AUTH=ops). Neither: /metrics is open on HTTPAddr.
	MetricsAddr string
	MetricsOps  bool
	// HTTP bounds the HTTP server; zero fields take the defaults of HTTPLimits.
	HTTP HTTPLimits

	// FrameAncestors lists the origins allowed to frame the agents' pages
	// (LEDGER_FRAME_ANCESTORS, space-separated); default none.
	FrameAncestors []string
	// CRMRecordURL is the operator's URL of a CRM record, {id} where the record's id goes
	// (LEDGER_CRM_RECORD_URL); default none (the pages show the id without a link).
	CRMRecordURL string
	// ClickToCallURL is the operator's click-to-call URL, {number} where the number goes
	// (LEDGER_CLICK_TO_CALL_URL); default none (tel: links).
	ClickToCallURL string

	// AuditMaxAge is the read audit's retention (LEDGER_AUDIT_MAX_AGE); default 400 days.
	AuditMaxAge time.Duration
	// SealInterval is how often the sealer seals the stream; default 1 s.
	SealInterval time.Duration

	// Demo loads a day of demo data when the stream is empty (serve --demo).
	Demo bool
	// Now is the clock of ingest, retention and replay; default time.Now (tests set it).
	Now func() time.Time
	// ShutdownGrace bounds the drain of HTTP requests at shutdown; default 7 s.
	ShutdownGrace time.Duration
	// StopBound bounds, after the drain, the stop of every background worker (projectors
	// finishing their batch, the eraser, rebuilds in progress); default 10 s.
	StopBound time.Duration
}

// HTTPLimits bound what one client can hold of the HTTP server. A client that sends its
// request or reads its answer slower than these loses its connection instead of holding
// it; streaming answers extend their own write deadline as they go.
type HTTPLimits struct {
	ReadHeaderTimeout time.Duration // default 10 s
	ReadTimeout       time.Duration // the whole request, body included; default 15 s (a 16 MiB body needs > 1 MiB/s)
	WriteTimeout      time.Duration // default 30 s
	IdleTimeout       time.Duration // a keep-alive connection between requests; default 60 s
	MaxConns          int           // open connections; beyond, new ones wait in the backlog; default 1024
}

func (h *HTTPLimits) setDefaults() {
	if h.ReadHeaderTimeout == 0 {
		h.ReadHeaderTimeout = 10 * time.Second
	}
	if h.ReadTimeout == 0 {
		h.ReadTimeout = 15 * time.Second
	}
	if h.WriteTimeout == 0 {
		h.WriteTimeout = 30 * time.Second
	}
	if h.IdleTimeout == 0 {
		h.IdleTimeout = 60 * time.Second
	}
	if h.MaxConns == 0 {
		h.MaxConns = 1024
	}
}

// WebhookSecrets are the provider webhooks' secrets (CONTRACT §4).
type WebhookSecrets struct {
	PublicURL      string // LEDGER_PUBLIC_URL: the base URL providers call (Twilio signs it)
	TwilioToken    string // LEDGER_TWILIO_AUTH_TOKEN
	SendGridKey    string // LEDGER_SENDGRID_PUBLIC_KEY
	MailgunKey     string // LEDGER_MAILGUN_SIGNING_KEY
	MetaSecret     string // LEDGER_META_APP_SECRET (WhatsApp and Messenger)
	MetaVerify     string // LEDGER_META_VERIFY_TOKEN
	TelegramSecret string // LEDGER_TELEGRAM_SECRET_TOKEN
	CDRToken       string // LEDGER_CDR_TOKEN (Asterisk and FreeSWITCH CDR posts)
}

// Defaults of Config.
const (
	DefaultDataDir       = "./data"
	DefaultHTTPAddr      = "127.0.0.1:8080"
	DefaultNATSAddr      = "127.0.0.1:4222"
	DefaultRegion        = "US"
	DefaultShutdownGrace = 7 * time.Second
	DefaultStopBound     = 10 * time.Second
)

func (c *Config) setDefaults() {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.Replicas == 0 {
		c.Replicas = 1
		if c.clustered() {
			c.Replicas = 3
		}
	}
	if c.NodeID == "" {
		c.NodeID = defaultNodeID()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = DefaultShutdownGrace
	}
	if c.StopBound == 0 {
		c.StopBound = DefaultStopBound
	}
	c.HTTP.setDefaults()
}

// Validate reports every problem at once. needSecret: the command verifies or mints
// tokens (serve, token).
func (c Config) Validate(needSecret bool) error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("LEDGER_DATA is empty"))
	}
	if needSecret {
		if err := c.AuthConfig().Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.NATSCreds != "" && c.NATSURL == "" {
		errs = append(errs, errors.New("LEDGER_NATS_CREDS is for LEDGER_NATS_URL; the embedded server makes its own credentials"))
	}
	if c.MetricsAddr != "" && c.MetricsAddr == c.HTTPAddr {
		errs = append(errs, errors.New("LEDGER_METRICS_ADDR must differ from LEDGER_HTTP_ADDR"))
	}
	if c.NodeID != "" && !validNodeID(c.NodeID) {
		errs = append(errs, fmt.Errorf("LEDGER_NODE_ID %q: use 1 to 64 letters, digits, '-' or '_'", c.NodeID))
	}
	if c.AuditMaxAge < 0 {
		errs = append(errs, fmt.Errorf("LEDGER_AUDIT_MAX_AGE must not be negative, got %s", c.AuditMaxAge))
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("LEDGER_NATS_REPLICAS must be 1 to 5, got %d", c.Replicas))
	}
	return errors.Join(errs...)
}

// StoreConfig is the event store's configuration; listen: the embedded server listens on
// NATSAddr (serve, producer-url).
func (c Config) StoreConfig(listen bool) eventstore.Config {
	scfg := eventstore.Config{DataDir: c.DataDir, URL: c.NATSURL, CredsFile: c.NATSCreds, Replicas: c.Replicas, SyncAlways: c.SyncAlways,
		AuditMaxAge: c.AuditMaxAge}
	if listen {
		scfg.ListenAddr = c.NATSAddr
	}
	return scfg
}

// AuthConfig is the token verifier's configuration.
func (c Config) AuthConfig() auth.Config {
	a := c.Auth
	a.Secret = c.AuthSecret
	return a
}

// ViewsDir is where the view files live.
func (c Config) ViewsDir() string { return filepath.Join(c.DataDir, "views") }
