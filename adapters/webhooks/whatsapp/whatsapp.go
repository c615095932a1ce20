// Package whatsapp verifies and translates WhatsApp Cloud API webhooks (Meta's
// "whatsapp_business_account" object, field "messages") into contract events.
//
// Verification: X-Hub-Signature-256 is "sha256=" + hex HMAC-SHA256 of the raw body keyed
// with the Meta app secret, compared in constant time. Meta signs no timestamp, so the
// stale-signature rule of CONTRACT.md §4 cannot apply; a replayed body is harmless because
// its event ids are derived from the provider's ids (a duplicate). GET requests answer
// Meta's subscription handshake (hub.mode, hub.verify_token, hub.challenge).
//
// Translation, per change of field "messages":
//
//   - an inbound message (messages[]) → interaction.started (flow whatsapp, incoming,
//     direct, contact.phone +wa_id) and interaction.message (incoming);
//   - a status "sent" (statuses[]) → interaction.message (outgoing), plus
//     interaction.started (outgoing) when the conversation was opened by the business
//     (origin or pricing category marketing, utility, authentication, ...; marketing gives
//     flow whatsapp_campaign) or when the payload does not say who opened it;
//   - a status "delivered" or "read" → interaction.ended delivered;
//   - a status "failed" → interaction.ended warning, reason "<error title>: <details>";
//   - a status that does not open the dialogue itself ("sent" in a conversation the
//     customer opened, "delivered", "read", "failed") is also preceded by the
//     interaction.started it implies (webhooks.WithInferredStarted; direction incoming
//     when the conversation's origin or pricing category is service, else outgoing), so
//     that a dialogue whose customer message never reached the ledger is still listed.
//     A "delivered" or "read" that names no origin infers nothing.
//
// Everything else (group messages and statuses, "system" and "request_welcome"
// messages, other statuses, value.errors, other fields) yields no events.
//
// # Interaction id
//
// One dialogue is "wa:<phone_number_id>:<customer wa_id>:<UTC date YYYY-MM-DD>", the
// date being that of the message or status timestamp. Meta's conversation id is not used
// as the interaction id because inbound messages do not carry it (only statuses do):
// keying on it would split a customer's message from the statuses of the business's
// replies. The conversation id, when present, is kept in the events' data as
// "conversation_id".
//
// # Event ids
//
// interaction.message: EventID("whatsapp", message id) for inbound messages;
// status events: EventID("whatsapp", status id, status). interaction.started:
// EventID("whatsapp", "started", interaction id), one per dialogue, so that the ledger
// keeps the first one it stores and start_at does not move with every message.
//
// # Caveats
//
//   - A dialogue that crosses midnight UTC becomes two interactions.
//   - Which started event a dialogue keeps depends on which reached the ledger first: the
//     customer's message normally precedes the statuses of the replies, but if Meta retries
//     the customer's message after the reply's "sent" status with unknown origin was
//     stored, the dialogue shows as outgoing.
//   - Message contents (text, media) are not recorded: the catalog has no field for them.
package whatsapp

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/adapters/webhooks/metahub"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/domain/contact"
)

// Name is the provider's path segment: POST/GET /v1/webhooks/whatsapp.
// WARNING: it namespaces every derived event id; renaming it breaks idempotency of retries.
const Name = "whatsapp"

// DefaultMaxBody is the default body limit: Meta's webhook payloads are at most 3 MB.
const DefaultMaxBody = 4 << 20

// Config configures the WhatsApp provider.
type Config struct {
	// App: the Meta app's AppSecret (required) and VerifyToken.
	metahub.App
	// Region is the phone region that national numbers are read in. wa_id values are
	// always international, so it matters only for malformed ones. Default:
	// contact.DefaultRegion ("US").
	Region string
	// Options: MapCustomer (of "tel:+33612345678"), Source, MaxBody (default
	// DefaultMaxBody).
	webhooks.Options
}

