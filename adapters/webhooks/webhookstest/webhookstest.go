// Package webhookstest holds what the provider packages' tests share: a function-field
// fake of webhooks.Appender that records what it is given, and the check that every event
// an adapter produces is a valid contract event.
package webhookstest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/domain"
)

// Appender is a function-field fake of webhooks.Appender.
type Appender struct {
	AppendEventsFunc func(ctx context.Context, events []domain.Event) error
}

var _ webhooks.Appender = (*Appender)(nil)

// AppendEvents calls AppendEventsFunc.
func (a *Appender) AppendEvents(ctx context.Context, events []domain.Event) error {
	return a.AppendEventsFunc(ctx, events)
}

// Capture returns an appender that records every event it is given, and the record.
func Capture() (*Appender, *[]domain.Event) {
	var got []domain.Event
	return &Appender{AppendEventsFunc: func(_ context.Context, evs []domain.Event) error {
		got = append(got, evs...)
		return nil
	}}, &got
}

// CheckValid asserts that the events of one payload are valid contract events at now:
// each survives the ledger's own decoding of its encoding with its id, has a customer and
// an interaction, and no id repeats.
func CheckValid(t testing.TB, evs []domain.Event, now time.Time) {
	t.Helper()
	ids := map[string]bool{}
	for i, ev := range evs {
		raw, err := ev.Encode()
		if err != nil {
			t.Fatalf("event %d: encode: %v", i, err)
		}
		back, err := domain.DecodeIncoming(raw, now)
		if err != nil {
			t.Fatalf("event %d: %s does not decode: %v", i, raw, err)
		}
		if back.ID != ev.ID || ev.CustomerID == "" {
			t.Fatalf("event %d: id %q customer %q", i, ev.ID, ev.CustomerID)
		}
		if ids[ev.ID] {
			t.Fatalf("event %d: id %s repeated in one payload", i, ev.ID)
		}
		ids[ev.ID] = true
		if ref, ok := ev.Payload.(domain.InteractionRef); !ok || ref.InteractionKey() == "" {
			t.Fatalf("event %d: %s has no interaction", i, ev.Type)
		}
	}
}

// Handler serves p at /v1/webhooks/{provider} (POST, and GET for handshakes) through the
// real webhook handler, appending to app, its clock stopped at now.
func Handler(app webhooks.Appender, now time.Time, p webhooks.Provider) http.Handler {
	h := webhooks.NewHandler(app, nil, p)
	h.Now = func() time.Time { return now }
	mux := http.NewServeMux()
	mux.Handle("POST /v1/webhooks/{provider}", h)
	mux.Handle("GET /v1/webhooks/{provider}", h)
	return mux
}

// Handlers returns what builds p's handler (Handler, at now) over each appender given:
// the handler argument of CheckAuth and CheckPostedTwice.
func Handlers(p webhooks.Provider, now time.Time) func(webhooks.Appender) http.Handler {
	return func(app webhooks.Appender) http.Handler { return Handler(app, now, p) }
}
