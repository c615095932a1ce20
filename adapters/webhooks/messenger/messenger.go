// Package messenger verifies and translates Messenger Platform webhooks (Meta's "page"
// object, entry[].messaging[]) into contract events.
//
// Verification: X-Hub-Signature-256 is "sha256=" + hex HMAC-SHA256 of the raw body keyed
// with the Meta app secret, compared in constant time. Meta signs no timestamp, so the
// stale-signature rule of CONTRACT.md §4 cannot apply; a replayed body is harmless because
// its event ids are derived from the provider's ids (a duplicate). GET requests answer
// Meta's subscription handshake (hub.mode, hub.verify_token, hub.challenge).
//
// Translation, per messaging item:
//
//   - message from a person (messages field) → interaction.started (flow messenger,
//     incoming, direct) and interaction.message (incoming);
//   - message echo (message.is_echo, message_echoes field) → interaction.message
//     (outgoing);
//   - delivery (message_deliveries) → interaction.ended delivered: every message before
//     the watermark was delivered;
//   - read (message_reads) → interaction.ended delivered: every message before the
//     watermark was read.
//
// Postbacks, referrals, opt-ins, reactions, edits, handovers and standby items yield no
// events. customer_id is "messenger:<PSID>" (the person's page-scoped id: the sender of a
// message, the recipient of an echo) unless Config.MapCustomer maps it.
//
// # Interaction id
//
// One dialogue is "fb:<page id>:<PSID>:<UTC date YYYY-MM-DD>", the date being that of the
// message's timestamp, or for deliveries and reads that of the watermark (the newest
// message they cover), so that a receipt lands in the dialogue of the messages it covers.
// Messenger webhooks carry no conversation id.
//
// # Event ids
//
// interaction.message: EventID("messenger", mid). Receipts: EventID("messenger",
// "delivery"|"read", page id, PSID, watermark): a receipt is the fact "everything before
// this watermark", whatever the mids listed. interaction.started: EventID("messenger",
// "inferred-started", the item's event id), one per item, all alike (see Caveats).
//
// # Caveats
//
//   - A dialogue that crosses midnight UTC becomes two interactions.
//   - Every item (message, echo, receipt) is preceded by the interaction.started it
//     infers (webhooks.WithInferredStarted), all alike: incoming, as Messenger says
//     nothing of who opened the thread, so a thread the page opened shows as incoming.
//   - Message contents (text, attachments) are not recorded: the catalog has no field for
//     them.
package messenger

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/adapters/webhooks/metahub"
	"github.com/interaction-ledger/ledger/domain"
)

// Name is the provider's path segment: POST/GET /v1/webhooks/messenger.
// WARNING: it namespaces every derived event id; renaming it breaks idempotency of retries.
const Name = "messenger"

// DefaultMaxBody is the default body limit: Meta batches up to 1000 items per request.
const DefaultMaxBody = 4 << 20

// Config configures the Messenger provider. It has no phone region: Messenger identifies
// people by page-scoped ids, never by phone numbers.
type Config struct {
	// App: the Meta app's AppSecret (required) and VerifyToken.
	metahub.App
	// Options: MapCustomer (of "messenger:<PSID>"), Source, MaxBody (default
	// DefaultMaxBody).
	webhooks.Options
}

