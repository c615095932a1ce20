// Package storetest opens a real event store for tests: an embedded JetStream server on a
// temporary directory, listening nowhere, reached by in-process connections, started in
// milliseconds and closed when the test ends.
package storetest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/eventstore"
)

// Open opens a Store on dir (t.TempDir() if dir is "") with in-process connections only,
// and closes it when the test ends. Closing it earlier is fine (Close is idempotent), and
// opening the same dir again after that reopens the same streams.
func Open(t testing.TB, dir string) *eventstore.Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := eventstore.Open(ctx, eventstore.Config{DataDir: dir}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("storetest: open event store in %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("storetest: close event store: %v", err)
		}
	})
	return s
}

// WaitFor polls check until it returns nil, or fails the test with check's last error
// once timeout has passed: nats-server's checkFor, instead of sleeps.
func WaitFor(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