func (c *Config) setDefaults() {
	c.Region = cmp.Or(c.Region, contact.DefaultRegion)
	c.Options.SetDefaults(Name, DefaultMaxBody)
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error { return c.Options.Validate(Name, c.App.Check, c.checkRegion) }

func (c Config) checkRegion(p *webhooks.Problems) {
	if c.Region != "" && phonenumbers.GetCountryCodeForRegion(c.Region) == 0 {
		p.Addf("Region %q is not a phone region (ISO 3166 code such as FR or US)", c.Region)
	}
}

// Provider verifies and translates WhatsApp Cloud API webhooks.
type Provider struct{ metahub.Adapter[Config] }

// New returns the provider, or the configuration's problems.
func New(cfg Config) (*Provider, error) {
	return metahub.Construct[Config, Provider](Name, cfg, (*Config).setDefaults)
}

// Wire shapes of the Cloud API webhook (only the fields the ledger reads).
type (
	entry struct {
		Changes []change `json:"changes"`
	}
	change struct {
		Field string `json:"field"`
		Value value  `json:"value"`
	}
	value struct {
		MessagingProduct string `json:"messaging_product"`
		Metadata         struct {
			DisplayPhoneNumber string `json:"display_phone_number"`
			PhoneNumberID      string `json:"phone_number_id"`
		} `json:"metadata"`
		Contacts []struct {
			Profile struct {
				Name string `json:"name"`
			} `json:"profile"`
			WaID string `json:"wa_id"`
		} `json:"contacts"`
		Messages []message `json:"messages"`
		Statuses []status  `json:"statuses"`
	}
	message struct {
		From      string `json:"from"`
		ID        string `json:"id"`
		Timestamp string `json:"timestamp"`
		Type      string `json:"type"`
		GroupID   string `json:"group_id"`
	}
	status struct {
		ID            string `json:"id"`
		Status        string `json:"status"`
		Timestamp     string `json:"timestamp"`
		RecipientID   string `json:"recipient_id"`
		RecipientType string `json:"recipient_type"`
		Conversation  *struct {
			ID     string `json:"id"`
			Origin struct {
				Type string `json:"type"`
			} `json:"origin"`
		} `json:"conversation"`
		Pricing *struct {
			Category string `json:"category"`
		} `json:"pricing"`
		Errors []struct {
			Code      json.Number `json:"code"`
			Title     string      `json:"title"`
			Message   string      `json:"message"`
			ErrorData struct {
				Details string `json:"details"`
			} `json:"error_data"`
		} `json:"errors"`
	}
)

// Extensions written beside the contract's fields (the ledger keeps them in Event.Data):
// conversation_id, message_type, provider_status and, on a receipt, message_id.
const (
	extConversation = "conversation_id"
	extMessageType  = "message_type"
	extStatus       = "provider_status"
	extMessageID    = "message_id"
)

// businessOrigins are the conversation origin types and pricing categories of a
// conversation that the business opened (template messages); service, user_initiated
// and referral_conversion ones were opened by the customer.
var businessOrigins = map[string]bool{
	"business_initiated": true, "marketing": true, "marketing_lite": true, "utility": true,
	"authentication": true, "authentication_international": true,
}

// Translate turns a verified payload into events (see the package documentation).
func (p *Provider) Translate(_ *http.Request, body []byte, now time.Time) ([]domain.Event, error) {
	b := &batch{Batch: webhooks.NewBatch(Name, p.Config().Source, now), p: p}
	return metahub.Translate(body, "whatsapp_business_account", "WhatsApp webhook body", b.Batch, func(i int, e entry) error {
		for j, c := range e.Changes {
			if c.Field != "messages" {
				continue
			}
			if err := b.change(fmt.Sprintf("entry[%d].changes[%d].value", i, j), c.Value); err != nil {
				return err
			}
		}
		return nil
	})
}

// batch collects the events of one payload (see webhooks.Batch).
type batch struct {
	*webhooks.Batch
	p *Provider
}

func (b *batch) change(path string, v value) error {
	if v.MessagingProduct != "" && v.MessagingProduct != "whatsapp" {
		return fmt.Errorf("%s.messaging_product is %q, want \"whatsapp\"", path, domain.Clip(v.MessagingProduct))
	}
	phoneID := v.Metadata.PhoneNumberID
	if phoneID == "" && (len(v.Messages) > 0 || len(v.Statuses) > 0) {
		return fmt.Errorf("%s.metadata.phone_number_id is required", path)
	}
	names := map[string]string{}
	for _, c := range v.Contacts {
		names[c.WaID] = c.Profile.Name
	}
	for k, m := range v.Messages {
		if err := b.message(phoneID, m, names[m.From]); err != nil {
			return fmt.Errorf("%s.messages[%d]: %w", path, k, err)
		}
	}
	for k, s := range v.Statuses {
		if err := b.status(phoneID, s); err != nil {
			return fmt.Errorf("%s.statuses[%d]: %w", path, k, err)
		}
	}
	return nil
}

func (b *batch) message(phoneID string, m message, name string) error {
	if m.GroupID != "" || m.Type == "system" || m.Type == "request_welcome" {
		return nil // a group chat, a number change notice, a first-open: no dialogue message
	}
	if m.ID == "" {
		return errors.New("id is required")
	}
	at, err := unixSeconds("timestamp", m.Timestamp)
	if err != nil {
		return err
	}
	e164, customer, err := b.customer("from", m.From)
	if err != nil {
		return err
	}
	iid := interactionID(phoneID, m.From, at)
	var parts []domain.Participant
	if name != "" {
		parts = []domain.Participant{{Role: "customer", ID: e164, Name: domain.FitText(name, domain.MaxTextBytes)}}
	}
	if err := b.Start(at, customer, &domain.StartedData{
		InteractionID: iid, Flow: domain.FlowWhatsApp, Direction: domain.DirectionIncoming,
		Routing: domain.RoutingDirect, Contact: domain.Contact{Phone: e164}, Participants: parts,
	}); err != nil {
		return err
	}
	var ext []domain.Extension
	if m.Type != "" {
		ext = append(ext, domain.Extension{Key: extMessageType, Value: m.Type})
	}
	return b.Add(webhooks.EventID(Name, m.ID), domain.TypeInteractionMessage, at, customer, &domain.MessageData{
		InteractionID: iid, Direction: domain.DirectionIncoming, MessageID: m.ID,
	}, ext...)
}

func (b *batch) status(phoneID string, s status) error {
	switch s.Status {
	case "sent", "delivered", "read", "failed":
	default:
		return nil // deleted, warning, played, ...: nothing the ledger records
	}
	if s.RecipientType == "group" {
		return nil
	}
	if s.ID == "" {
		return errors.New("id is required")
	}
	at, err := unixSeconds("timestamp", s.Timestamp)
	if err != nil {
		return err
	}
	e164, customer, err := b.customer("recipient_id", s.RecipientID)
	if err != nil {
		return err
	}
	iid := interactionID(phoneID, s.RecipientID, at)
	var convID, origin string
	if s.Conversation != nil {
		convID, origin = s.Conversation.ID, s.Conversation.Origin.Type
	}
	if origin == "" && s.Pricing != nil {
		origin = s.Pricing.Category
	}
	id := webhooks.EventID(Name, s.ID, s.Status)
	var conv []domain.Extension
	if convID != "" {
		conv = []domain.Extension{{Key: extConversation, Value: convID}}
	}
	// The dialogue as a receipt tells it: opened by the business (or unknown) → outgoing,
	// by the customer (a service conversation) → incoming.
	started := domain.StartedData{InteractionID: iid, Flow: domain.FlowWhatsApp, Direction: domain.DirectionOutgoing,
		Routing: domain.RoutingDirect, Contact: domain.Contact{Phone: e164}}
	if origin == "marketing" || origin == "marketing_lite" {
		started.Flow = domain.FlowWhatsAppCampaign
	}
	businessOpened := origin == "" || businessOrigins[origin]
	if !businessOpened {
		started.Direction = domain.DirectionIncoming
	}
	if s.Status == "sent" {
		msg := &domain.MessageData{InteractionID: iid, Direction: domain.DirectionOutgoing, MessageID: s.ID}
		if !businessOpened {
			return b.AddInferred(id, domain.TypeInteractionMessage, at, customer, msg, started, conv...)
		}
		d := started
		if err := b.Start(at, customer, &d, conv...); err != nil {
			return err
		}
		return b.Add(id, domain.TypeInteractionMessage, at, customer, msg, conv...)
	}
	receipt := append([]domain.Extension{{Key: extMessageID, Value: s.ID}, {Key: extStatus, Value: s.Status}}, conv...)
	if origin == "" && s.Status != "failed" {
		// A receipt that does not say who opened the dialogue (Meta sends read without
		// pricing) infers nothing: guessing could contradict the inference of the same
		// dialogue's sent or delivered, which do say it.
		return b.Add(id, domain.TypeInteractionEnded, at, customer, &domain.EndedData{
			InteractionID: iid, Status: domain.StatusDelivered,
		}, receipt...)
	}
	if s.Status == "failed" {
		return b.AddInferred(id, domain.TypeInteractionEnded, at, customer, &domain.EndedData{
			InteractionID: iid, Status: domain.StatusWarning, Reason: failureReason(s),
		}, started, receipt...)
	}
	return b.AddInferred(id, domain.TypeInteractionEnded, at, customer, &domain.EndedData{ // delivered, read
		InteractionID: iid, Status: domain.StatusDelivered,
	}, started, receipt...)
}

// customer reads a wa_id (international digits without "+") as E.164 and returns the
// customer id: the operator's mapping of "tel:+<E.164>", or that key.
func (b *batch) customer(field, waID string) (e164, customerID string, err error) {
	if waID == "" {
		return "", "", fmt.Errorf("%s is required", field)
	}
	if strings.Trim(waID, "0123456789") != "" {
		return "", "", fmt.Errorf("%s %q is not a WhatsApp id (digits of an international number)", field, domain.Clip(waID))
	}
	e164, ok := contact.Phone("+"+waID, b.p.Config().Region)
	if !ok {
		return "", "", fmt.Errorf("%s %q is not a possible phone number", field, domain.Clip(waID))
	}
	return e164, b.p.Config().Customer(contact.PhoneKey(e164)), nil
}

// interactionID is the dialogue rule of the package documentation.
func interactionID(phoneID, waID string, at time.Time) string {
	return metahub.DialogueID("wa", phoneID, waID, at)
}

func failureReason(s status) string {
	if len(s.Errors) == 0 {
		return "failed"
	}
	e := s.Errors[0]
	title := e.Title
	if title == "" {
		title = e.Message
	}
	if title == "" {
		title = "failed"
	}
	if e.Code != "" {
		title = fmt.Sprintf("%s (%s)", title, e.Code)
	}
	if d := e.ErrorData.Details; d != "" && d != title {
		title += ": " + d
	}
	return domain.FitText(title, domain.MaxTextBytes)
}

func unixSeconds(field, s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, fmt.Errorf("%s %q is not a Unix time in seconds", field, domain.Clip(s))
	}
	return time.Unix(n, 0).UTC(), nil
}
