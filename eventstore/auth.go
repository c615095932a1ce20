package eventstore

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"

	"github.com/nats-io/nats-server/v2/server"
)

// CredentialsFileName is the embedded server's credentials file under Config.DataDir.
const CredentialsFileName = "nats-credentials.json"

// ledgerInboxPrefix is the inbox prefix of the ledger's own connections. Producers may
// subscribe to "_INBOX.>" (that is where their PubAcks come back), so the ledger's replies,
// which include every message its pull consumers fetch, must travel elsewhere.
const ledgerInboxPrefix = "_LEDGER_INBOX"

// producerInbox is where a producer's client receives its PubAcks: nats.go's default.
const producerInbox = "_INBOX.>"

// User is a user name and password of the embedded server.
type User struct {
	Name     string `json:"user"`
	Password string `json:"password"`
}

// Credentials are the embedded server's users: the ledger's own, with every right, and
// the producers', who may only publish customer-scoped events other than customer.erased
// and receive their PubAck.
type Credentials struct {
	Ledger   User `json:"ledger"`
	Producer User `json:"producer"`
}

// Validate reports every problem of the credentials at once.
func (c Credentials) Validate() error {
	var errs []error
	for _, u := range []struct {
		field string
		user  User
	}{{"ledger", c.Ledger}, {"producer", c.Producer}} {
		if u.user.Name == "" {
			errs = append(errs, fmt.Errorf("eventstore: credentials: %s.user is required", u.field))
		}
		if len(u.user.Password) < 16 {
			errs = append(errs, fmt.Errorf("eventstore: credentials: %s.password must hold at least 16 characters", u.field))
		}
	}
	if c.Ledger.Name != "" && c.Ledger.Name == c.Producer.Name {
		errs = append(errs, fmt.Errorf("eventstore: credentials: ledger.user and producer.user are both %q: they must differ", c.Ledger.Name))
	}
	return errors.Join(errs...)
}

// LoadCredentials returns the credentials of path, creating the file (mode 0600, random
// passwords) when it does not exist: the first start of a data directory creates them,
// every later start and `ledger producer-url` reuse them. A file that group or others may
// read is refused rather than trusted.
func LoadCredentials(path string) (Credentials, error) {
	c, err := readCredentials(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createCredentials(path); err != nil {
			return Credentials{}, err
		}
		c, err = readCredentials(path)
	}
	return c, err
}

func readCredentials(path string) (Credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("eventstore: credentials file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Credentials{}, fmt.Errorf("eventstore: credentials file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return Credentials{}, fmt.Errorf("eventstore: credentials file %s: mode %04o lets group or others read it: chmod 600", path, fi.Mode().Perm())
	}
	var c Credentials
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Credentials{}, fmt.Errorf("eventstore: credentials file %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return Credentials{}, fmt.Errorf("credentials file %s: %w", path, err)
	}
	return c, nil
}

// createCredentials writes fresh credentials to a temporary file and links it to path, so
// that no reader ever sees half a file and two processes starting at once agree on one.
func createCredentials(path string) error {
	c := Credentials{Ledger: User{Name: "ledger"}, Producer: User{Name: "producer"}}
	for _, p := range []*string{&c.Ledger.Password, &c.Producer.Password} {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("eventstore: credentials: random password: %w", err)
		}
		*p = base64.RawURLEncoding.EncodeToString(b)
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("eventstore: credentials: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("eventstore: credentials: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".nats-credentials-*") // mode 0600
	if err != nil {
		return fmt.Errorf("eventstore: credentials: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("eventstore: credentials: write %s: %w", tmp.Name(), err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("eventstore: credentials: create %s: %w", path, err)
	}
	return nil
}

// serverUsers are the embedded server's users. Subjects not allowed are denied: a
// producer publishes under "ledger.events.>" only, never a directory record or an erasure
// (those need the scopes of the HTTP API), and never to "$JS.API.>", so it can neither
// read, purge, delete nor create anything; it subscribes to its own inboxes only, where
// JetStream answers its publishes.
func serverUsers(c Credentials) []*server.User {
	return []*server.User{
		{Username: c.Ledger.Name, Password: c.Ledger.Password},
		{Username: c.Producer.Name, Password: c.Producer.Password, Permissions: &server.Permissions{
			Publish: &server.SubjectPermission{
				Allow: []string{subjectEvents + ".>"},
				Deny: []string{
					subjectEvents + ".directory.>",
					subjectEvents + ".customer.erased", subjectEvents + ".customer.erased.>",
				},
			},
			Subscribe: &server.SubjectPermission{Allow: []string{producerInbox}},
		}},
	}
}

// ErrNoProducerURL is returned by ProducerURL when the ledger's server takes no client
// connections of its own: it listens nowhere, or the ledger uses Config.URL (the
// operator's cluster then issues producer credentials).
var ErrNoProducerURL = errors.New("eventstore: no producer URL: the embedded server does not listen (or Config.URL is set)")

// ProducerURL returns "nats://user:password@host:port" for a producer of the embedded
// server configured by cfg, creating the credentials file on first use like Open. It
// needs no running server: `ledger producer-url` calls it on the data directory. An
// unspecified listen host (0.0.0.0, ::) is given as 127.0.0.1: replace it with the host
// the producer reaches.
func ProducerURL(cfg Config) (string, error) {
	cfg.setDefaults()
	if cfg.URL != "" || cfg.ListenAddr == "" {
		return "", ErrNoProducerURL
	}
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	host, port, err := splitHostPort(cfg.ListenAddr)
	if err != nil {
		return "", fmt.Errorf("eventstore: ListenAddr %q: %w", cfg.ListenAddr, err)
	}
	if port == 0 {
		return "", fmt.Errorf("eventstore: producer URL: ListenAddr %q picks a free port at start: ask the running store (Store.ProducerURL)", cfg.ListenAddr)
	}
	creds, err := cfg.credentials()
	if err != nil {
		return "", err
	}
	return producerURL(creds.Producer, net.JoinHostPort(loopbackIfUnspecified(host), fmt.Sprint(port))), nil
}

// ProducerURL returns "nats://user:password@host:port" for a producer of the running
// embedded server, or ErrNoProducerURL.
func (s *Store) ProducerURL() (string, error) {
	if s.srv == nil || s.cfg.ListenAddr == "" {
		return "", ErrNoProducerURL
	}
	u, err := s.listenURL()
	if err != nil {
		return "", err
	}
	return producerURL(s.creds.Producer, u.Host), nil
}

func producerURL(u User, hostPort string) string {
	return (&url.URL{Scheme: "nats", User: url.UserPassword(u.Name, u.Password), Host: hostPort}).String()
}

func loopbackIfUnspecified(host string) string {
	if host == "" {
		return "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return host
}

// credentials returns the operator's Config.Credentials, or those of the credentials file.
func (c Config) credentials() (Credentials, error) {
	if c.Credentials != nil {
		return *c.Credentials, nil
	}
	return LoadCredentials(c.CredentialsFile)
}
