package webhookstest

import (
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
)

// Inferred is the interaction.started that webhooks.WithInferredStarted puts before the
// event of id source: at the start it implies, with data (without "inferred": true,
// which it adds). data is a JSON object.
func Inferred(provider, source string, at time.Time, customerID, data string) WantJSON {
	return WantJSON{"interaction.started", webhooks.EventID(provider, "inferred-started", source), at, customerID,
		data[:len(data)-1] + `,"inferred":true}`}
}

// AfterInferred is want preceded by the interaction.started inferred at it, at its time
// and for its customer, with data started (Inferred): what an event gives whose
// interaction's start was not seen, when the provider infers that start at the event.
func AfterInferred(provider, started string, want WantJSON) []WantJSON {
	return []WantJSON{Inferred(provider, want.ID, want.OccurredAt, want.CustomerID, started), want}
}
