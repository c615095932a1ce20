package messenger

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/adapters/webhooks/metahub"
	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
	"github.com/interaction-ledger/ledger/domain"
)

const (
	page  = "107255734583745"
	psid  = "5934781623401287"
	psid2 = "7201948836512044"
)

// now is just after the recorded payloads (2026-11-21, 09:14-09:20 UTC).
var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// wantEvent is one row of the expected events.
type wantEvent = webhookstest.Want

func newProvider(t *testing.T) *Provider {
	return webhookstest.Must[*Provider](t)(New(Config{App: metahub.App{AppSecret: webhookstest.MetaAppSecret, VerifyToken: webhookstest.MetaVerifyToken}}))
}

func ms(n int64) time.Time { return time.UnixMilli(n).UTC() }

func TestTranslate(t *testing.T) {
	const (
		inMid   = "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P"
		echoMid = "m_1457764197618:41d102a3e1ae206a38"
		imgMid  = "m_Bv3kQ9x2LrTnYp0aZ7cW1eF4gH6jK8mN0pR2sT4uV6wX8yZ0aB2cD4eF6gH8iJ0kL2mN4oP6qR8sT0uV2wX4y"
		textMid = "m_Cw4lR0y3MsUoZq1bA8dX2fG5hI7kL9nO1qS3tU5vW7xY9zA1bC3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5z"
	)
	dialogue := "fb:" + page + ":" + psid + ":2026-11-21"
	dialogue2 := "fb:" + page + ":" + psid2 + ":2026-11-21"
	key, key2 := "messenger:"+psid, "messenger:"+psid2
	// inferred is the started every item implies (webhooks.WithInferredStarted).
	inferred := func(dialogue, psid, key, of string, at time.Time) wantEvent {
		return wantEvent{domain.TypeInteractionStarted, webhooks.EventID("messenger", "inferred-started", of), at, key,
			&domain.StartedData{InteractionID: dialogue, Flow: domain.FlowMessenger, Direction: domain.DirectionIncoming,
				Routing: domain.RoutingDirect, Participants: []domain.Participant{{Role: "customer", ID: psid}}, Inferred: true}, nil}
	}
	// delivered is the end, delivered, of psid's dialogue that a watermark of kind gives
	// at (Unix ms), after the started it implies, with the extension fields ext.
	delivered := func(kind, watermark string, at int64, ext map[string]any) []wantEvent {
		id := webhooks.EventID("messenger", kind, page, psid, watermark)
		return []wantEvent{inferred(dialogue, psid, key, id, ms(at)),
			{domain.TypeInteractionEnded, id, ms(at), key, &domain.EndedData{InteractionID: dialogue, Status: domain.StatusDelivered}, ext}}
	}
	// message2 is the message mid at (Unix ms) in the dialogue of psid, after the started
	// it implies.
	message2 := func(dialogue, psid, key, mid string, at int64, dir domain.Direction) []wantEvent {
		id := webhooks.EventID("messenger", mid)
		return []wantEvent{inferred(dialogue, psid, key, id, ms(at)),
			{domain.TypeInteractionMessage, id, ms(at), key, &domain.MessageData{InteractionID: dialogue, Direction: dir, MessageID: mid}, nil}}
	}

	webhookstest.CheckTranslate(t, newProvider(t), now, Name, []webhookstest.Translated{
		{
			Name: "inbound message opens an incoming dialogue",
			File: "inbound_text.json",
			Want: message2(dialogue, psid, key, inMid, 1795252443123, domain.DirectionIncoming),
		},
		{
			Name: "echo is an outgoing message of the person's dialogue",
			File: "echo.json",
			Want: message2(dialogue, psid, key, echoMid, 1795252510402, domain.DirectionOutgoing),
		},
		{
			Name: "delivery watermark ends the dialogue delivered",
			File: "delivery.json",
			Want: delivered("delivery", "1795252510402", 1795252512301, map[string]any{"provider_status": "delivery", "watermark": float64(1795252510402)}),
		},
		{
			Name: "read watermark ends the dialogue delivered",
			File: "read.json",
			Want: delivered("read", "1795252510402", 1795252560463, map[string]any{"provider_status": "read"}),
		},
		{
			Name: "batch: a started inferred per message, postback ignored",
			File: "batch.json",
			Want: slices.Concat(message2(dialogue2, psid2, key2, imgMid, 1795252831456, domain.DirectionIncoming),
				message2(dialogue2, psid2, key2, textMid, 1795252560000, domain.DirectionIncoming)),
		},
	})
}

func TestTranslateMapsCustomers(t *testing.T) {
	p, err := New(Config{App: metahub.App{AppSecret: webhookstest.MetaAppSecret}, Options: webhooks.Options{MapCustomer: func(key string) (string, bool) {
		return "cust-42", key == "messenger:"+psid
	}}})
	for _, file := range []string{"inbound_text.json", "echo.json", "read.json"} {
		t.Run(file, func(t *testing.T) { webhookstest.CheckMapsCustomer(t, p, err, now, file, "cust-42") })
	}
}

func TestTranslateRejects(t *testing.T) {
	inbound := string(webhookstest.Load(t, "inbound_text.json"))
	webhookstest.CheckRejects(t, newProvider(t), now, []webhookstest.Rejected{
		{"malformed JSON", `{"object":`, "not a Messenger webhook body"},
		{"timestamp as a string", strings.Replace(inbound, `"timestamp": 1795252443123`, `"timestamp": "1795252443123"`, 1), "not a Messenger webhook body"},
		{"instagram object", string(webhookstest.Load(t, "instagram.json")), `object is "instagram"`},
		{"missing timestamp", strings.Replace(inbound, `"timestamp": 1795252443123,`, ``, 1), "messaging[0]: timestamp"},
		{"timestamp in seconds is stale", strings.Replace(inbound, `1795252443123`, `1795252443`, 1), "retention window"},
		{"missing sender", strings.Replace(inbound, `"id": "5934781623401287"`, `"id": ""`, 1), "sender.id is required"},
		{"missing mid", strings.Replace(inbound, `"mid": "m_AG5`, `"mad": "m_AG5`, 1), "message.mid is required"},
	})
}

func TestIdempotent(t *testing.T) {
	webhookstest.CheckRetry(t, newProvider(t), now, 26*time.Hour, // a retry the next day
		"inbound_text.json", "echo.json", "delivery.json", "read.json", "batch.json")
}

func TestNew(t *testing.T) {
	_, err := New(Config{Options: webhooks.Options{MaxBody: -1}})
	webhookstest.CheckConfigErrors(t, err, "AppSecret", "MaxBody")
	p, err := New(Config{App: metahub.App{AppSecret: webhookstest.MetaAppSecret}})
	webhookstest.CheckDefaults(t, p, err, Name, DefaultMaxBody)
}

func FuzzTranslate(f *testing.F) {
	p, err := New(Config{App: metahub.App{AppSecret: webhookstest.MetaAppSecret}})
	if err != nil {
		f.Fatal(err)
	}
	webhookstest.Fuzz(f, p, now, nil)
}

// TestMetaWiring checks the provider is wired to Meta's scheme and handshake (metahub
// tests the scheme's whole matrix).
func TestMetaWiring(t *testing.T) {
	webhookstest.CheckMetaWiring(t, newProvider(t), webhookstest.Load(t, "inbound_text.json"), webhookstest.MetaAppSecret, webhookstest.MetaVerifyToken, now)
}
