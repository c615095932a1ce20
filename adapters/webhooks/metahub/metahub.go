// Package metahub holds what Meta's webhooks (WhatsApp Cloud API, Messenger Platform)
// share: the X-Hub-Signature-256 check of the raw body, the hub.challenge handshake, the
// adapter skeleton that both providers embed, the {"object", "entry"} envelope of a body
// and the dialogue id of a business account's thread with a person on one day.
package metahub

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/domain"
)

// SignatureHeader carries "sha256=" + hex HMAC-SHA256(app secret, raw body).
const SignatureHeader = "X-Hub-Signature-256"

// CheckHeader checks what can be checked of the signature header without the body: that
// it is there and is "sha256=" and a hex SHA-256 digest. It returns the digest. Errors
// wrap webhooks.ErrUnauthorized.
func CheckHeader(header string) ([]byte, error) {
	if header == "" {
		return nil, fmt.Errorf("%w: %s header is missing", webhooks.ErrUnauthorized, SignatureHeader)
	}
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return nil, fmt.Errorf("%w: %s must start with sha256=", webhooks.ErrUnauthorized, SignatureHeader)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return nil, fmt.Errorf("%w: %s is not a hex SHA-256 digest", webhooks.ErrUnauthorized, SignatureHeader)
	}
	return got, nil
}

// Verify checks the signature header against body. Meta signs no timestamp. Errors wrap
// webhooks.ErrUnauthorized.
func Verify(header string, body []byte, secret string) error {
	got, err := CheckHeader(header)
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return fmt.Errorf("%w: %s does not match the body", webhooks.ErrUnauthorized, SignatureHeader)
	}
	return nil
}

// Handshake answers Meta's subscription check: hub.mode=subscribe and the right
// hub.verify_token get 200 with hub.challenge as the plain body; anything else gets 403.
func Handshake(w http.ResponseWriter, r *http.Request, token string) {
	q := r.URL.Query()
	challenge := q.Get("hub.challenge")
	if token == "" || q.Get("hub.mode") != "subscribe" || !webhooks.EqualSecret(q.Get("hub.verify_token"), token) || challenge == "" {
		http.Error(w, "verification refused", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, challenge)
}

// App is the Meta app's secrets, which the WhatsApp and Messenger Configs embed.
type App struct {
	// AppSecret is the Meta app secret (LEDGER_META_APP_SECRET) that signs every POST:
	// 32 hex characters. Required, at least webhooks.MinIssuedKeyLen.
	AppSecret string
	// VerifyToken is the token typed in the App Dashboard (LEDGER_META_VERIFY_TOKEN),
	// echoed back in the GET handshake. Default: empty, and every handshake is refused;
	// when set, at least webhooks.MinTokenLen.
	VerifyToken string
}

// MetaApp returns the App itself: through it Construct reaches the App that a provider's
// Config embeds.
func (a App) MetaApp() App { return a }

// Check adds the secrets' problems to p.
func (a App) Check(p *webhooks.Problems) {
	p.Secret("AppSecret (LEDGER_META_APP_SECRET)", a.AppSecret, webhooks.MinIssuedKeyLen)
	// The verify token is optional (without it the handshake is refused), but one that is
	// set guards the subscription and must not be guessable.
	if a.VerifyToken != "" {
		p.Secret("VerifyToken (LEDGER_META_VERIFY_TOKEN)", a.VerifyToken, webhooks.MinTokenLen)
	}
}

// Verifier is the verification of a Meta webhook, which the WhatsApp and Messenger
// providers embed: VerifyHeaders, Verify and Handshake.
type Verifier struct{ app App }

// NewVerifier returns the verification with app's secrets.
func NewVerifier(app App) Verifier { return Verifier{app: app} }

// VerifyHeaders refuses, before the body is read, a request whose X-Hub-Signature-256
// is missing or malformed; Verify checks it against the body.
func (v Verifier) VerifyHeaders(r *http.Request, _ time.Time) error {
	_, err := CheckHeader(r.Header.Get(SignatureHeader))
	return err
}

// Verify checks X-Hub-Signature-256 against the raw body. Meta signs no timestamp, so
// now is not used.
func (v Verifier) Verify(r *http.Request, body []byte, _ time.Time) error {
	return Verify(r.Header.Get(SignatureHeader), body, v.app.AppSecret)
}

// Handshake answers Meta's subscription check (the package's Handshake).
func (v Verifier) Handshake(w http.ResponseWriter, r *http.Request) {
	Handshake(w, r, v.app.VerifyToken)
}

var _ interface {
	webhooks.HeaderVerifier
	webhooks.Handshaker
} = Verifier{}

// config is what Construct needs of a Meta provider's Config: webhooks.Options and App
// embedded.
type config interface {
	webhooks.Configured
	MetaApp() App
}

// Adapter is the skeleton of a Meta provider, which the WhatsApp and Messenger Providers
// embed: the webhooks.Adapter of its Config and the verification with its App's secrets
// (VerifyHeaders, Verify and Handshake).
type Adapter[C config] struct {
	webhooks.Adapter[C]
	Verifier
}

// Construct is webhooks.Construct for a Meta provider, whose Provider is a
// struct{ metahub.Adapter[Config] }: the Adapter gets the Verifier of cfg's App.
func Construct[C config, P ~struct{ Adapter[C] }](name string, cfg C, setDefaults func(*C)) (*P, error) {
	return webhooks.Construct(name, cfg, setDefaults, func(a webhooks.Adapter[C]) *P {
		p := P(struct{ Adapter[C] }{Adapter[C]{Adapter: a, Verifier: NewVerifier(a.Config().MetaApp())}})
		return &p
	})
}

// Translate reads a Meta webhook body, {"object": object, "entry": [...]}, calls entry
// with each entry and its index, in order, and returns the events that entry added to b,
// the payload's batch; what names the body in errors ("Messenger webhook body"). Errors,
// entry's included, wrap webhooks.ErrBadPayload.
func Translate[E any](body []byte, object, what string, b *webhooks.Batch, entry func(i int, e E) error) ([]domain.Event, error) {
	var pl struct {
		Object string `json:"object"`
		Entry  []E    `json:"entry"`
	}
	if err := json.Unmarshal(body, &pl); err != nil {
		return nil, fmt.Errorf("%w: not a %s: %w", webhooks.ErrBadPayload, what, err)
	}
	if pl.Object != object {
		return nil, fmt.Errorf("%w: object is %q, want %q", webhooks.ErrBadPayload, domain.Clip(pl.Object), object)
	}
	for i, e := range pl.Entry {
		if err := entry(i, e); err != nil {
			return nil, fmt.Errorf("%w: %w", webhooks.ErrBadPayload, err)
		}
	}
	return b.Events(), nil
}

// DialogueID is the interaction id of one dialogue: the thread of a business account
// (a page, a phone number id) with a person on the UTC date of at, as
// "<prefix>:<account>:<person>:<YYYY-MM-DD>". Meta's webhooks carry no conversation id
// on every item, so the day is what bounds a dialogue.
func DialogueID(prefix, account, person string, at time.Time) string {
	return prefix + ":" + account + ":" + person + ":" + at.UTC().Format(time.DateOnly)
}
