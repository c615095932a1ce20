package telegram

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
	"github.com/interaction-ledger/ledger/domain"
)

const (
	testSecret = "ledger_tg-5f0c2a9e71b4"
	chat       = "5128847361"
)

// now is just after the recorded updates (2026-11-21 09:14 and 2026-11-22 00:00 UTC).
var now = time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)

// wantEvent is one row of the expected events.
type wantEvent = webhookstest.Want

func newProvider(t *testing.T) *Provider {
	return webhookstest.Must[*Provider](t)(New(Config{SecretToken: testSecret}))
}

func TestTranslate(t *testing.T) {
	day1 := "tg:" + chat + ":2026-11-21"
	day2 := "tg:" + chat + ":2026-11-22"
	key := "telegram:" + chat
	webhookstest.CheckTranslate(t, newProvider(t), now, Name, []webhookstest.Translated{
		{
			Name: "private text message opens an incoming dialogue",
			File: "private_text.json",
			Want: []wantEvent{
				{domain.TypeInteractionStarted, webhooks.EventID("telegram", "inferred-started", webhooks.EventID("telegram", "604385412", chat, "2187")), unix(1795252443), key,
					&domain.StartedData{InteractionID: day1, Flow: domain.FlowTelegram, Direction: domain.DirectionIncoming,
						Routing: domain.RoutingDirect, Participants: []domain.Participant{{Role: "customer", ID: chat, Name: "Camille Martin"}}, Inferred: true},
					map[string]any{"username": "camille_m"}},
				{domain.TypeInteractionMessage, webhooks.EventID("telegram", "604385412", chat, "2187"), unix(1795252443), key,
					&domain.MessageData{InteractionID: day1, Direction: domain.DirectionIncoming, MessageID: chat + ":2187"},
					map[string]any{"update_id": float64(604385412)}},
			},
		},
		{
			Name: "a message after midnight UTC opens the next day's dialogue",
			File: "private_photo.json",
			Want: []wantEvent{
				{domain.TypeInteractionStarted, webhooks.EventID("telegram", "inferred-started", webhooks.EventID("telegram", "604385413", chat, "2188")), unix(1795305645), key,
					&domain.StartedData{InteractionID: day2, Flow: domain.FlowTelegram, Direction: domain.DirectionIncoming,
						Routing: domain.RoutingDirect, Participants: []domain.Participant{{Role: "customer", ID: chat, Name: "Camille"}}, Inferred: true}, nil},
				{domain.TypeInteractionMessage, webhooks.EventID("telegram", "604385413", chat, "2188"), unix(1795305645), key,
					&domain.MessageData{InteractionID: day2, Direction: domain.DirectionIncoming, MessageID: chat + ":2188"}, nil},
			},
		},
		{Name: "edited message yields nothing", File: "edited_message.json"},
		{Name: "group message yields nothing", File: "group_message.json"},
		{Name: "callback query yields nothing", File: "callback_query.json"},
		{Name: "channel post yields nothing", File: "channel_post.json"},
	})
}

func TestTranslateMapsCustomers(t *testing.T) {
	p, err := New(Config{SecretToken: testSecret, Options: webhooks.Options{MapCustomer: func(key string) (string, bool) {
		return "cust-42", key == "telegram:"+chat
	}}})
	webhookstest.CheckMapsCustomer(t, p, err, now, "private_text.json", "cust-42")
}

func TestTranslateRejects(t *testing.T) {
	text := string(webhookstest.Load(t, "private_text.json"))
	webhookstest.CheckRejects(t, newProvider(t), now, []webhookstest.Rejected{
		{"malformed JSON", `{"update_id":`, "not a Telegram Update"},
		{"not an update", `[1,2,3]`, "not a Telegram Update"},
		{"no update_id", `{"message":{}}`, "update_id is required"},
		{"no chat", `{"update_id":1,"message":{"message_id":1,"date":1795252443}}`, "message.chat is required"},
		{"date as a string", strings.Replace(text, `"date": 1795252443`, `"date": "1795252443"`, 1), "not a Telegram Update"},
		{"no date", strings.Replace(text, `"date": 1795252443,`, ``, 1), "message.date"},
		{"stale message", strings.Replace(text, `"date": 1795252443`, `"date": 1600000000`, 1), "retention window"},
	})
}

