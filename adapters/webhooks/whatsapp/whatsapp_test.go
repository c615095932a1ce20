package whatsapp

import (
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/adapters/webhooks/metahub"
	"github.com/interaction-ledger/ledger/adapters/webhooks/webhookstest"
	"github.com/interaction-ledger/ledger/domain"
)

const (
	phoneID = "106540352242922"
	camille = "33612345678"
	alex    = "14155550100"
)

// now is just after the recorded payloads (2026-11-21, 09:14-09:20 UTC).
var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// wantEvent is one row of the expected events.
type wantEvent = webhookstest.Want

func newProvider(t *testing.T) *Provider {
	return webhookstest.Must[*Provider](t)(New(Config{App: metahub.App{AppSecret: webhookstest.MetaAppSecret, VerifyToken: webhookstest.MetaVerifyToken}, Region: "FR"}))
}

func unix(s int64) time.Time { return time.Unix(s, 0).UTC() }

func TestTranslate(t *testing.T) {
	const (
		inMsg     = "wamid.HBgLMzM2MTIzNDU2NzgVAgASGBQzQTRGRjBDMjQ1QjA5RDg5QjE2NwA="
		imgMsg    = "wamid.HBgLMzM2MTIzNDU2NzgVAgASGBQzQUI3RTcyRDBBNzk0QkY5OTAxMwA="
		textMsg   = "wamid.HBgLMzM2MTIzNDU2NzgVAgASGBQzQUIzQjQ4MTVCNjlDMzQ0NUE0MQA="
		campaign  = "wamid.HBgLMTQxNTU1NTAxMDAVAgARGBI0RkE2NzlCNjQ1RTk5Q0JBMEQA"
		reply     = "wamid.HBgLMzM2MTIzNDU2NzgVAgARGBI5QjFDMzU0RTc3QjJBODhGMTkA"
		failedMsg = "wamid.HBgLMTQxNTU1NTAxMDAVAgARGBJDMkU5RjAxQTc0QjM2NTdEODgA"
	)
	camilleDialogue := "wa:" + phoneID + ":" + camille + ":2026-11-21"
	alexDialogue := "wa:" + phoneID + ":" + alex + ":2026-11-21"
	camilleKey, alexKey := "tel:+33612345678", "tel:+14155550100"
	// inferred is the started a receipt implies (webhooks.WithInferredStarted).
	inferred := func(of string, at time.Time, customer string, d domain.StartedData) wantEvent {
		d.Routing, d.Inferred = domain.RoutingDirect, true
		return wantEvent{domain.TypeInteractionStarted, webhooks.EventID("whatsapp", "inferred-started", of), at, customer, &d, nil}
	}
	camilleIn := domain.StartedData{InteractionID: camilleDialogue, Flow: domain.FlowWhatsApp, Direction: domain.DirectionIncoming,
		Contact: domain.Contact{Phone: "+33612345678"}}
	// camilleStarted is the started of Camille's dialogue that her first message gives,
	// at (Unix seconds), with her profile's name.
	camilleStarted := func(at int64) wantEvent {
		d := camilleIn
		d.Routing, d.Participants = domain.RoutingDirect, []domain.Participant{{Role: "customer", ID: "+33612345678", Name: "Camille Martin"}}
		return wantEvent{domain.TypeInteractionStarted, webhooks.EventID("whatsapp", "started", camilleDialogue), unix(at), camilleKey, &d, nil}
	}
	// camilleMessage is Camille's incoming message id at (Unix seconds), with the extension
	// fields ext.
	camilleMessage := func(id string, at int64, ext map[string]any) wantEvent {
		return wantEvent{domain.TypeInteractionMessage, webhooks.EventID("whatsapp", id), unix(at), camilleKey,
			&domain.MessageData{InteractionID: camilleDialogue, Direction: domain.DirectionIncoming, MessageID: id}, ext}
	}

	webhookstest.CheckTranslate(t, newProvider(t), now, Name, []webhookstest.Translated{
		{
			Name: "inbound text opens an incoming dialogue",
			File: "inbound_text.json",
			Want: []wantEvent{
				camilleStarted(1795252443),
				camilleMessage(inMsg, 1795252443, map[string]any{"message_type": "text"}),
			},
		},
		{
			Name: "two messages of one dialogue give one started, the earliest",
			File: "two_messages.json",
			Want: []wantEvent{
				camilleStarted(1795252560),
				camilleMessage(imgMsg, 1795252831, map[string]any{"message_type": "image"}),
				camilleMessage(textMsg, 1795252560, nil),
			},
		},
		{
			Name: "marketing template sent opens a campaign dialogue",
			File: "status_sent_marketing.json",
			Want: []wantEvent{
				{domain.TypeInteractionStarted, webhooks.EventID("whatsapp", "started", alexDialogue), unix(1795252510), alexKey,
					&domain.StartedData{InteractionID: alexDialogue, Flow: domain.FlowWhatsAppCampaign, Direction: domain.DirectionOutgoing,
						Routing: domain.RoutingDirect, Contact: domain.Contact{Phone: "+14155550100"}},
					map[string]any{"conversation_id": "c8f41a0d7e3b29a51f6e4d0b8a2c7e91"}},
				{domain.TypeInteractionMessage, webhooks.EventID("whatsapp", campaign, "sent"), unix(1795252510), alexKey,
					&domain.MessageData{InteractionID: alexDialogue, Direction: domain.DirectionOutgoing, MessageID: campaign},
					map[string]any{"conversation_id": "c8f41a0d7e3b29a51f6e4d0b8a2c7e91"}},
			},
		},
		{
			Name: "reply sent in a customer-opened conversation is only a message",
			File: "status_sent_service.json",
			Want: []wantEvent{
				inferred(webhooks.EventID("whatsapp", reply, "sent"), unix(1795252510), camilleKey, camilleIn),
				{domain.TypeInteractionMessage, webhooks.EventID("whatsapp", reply, "sent"), unix(1795252510), camilleKey,
					&domain.MessageData{InteractionID: camilleDialogue, Direction: domain.DirectionOutgoing, MessageID: reply}, nil},
			},
		},
		{
			Name: "delivered and read end the dialogue delivered",
			File: "status_delivered_read.json",
			Want: []wantEvent{
				inferred(webhooks.EventID("whatsapp", reply, "delivered"), unix(1795252512), camilleKey, camilleIn),
				{domain.TypeInteractionEnded, webhooks.EventID("whatsapp", reply, "delivered"), unix(1795252512), camilleKey,
					&domain.EndedData{InteractionID: camilleDialogue, Status: domain.StatusDelivered},
					map[string]any{"provider_status": "delivered", "message_id": reply}},
				{domain.TypeInteractionEnded, webhooks.EventID("whatsapp", reply, "read"), unix(1795252560), camilleKey,
					&domain.EndedData{InteractionID: camilleDialogue, Status: domain.StatusDelivered},
					map[string]any{"provider_status": "read"}},
			},
		},
		{
			Name: "failed ends with a warning and the provider's reason",
			File: "status_failed.json",
			Want: []wantEvent{
				inferred(webhooks.EventID("whatsapp", failedMsg, "failed"), unix(1795252831), alexKey, domain.StartedData{InteractionID: alexDialogue,
					Flow: domain.FlowWhatsApp, Direction: domain.DirectionOutgoing, Contact: domain.Contact{Phone: "+14155550100"}}),
				{domain.TypeInteractionEnded, webhooks.EventID("whatsapp", failedMsg, "failed"), unix(1795252831), alexKey,
					&domain.EndedData{InteractionID: alexDialogue, Status: domain.StatusWarning,
						Reason: "Message undeliverable (131026): Message Undeliverable."}, nil},
			},
		},
		{
			Name: "other webhook fields yield nothing",
			File: "template_status_update.json",
		},
	})
}

