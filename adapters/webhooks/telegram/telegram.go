// Package telegram verifies and translates Telegram Bot API webhooks (one Update per
// request) into contract events.
//
// Verification: the header X-Telegram-Bot-Api-Secret-Token must equal the secret_token
// given to setWebhook, compared in constant time. Telegram signs nothing and sends no
// timestamp with the token, so the stale-signature rule of CONTRACT.md §4 cannot apply;
// a replayed update is harmless because its event ids are derived from the update's own
// ids (a duplicate).
//
// Translation: Update.message in a private chat → interaction.started (flow telegram,
// incoming, direct; inferred, see below) and interaction.message (incoming). customer_id is
// "telegram:<chat id>" unless Config.MapCustomer maps it.
//
// Edited messages, channel posts, messages in groups, supergroups and channels (a group is
// not one customer), business-account messages, callback queries and every other update
// kind yield no events. The bot's own replies are never sent to its webhook by Telegram,
// so a Telegram dialogue holds only the customer's messages.
//
// # Interaction id
//
// One dialogue is "tg:<chat id>:<UTC date YYYY-MM-DD>", the date being that of
// message.date. Telegram has no conversation id.
//
// # Event ids
//
// interaction.message: EventID("telegram", update_id, chat id, message_id); the chat and
// message ids guard against update_id, which Telegram restarts at random after a week
// without updates, naming another update. interaction.started: each message infers it
// (webhooks.WithInferredStarted, id EventID("telegram", "inferred-started", the message's
// event id)): all of a dialogue's are alike, and the fold starts the dialogue at its
// earliest message whatever the order in which Telegram's deliveries and retries arrive
// (one started per dialogue would start it at whichever message was stored first).
//
// # Caveats
//
//   - A dialogue that crosses midnight UTC becomes two interactions.
//   - Message contents are not recorded: the catalog has no field for them.
package telegram

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/domain"
)

// Name is the provider's path segment: POST /v1/webhooks/telegram.
// WARNING: it namespaces every derived event id; renaming it breaks idempotency of retries.
const Name = "telegram"

// DefaultMaxBody is the default body limit: one Update is a few kilobytes.
const DefaultMaxBody = 1 << 20

// SecretHeader carries the secret_token given to setWebhook.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// Config configures the Telegram provider. It has no phone region: Telegram identifies
// chats by numeric ids and does not share users' phone numbers with bots.
type Config struct {
	// SecretToken is the secret_token given to setWebhook (LEDGER_TELEGRAM_SECRET_TOKEN):
	// 1-256 characters A-Z, a-z, 0-9, _ and -. Required, at least webhooks.MinTokenLen.
	SecretToken string
	// Options: MapCustomer (of "telegram:<chat id>"), Source, MaxBody (default
	// DefaultMaxBody).
	webhooks.Options
}

func (c *Config) setDefaults() { c.Options.SetDefaults(Name, DefaultMaxBody) }

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error { return c.Options.Validate(Name, c.checkSecretToken) }

func (c Config) checkSecretToken(p *webhooks.Problems) {
	p.Secret("SecretToken (LEDGER_TELEGRAM_SECRET_TOKEN)", c.SecretToken, webhooks.MinTokenLen)
	if len(c.SecretToken) > 256 || strings.ContainsFunc(c.SecretToken, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-')
	}) {
		p.Addf("SecretToken (LEDGER_TELEGRAM_SECRET_TOKEN) must be 1-256 characters A-Z, a-z, 0-9, _ or - (Telegram refuses others)")
	}
}

// Provider verifies and translates Telegram Bot API updates.
type Provider struct{ webhooks.Adapter[Config] }

var _ webhooks.HeaderVerifier = (*Provider)(nil)

// New returns the provider, or the configuration's problems.
func New(cfg Config) (*Provider, error) {
	return webhooks.ConstructAdapter[Config, Provider](Name, cfg, (*Config).setDefaults)
}

// VerifyHeaders checks the secret token header, the whole scheme: the handler decides
// before it reads the body. Telegram sends no timestamp: now is not used.
func (p *Provider) VerifyHeaders(r *http.Request, _ time.Time) error {
	got := r.Header.Get(SecretHeader)
	if got == "" {
		return fmt.Errorf("%w: %s header is missing", webhooks.ErrUnauthorized, SecretHeader)
	}
	if !webhooks.EqualSecret(got, p.Config().SecretToken) {
		return fmt.Errorf("%w: %s does not match", webhooks.ErrUnauthorized, SecretHeader)
	}
	return nil
}