func TestIdempotent(t *testing.T) {
	p := newProvider(t)
	body := webhookstest.Load(t, "private_text.json")
	first, err := p.Translate(nil, body, now)
	if err != nil {
		t.Fatal(err)
	}
	second, err := p.Translate(nil, body, now.Add(time.Hour)) // Telegram's retry
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 || len(second) != 2 {
		t.Fatalf("got %d then %d events, want 2", len(first), len(second))
	}
	for i := range first {
		if first[i].ID != second[i].ID {
			t.Errorf("event %d: got id %s then %s", i, first[i].ID, second[i].ID)
		}
	}
	// A second message of the same dialogue infers a started of its own (the fold starts
	// the dialogue at the earliest), in the same dialogue.
	next := strings.NewReplacer(`"update_id": 604385412`, `"update_id": 604385420`, `"message_id": 2187`, `"message_id": 2195`,
		`"date": 1795252443`, `"date": 1795256000`).Replace(string(body))
	third, err := p.Translate(nil, []byte(next), now)
	if err != nil {
		t.Fatal(err)
	}
	if third[0].ID == first[0].ID || third[0].Payload.(domain.InteractionRef).InteractionKey() != first[0].Payload.(domain.InteractionRef).InteractionKey() {
		t.Errorf("started: got id %s of %v, want another id in the same dialogue", third[0].ID, third[0].Payload)
	}
	if third[1].ID == first[1].ID {
		t.Errorf("message: got the first message's id %s for another message", third[1].ID)
	}
}

func TestVerify(t *testing.T) {
	body := webhookstest.Load(t, "private_text.json")
	tests := []struct {
		name   string
		header string
		ok     bool
	}{
		{"valid", testSecret, true},
		{"missing", "", false},
		{"wrong secret", "ledger_tg-5f0c2a9e71b5", false},
		{"prefix of the secret", testSecret[:10], false},
		{"secret with a suffix", testSecret + "x", false},
		{"different case", strings.ToUpper(testSecret), false},
	}
	p := newProvider(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/webhooks/telegram", nil)
			if tt.header != "" {
				r.Header.Set("X-Telegram-Bot-Api-Secret-Token", tt.header)
			}
			err := p.Verify(r, body, now)
			if tt.ok && err != nil {
				t.Fatalf("got %v, want accepted", err)
			}
			if !tt.ok && !errors.Is(err, webhooks.ErrUnauthorized) {
				t.Fatalf("got %v, want ErrUnauthorized", err)
			}
		})
	}
	// Telegram signs nothing: the token authenticates the sender, not the body, and no
	// timestamp exists to be stale. A body changed in transit still passes (TLS protects it).
	r := httptest.NewRequest(http.MethodPost, "/v1/webhooks/telegram", nil)
	r.Header.Set("X-Telegram-Bot-Api-Secret-Token", testSecret)
	if err := p.Verify(r, []byte(`{"update_id":1}`), now.Add(30*24*time.Hour)); err != nil {
		t.Errorf("got %v, want the token alone to decide", err)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"nothing", Config{Options: webhooks.Options{MaxBody: -1}}, []string{"SecretToken", "MaxBody"}},
		{"bad characters", Config{SecretToken: "has space!"}, []string{"A-Z"}},
		{"too long", Config{SecretToken: strings.Repeat("a", 257)}, []string{"1-256"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			webhookstest.CheckConfigErrors(t, err, tt.want...)
		})
	}
	p, err := New(Config{SecretToken: testSecret})
	webhookstest.CheckDefaults(t, p, err, Name, DefaultMaxBody)
}

func FuzzTranslate(f *testing.F) {
	p, err := New(Config{SecretToken: testSecret})
	if err != nil {
		f.Fatal(err)
	}
	webhookstest.Fuzz(f, p, now, nil)
}

func unix(s int64) time.Time { return time.Unix(s, 0).UTC() }
