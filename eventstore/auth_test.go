package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/interaction-ledger/ledger/eventstore"
)

// openListening opens a store whose embedded server listens on a free loopback port.
func openListening(t *testing.T, cfg eventstore.Config) *eventstore.Store {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.ListenAddr = "127.0.0.1:0"
	s, err := eventstore.Open(testCtx(t), cfg, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// asyncErrors collects the errors the server sends a connection outside any request
// (permission violations among them).
type asyncErrors struct {
	mu   sync.Mutex
	errs []error
}

func (a *asyncErrors) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.errs = append(a.errs, err)
}

// violation returns nil once the server refused the subject (a permission violation
// naming it), an error otherwise.
func (a *asyncErrors) violation(op, subject string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, err := range a.errs {
		if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), op) && strings.Contains(err.Error(), `"`+subject+`"`) {
			return nil
		}
	}
	return fmt.Errorf("no permission violation for %s %q among %v", op, subject, a.errs)
}

func connectProducer(t *testing.T, s *eventstore.Store) (*nats.Conn, *asyncErrors) {
	t.Helper()
	purl, err := s.ProducerURL()
	if err != nil {
		t.Fatalf("ProducerURL: %v", err)
	}
	errs := &asyncErrors{}
	nc, err := nats.Connect(purl, nats.ErrorHandler(errs.handler))
	if err != nil {
		t.Fatalf("producer connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc, errs
}

func TestEmbeddedServerRefusesStrangers(t *testing.T) {
	s := openListening(t, eventstore.Config{})
	purl, err := s.ProducerURL()
	if err != nil {
		t.Fatalf("ProducerURL: %v", err)
	}
	wrong, _ := url.Parse(purl)
	wrong.User = url.UserPassword(wrong.User.Username(), "not-the-password")
	tests := []struct {
		name string
		url  string
	}{
		{"anonymous", s.ClientURL()},
		{"wrong password", wrong.String()},
		{"unknown user", strings.Replace(purl, "producer:", "intruder:", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := nats.Connect(tt.url, nats.MaxReconnects(0))
			if err == nil {
				nc.Close()
				t.Fatal("connect: got a connection, want an authorization violation")
			}
			if !errors.Is(err, nats.ErrAuthorization) {
				t.Errorf("connect: got %v, want %v", err, nats.ErrAuthorization)
			}
		})
	}
}

func TestProducerPublishesAndGetsItsAck(t *testing.T) {
	s := openListening(t, eventstore.Config{})
	nc, _ := connectProducer(t, s)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := js.Publish(testCtx(t), subjStarted, envelope("p1", "interaction.started"), jetstream.WithMsgID("p1"))
	if err != nil {
		t.Fatalf("producer publish: %v", err)
	}
	if ack.Stream != eventstore.StreamEvents || ack.Sequence != 1 {
		t.Errorf("PubAck: got %s/%d, want %s/1", ack.Stream, ack.Sequence, eventstore.StreamEvents)
	}
	var got []string
	err = s.Read(testCtx(t), eventstore.StreamEvents, 1, 10, func(_ context.Context, ds []eventstore.Delivery) error {
		for _, d := range ds {
			got = append(got, d.Subject)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != subjStarted {
		t.Errorf("stored: got %v, want [%s]", got, subjStarted)
	}
}

func TestProducerPermissions(t *testing.T) {
	s := openListening(t, eventstore.Config{})
	mustAppend(t, s, msgs("kept", 3, subjStarted))
	// A durable a producer would like to fetch from.
	if _, err := s.JetStream().CreateOrUpdateConsumer(testCtx(t), eventstore.StreamEvents,
		jetstream.ConsumerConfig{Durable: "view-history", AckPolicy: jetstream.AckAllPolicy}); err != nil {
		t.Fatal(err)
	}
	nc, errs := connectProducer(t, s)

	publishes := []struct {
		name, subject string
		body          string
	}{
		{"a directory record", "ledger.events.directory.agent", string(envelope("d1", "directory.agent"))},
		{"an erasure", "ledger.events.customer.erased", string(envelope("e1", "customer.erased"))},
		{"outside the events", "ledger.dead.history", "x"},
		{"fetch from a consumer", "$JS.API.CONSUMER.MSG.NEXT.LEDGER.view-history", `{"batch":10}`},
		{"get a message", "$JS.API.STREAM.MSG.GET.LEDGER", `{"seq":1}`},
		{"direct get", "$JS.API.DIRECT.GET.LEDGER", `{"seq":1}`},
		{"purge the stream", "$JS.API.STREAM.PURGE.LEDGER", `{}`},
		{"delete the stream", "$JS.API.STREAM.DELETE.LEDGER", ``},
		{"delete a message", "$JS.API.STREAM.MSG.DELETE.LEDGER", `{"seq":1}`},
		{"create a consumer", "$JS.API.CONSUMER.CREATE.LEDGER", `{"stream_name":"LEDGER","config":{"ack_policy":"none"}}`},
		{"change the stream", "$JS.API.STREAM.UPDATE.LEDGER", `{"name":"LEDGER","subjects":["ledger.events.>"],"max_age":1}`},
	}
	for _, tt := range publishes {
		t.Run("publish: "+tt.name, func(t *testing.T) {
			if err := nc.PublishRequest(tt.subject, nc.NewInbox(), []byte(tt.body)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, func() error { return errs.violation("Publish", tt.subject) })
		})
	}
	subscribes := []struct{ name, subject string }{
		{"the events", "ledger.events.>"},
		{"everything", ">"},
		{"the ledger's inboxes (its consumers' deliveries)", "_LEDGER_INBOX.>"},
		{"JetStream advisories", "$JS.EVENT.>"},
	}
	for _, tt := range subscribes {
		t.Run("subscribe: "+tt.name, func(t *testing.T) {
			if _, err := nc.SubscribeSync(tt.subject); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, func() error { return errs.violation("Subscription", tt.subject) })
		})
	}
	t.Run("nothing changed", func(t *testing.T) {
		st, err := s.Stats(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if got := st[0]; got.Messages != 3 || got.LastSeq != 3 || got.Consumers != 1 {
			t.Errorf("%s: got %d messages, last seq %d, %d consumers; want 3, 3, 1", got.Name, got.Messages, got.LastSeq, got.Consumers)
		}
		if got := st[1].Messages; got != 0 {
			t.Errorf("%s: got %d messages, want 0", st[1].Name, got)
		}
		info, err := s.JetStream().Stream(testCtx(t), eventstore.StreamEvents)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.CachedInfo().Config.MaxAge; got != eventstore.DefaultMaxAge {
			t.Errorf("MaxAge: got %s, want %s", got, eventstore.DefaultMaxAge)
		}
	})
}

func TestCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, eventstore.CredentialsFileName)
	s := openListening(t, eventstore.Config{DataDir: dir})
	first, err := s.ProducerURL()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("credentials file: %v", err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("credentials file mode: got %04o, want 0600", got)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := eventstore.LoadCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	if creds.Ledger.Password == creds.Producer.Password || len(creds.Producer.Password) < 32 {
		t.Errorf("passwords: want two different random passwords, got %+v", creds)
	}
	if u, _ := url.Parse(first); u.User.Username() != creds.Producer.Name {
		t.Errorf("ProducerURL user: got %q, want %q", u.User.Username(), creds.Producer.Name)
	}

	t.Run("reused on restart", func(t *testing.T) {
		s2 := openListening(t, eventstore.Config{DataDir: dir})
		second, err := s2.ProducerURL()
		if err != nil {
			t.Fatal(err)
		}
		if u1, u2 := mustURL(t, first), mustURL(t, second); u1.User.String() != u2.User.String() {
			t.Errorf("producer credentials changed on restart: %q then %q", u1.User, u2.User)
		}
		after, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(after) != string(before) {
			t.Error("credentials file rewritten on restart")
		}
		nc, err := nats.Connect(second)
		if err != nil {
			t.Fatalf("the producer's credentials no longer connect: %v", err)
		}
		nc.Close()
	})
	t.Run("producer-url without a running server", func(t *testing.T) {
		got, err := eventstore.ProducerURL(eventstore.Config{DataDir: dir, ListenAddr: "0.0.0.0:4222"})
		if err != nil {
			t.Fatal(err)
		}
		want := "nats://" + creds.Producer.Name + ":" + creds.Producer.Password + "@127.0.0.1:4222"
		if got != want {
			t.Errorf("ProducerURL: got %q, want %q", got, want)
		}
	})
	t.Run("a file others can read is refused", func(t *testing.T) {
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(path, 0o600)
		_, err := eventstore.Open(testCtx(t), eventstore.Config{DataDir: dir}, nil)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("Open: got %v, want a refusal naming %s", err, path)
		}
	})
	t.Run("operator-given credentials", func(t *testing.T) {
		dir := t.TempDir()
		given := &eventstore.Credentials{
			Ledger:   eventstore.User{Name: "ledger-a", Password: "ledger-password-0123456789"},
			Producer: eventstore.User{Name: "pbx", Password: "pbx-password-0123456789"},
		}
		s := openListening(t, eventstore.Config{DataDir: dir, Credentials: given})
		purl, err := s.ProducerURL()
		if err != nil {
			t.Fatal(err)
		}
		if u := mustURL(t, purl); u.User.String() != "pbx:pbx-password-0123456789" {
			t.Errorf("ProducerURL user info: got %q", u.User)
		}
		nc, err := nats.Connect(purl)
		if err != nil {
			t.Fatalf("connect as the given producer: %v", err)
		}
		nc.Close()
		if _, err := os.Stat(filepath.Join(dir, eventstore.CredentialsFileName)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("credentials file: got %v, want none written", err)
		}
	})
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