func TestTranslateMapsCustomers(t *testing.T) {
	p, err := New(Config{App: metahub.App{AppSecret: webhookstest.MetaAppSecret}, Options: webhooks.Options{MapCustomer: func(key string) (string, bool) {
		if key == "tel:+33612345678" {
			return "cust-42", true
		}
		return "", false
	}}})
	webhookstest.CheckMapsCustomer(t, p, err, now, "inbound_text.json", "cust-42")
}

func TestTranslateRejects(t *testing.T) {
	inbound := string(webhookstest.Load(t, "inbound_text.json"))
	webhookstest.CheckRejects(t, newProvider(t), now, []webhookstest.Rejected{
		{"malformed JSON", `{"object":`, "not a WhatsApp webhook body"},
		{"wrong type", `{"object":"whatsapp_business_account","entry":{}}`, "not a WhatsApp webhook body"},
		{"another object", `{"object":"page","entry":[]}`, `object is "page"`},
		{"bad timestamp", strings.Replace(inbound, `"1795252443"`, `"yesterday"`, 1), "messages[0]: timestamp"},
		{"stale message", strings.Replace(inbound, `"1795252443"`, `"1700000000"`, 1), "retention window"},
		{"sender not a number", strings.Replace(inbound, `"from": "33612345678"`, `"from": "bob"`, 1), "messages[0]: from"},
		{"missing phone number id", strings.Replace(inbound, `"phone_number_id": "106540352242922"`, `"phone_number_id": ""`, 1), "phone_number_id is required"},
	})
}

func TestIdempotent(t *testing.T) {
	webhookstest.CheckRetry(t, newProvider(t), now, 26*time.Hour, // a retry the next day
		"inbound_text.json", "two_messages.json", "status_sent_marketing.json", "status_delivered_read.json", "status_failed.json")
}

// TestMetaWiring checks the provider is wired to Meta's scheme and handshake (metahub
// tests the scheme's whole matrix).
func TestMetaWiring(t *testing.T) {
	webhookstest.CheckMetaWiring(t, newProvider(t), webhookstest.Load(t, "inbound_text.json"), webhookstest.MetaAppSecret, webhookstest.MetaVerifyToken, now)
}

func TestNew(t *testing.T) {
	_, err := New(Config{Region: "XX", Options: webhooks.Options{MaxBody: -1}})
	webhookstest.CheckConfigErrors(t, err, "AppSecret", "Region", "MaxBody")
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