// Verify checks the secret token header as VerifyHeaders does; the body is not signed.
func (p *Provider) Verify(r *http.Request, _ []byte, now time.Time) error {
	return p.VerifyHeaders(r, now)
}

// Wire shapes of the Bot API Update (only the fields the ledger reads).
type (
	update struct {
		UpdateID *int64   `json:"update_id"`
		Message  *message `json:"message"`
	}
	message struct {
		MessageID int64 `json:"message_id"`
		From      *struct {
			ID        int64  `json:"id"`
			IsBot     bool   `json:"is_bot"`
			FirstName string `json:"first_name"`
			LastName  string `json:"last_name"`
			Username  string `json:"username"`
		} `json:"from"`
		Chat *struct {
			ID   int64  `json:"id"`
			Type string `json:"type"`
		} `json:"chat"`
		Date int64 `json:"date"`
	}
)

// Extensions written beside the contract's fields (the ledger keeps them in Event.Data):
// the sender's username on the started event, the update_id on the message.
const (
	extUsername = "username"
	extUpdateID = "update_id"
)

// Translate turns a verified update into events (see the package documentation).
func (p *Provider) Translate(_ *http.Request, body []byte, now time.Time) ([]domain.Event, error) {
	var u update
	if err := json.Unmarshal(body, &u); err != nil {
		return nil, fmt.Errorf("%w: not a Telegram Update: %w", webhooks.ErrBadPayload, err)
	}
	if u.UpdateID == nil {
		return nil, fmt.Errorf("%w: update_id is required", webhooks.ErrBadPayload)
	}
	m := u.Message
	if m == nil {
		return nil, nil // edited_message, channel_post, callback_query, ...
	}
	if m.Chat == nil {
		return nil, fmt.Errorf("%w: message.chat is required", webhooks.ErrBadPayload)
	}
	if m.Chat.Type != "private" {
		return nil, nil // a group, supergroup or channel is not one customer
	}
	if m.Chat.ID == 0 || m.MessageID == 0 {
		return nil, fmt.Errorf("%w: message.chat.id and message.message_id are required", webhooks.ErrBadPayload)
	}
	if m.Date <= 0 {
		return nil, fmt.Errorf("%w: message.date %d is not a Unix time in seconds", webhooks.ErrBadPayload, m.Date)
	}
	at := time.Unix(m.Date, 0).UTC()
	chat := strconv.FormatInt(m.Chat.ID, 10)
	iid := "tg:" + chat + ":" + at.Format(time.DateOnly)
	customer := p.Config().Customer("telegram:" + chat)
	var ext []domain.Extension
	sd := &domain.StartedData{
		InteractionID: iid, Flow: domain.FlowTelegram, Direction: domain.DirectionIncoming,
		Routing: domain.RoutingDirect,
	}
	if f := m.From; f != nil && !f.IsBot {
		name := strings.TrimSpace(f.FirstName + " " + f.LastName)
		sd.Participants = []domain.Participant{{Role: "customer", ID: strconv.FormatInt(f.ID, 10), Name: domain.FitText(name, domain.MaxTextBytes)}}
		if f.Username != "" {
			ext = append(ext, domain.Extension{Key: extUsername, Value: domain.FitText(f.Username, domain.MaxIDBytes)})
		}
	}
	msgID := strconv.FormatInt(m.MessageID, 10)
	msg, err := domain.NewEvent(webhooks.EventID(Name, strconv.FormatInt(*u.UpdateID, 10), chat, msgID),
		domain.TypeInteractionMessage, at, customer, p.Config().Source, &domain.MessageData{
			InteractionID: iid, Direction: domain.DirectionIncoming, MessageID: chat + ":" + msgID,
		}, now, domain.Extension{Key: extUpdateID, Value: *u.UpdateID})
	if err != nil {
		return nil, fmt.Errorf("%w: message: %w", webhooks.ErrBadPayload, err)
	}
	// Each message infers the dialogue's started (one per message, all alike): the fold
	// starts the dialogue at its earliest message whatever the order of arrival, where one
	// started per dialogue would start it at whichever message was stored first.
	evs, err := webhooks.WithInferredStarted(Name, msg, *sd, at, now, ext...)
	if err != nil {
		return nil, fmt.Errorf("%w: message: %w", webhooks.ErrBadPayload, err)
	}
	return evs, nil
}
