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