func (c *Config) setDefaults() {
	c.Options.SetDefaults(Name, DefaultMaxBody)
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error { return c.Options.Validate(Name, c.App.Check) }

// Provider verifies and translates Messenger Platform webhooks.
type Provider struct{ metahub.Adapter[Config] }

// New returns the provider, or the configuration's problems.
func New(cfg Config) (*Provider, error) {
	return metahub.Construct[Config, Provider](Name, cfg, (*Config).setDefaults)
}

// Wire shapes of the Messenger webhook (only the fields the ledger reads).
type (
	entry struct {
		ID        string      `json:"id"`
		Messaging []messaging `json:"messaging"`
	}
	messaging struct {
		Sender struct {
			ID string `json:"id"`
		} `json:"sender"`
		Recipient struct {
			ID string `json:"id"`
		} `json:"recipient"`
		Timestamp int64 `json:"timestamp"`
		Message   *struct {
			Mid    string `json:"mid"`
			IsEcho bool   `json:"is_echo"`
		} `json:"message"`
		Delivery *struct {
			Mids      []string `json:"mids"`
			Watermark int64    `json:"watermark"`
		} `json:"delivery"`
		Read *struct {
			Watermark int64 `json:"watermark"`
		} `json:"read"`
	}
)

// Extensions written on a receipt beside the contract's fields (the ledger keeps them in
// Event.Data): provider_status (delivery or read), watermark and mids.
const (
	extStatus    = "provider_status"
	extWatermark = "watermark"
	extMids      = "mids"
)

// Translate turns a verified payload into events (see the package documentation).
func (p *Provider) Translate(_ *http.Request, body []byte, now time.Time) ([]domain.Event, error) {
	b := &batch{Batch: webhooks.NewBatch(Name, p.Config().Source, now), p: p}
	return metahub.Translate(body, "page", "Messenger webhook body", b.Batch, func(i int, e entry) error {
		for j, m := range e.Messaging {
			if err := b.item(e.ID, m); err != nil {
				return fmt.Errorf("entry[%d].messaging[%d]: %w", i, j, err)
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

func (b *batch) item(entryID string, m messaging) error {
	switch {
	case m.Message != nil && m.Message.IsEcho: // the page's own message: sender is the page
		return b.message(entryID, m, m.Sender.ID, "sender", m.Recipient.ID, "recipient", domain.DirectionOutgoing)
	case m.Message != nil:
		return b.message(entryID, m, m.Recipient.ID, "recipient", m.Sender.ID, "sender", domain.DirectionIncoming)
	case m.Delivery != nil:
		return b.receipt(entryID, m, "delivery", m.Delivery.Watermark, m.Delivery.Mids)
	case m.Read != nil:
		return b.receipt(entryID, m, "read", m.Read.Watermark, nil)
	}
	return nil // postback, referral, optin, reaction, ...: nothing the ledger records
}

// message records a message of the thread of page (named pageField in the item) with
// the person psid (psidField), sent in direction.
func (b *batch) message(entryID string, m messaging, page, pageField, psid, psidField string, direction domain.Direction) error {
	at, err := millis("timestamp", m.Timestamp)
	if err != nil {
		return err
	}
	if m.Message.Mid == "" {
		return errors.New("message.mid is required")
	}
	iid, customer, err := b.dialogue(entryID, page, pageField, psid, psidField, at)
	if err != nil {
		return err
	}
	return b.AddInferred(webhooks.EventID(Name, m.Message.Mid), domain.TypeInteractionMessage, at, customer, &domain.MessageData{
		InteractionID: iid, Direction: direction, MessageID: m.Message.Mid,
	}, dialogueStarted(iid, psid))
}

// receipt records that every message the page sent before watermark was delivered (or
// read): sender is the person, recipient the page.
func (b *batch) receipt(entryID string, m messaging, kind string, watermark int64, mids []string) error {
	wm, err := millis(kind+".watermark", watermark)
	if err != nil {
		return err
	}
	at := wm
	if m.Timestamp != 0 {
		if at, err = millis("timestamp", m.Timestamp); err != nil {
			return err
		}
	}
	page, psid := m.Recipient.ID, m.Sender.ID
	iid, customer, err := b.dialogue(entryID, page, "recipient", psid, "sender", wm)
	if err != nil {
		return err
	}
	ext := []domain.Extension{{Key: extStatus, Value: kind}, {Key: extWatermark, Value: watermark}}
	if len(mids) > 0 && len(mids) <= domain.MaxListItems { // beyond, the watermark says it all: keep the envelope small
		ext = append(ext, domain.Extension{Key: extMids, Value: mids})
	}
	return b.AddInferred(webhooks.EventID(Name, kind, page, psid, strconv.FormatInt(watermark, 10)),
		domain.TypeInteractionEnded, at, customer, &domain.EndedData{InteractionID: iid, Status: domain.StatusDelivered},
		dialogueStarted(iid, psid), ext...)
}

// dialogueStarted is the started that every item of a dialogue infers (a message, an
// echo, a receipt): all alike, so that the dialogue starts at its earliest item whatever
// the order of arrival, and is listed whichever of Messenger's fields the page
// subscribed to. Incoming: Messenger says nothing of who opened the thread.
func dialogueStarted(iid, psid string) domain.StartedData {
	return domain.StartedData{InteractionID: iid, Flow: domain.FlowMessenger, Direction: domain.DirectionIncoming,
		Routing: domain.RoutingDirect, Participants: []domain.Participant{{Role: "customer", ID: psid}}}
}

// dialogue returns the interaction id and the customer id of a page's thread with a
// person (see the package documentation).
func (b *batch) dialogue(entryID, page, pageField, psid, psidField string, at time.Time) (iid, customer string, err error) {
	if page == "" {
		page = entryID
	}
	if page == "" {
		return "", "", fmt.Errorf("%s.id is required", pageField)
	}
	if psid == "" {
		return "", "", fmt.Errorf("%s.id is required", psidField)
	}
	if strings.Contains(page, ":") || strings.Contains(psid, ":") {
		return "", "", fmt.Errorf("%s.id and %s.id must not contain ':'", pageField, psidField)
	}
	return metahub.DialogueID("fb", page, psid, at), b.p.Config().Customer("messenger:" + psid), nil
}

func millis(field string, ms int64) (time.Time, error) {
	if ms <= 0 {
		return time.Time{}, fmt.Errorf("%s %d is not a Unix time in milliseconds", field, ms)
	}
	return time.UnixMilli(ms).UTC(), nil
}
