package storetest

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/interaction-ledger/ledger/eventstore"
)

// Server is a stand-alone JetStream server on loopback, apart from any Store, so that a
// test can take the store away under a connected Store (Stop) and bring it back with the
// same port and files (Start): what a node sees when its NATS cluster goes away.
type Server struct {
	t    testing.TB
	opts server.Options
	srv  *server.Server
}

// RunServer starts a JetStream server listening on a free loopback port with its files
// in a temporary directory, and shuts it down when the test ends.
func RunServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, opts: server.Options{
		ServerName: "storetest",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		NoSigs:     true,
		NoLog:      true,
		JetStream:  true,
		StoreDir:   t.TempDir(),
	}}
	s.Start()
	u, err := url.Parse(s.srv.ClientURL())
	if err != nil {
		t.Fatalf("storetest: client URL %q: %v", s.srv.ClientURL(), err)
	}
	// Later starts take the same port, so that connected clients find it again.
	if s.opts.Port, err = strconv.Atoi(u.Port()); err != nil {
		t.Fatalf("storetest: client URL %q: port: %v", s.srv.ClientURL(), err)
	}
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's client URL.
func (s *Server) URL() string {
	return "nats://" + net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port))
}

// Start starts the server (again, after Stop) on its port and files.
func (s *Server) Start() {
	s.t.Helper()
	if s.srv != nil {
		return
	}
	opts := s.opts
	srv, err := server.NewServer(&opts)
	if err != nil {
		s.t.Fatalf("storetest: new server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		s.t.Fatalf("storetest: server not ready within 30s")
	}
	s.srv = srv
}

// Stop shuts the server down, as a lost cluster would look to its clients.
func (s *Server) Stop() {
	if s.srv == nil {
		return
	}
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.srv = nil
}

// OpenURL opens a Store connected to srv with cfg (URL and Replicas set here), closed
// when the test ends.
func OpenURL(t testing.TB, srv *Server, cfg eventstore.Config) *eventstore.Store {
	t.Helper()
	cfg.URL, cfg.Replicas = srv.URL(), 1
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := eventstore.Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("storetest: open event store at %s: %v", cfg.URL, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
