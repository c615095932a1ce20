package webhooks

import (
	"fmt"
	"time"

	"github.com/interaction-ledger/ledger/domain"
)

// WithInferredStarted returns ev preceded by the interaction.started an adapter infers
// from it (CONTRACT.md §2, data.inferred): providers are commonly configured to send
// final events only (a call's completed, an e-mail's delivered or opened), and without
// a started the interaction would have no flow, direction or contact, hence no row on
// the card. started holds what ev's payload tells of the interaction; at is the start
// it implies (a call's end minus its duration, else ev's own time).
//
// The inference's id derives from ev's id, so each provider event infers its own (a
// retry is a duplicate) and the fold takes the earliest event's time as the start
// whichever of them arrived: the same row in any order. The fold lets any real started
// replace the inferred fields, so a late real one merges instead of duplicating.
//
// ext are extension fields of the started (a sender's username).
func WithInferredStarted(provider string, ev domain.Event, started domain.StartedData, at, now time.Time, ext ...domain.Extension) ([]domain.Event, error) {
	started.Inferred = true
	if started.InteractionID == "" {
		if ref, ok := ev.Payload.(domain.InteractionRef); ok {
			started.InteractionID = ref.InteractionKey()
		}
	}
	inf, err := domain.NewEvent(EventID(provider, "inferred-started", ev.ID), domain.TypeInteractionStarted, at,
		ev.CustomerID, ev.Source, &started, now, ext...)
	if err != nil {
		return nil, fmt.Errorf("inferred started of %s %s: %w", ev.Type, ev.ID, err)
	}
	return []domain.Event{inf, ev}, nil
}
