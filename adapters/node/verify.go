package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/interaction-ledger/ledger/adapters/seal"
	"github.com/interaction-ledger/ledger/eventstore"
)

// Verify checks the event stream against its seals and writes the report to out:
// `ledger verify`. It opens the event store alone (no view files). It returns a
// *seal.TamperError for the first sequence where an event was changed, removed or
// inserted; erasure's redacted gaps and expired events pass.
func Verify(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer) error {
	cfg.setDefaults()
	if err := cfg.Validate(false); err != nil {
		return err
	}
	if log == nil {
		log = slog.Default()
	}
	store, err := eventstore.Open(ctx, cfg.StoreConfig(false), log)
	if err != nil {
		return fmt.Errorf("open event store: %w", err)
	}
	defer store.Close()
	_, err = seal.Verify(ctx, store, out)
	return err
}
