package webhooks

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Minimum lengths of the providers' secrets, in bytes. A provider's Config.Validate refuses
// a shorter secret, so that a guessable one ("abc", "test") stops the ledger at start
// instead of guarding its webhook.
const (
	// MinTokenLen is the floor for secrets the operator makes up and the sender presents
	// as they are: the CDR token, Telegram's secret_token, Meta's verify token. Sixteen
	// characters of even a small alphabet are out of reach of online guessing, every
	// usual generator gives more ("openssl rand -hex 16" gives 32), and Telegram accepts
	// up to 256 of A-Za-z0-9_-.
	MinTokenLen = 16
	// MinIssuedKeyLen is the floor for HMAC keys the provider issues, which are never
	// shorter: Twilio auth tokens and Meta app secrets are 32 hex characters, Mailgun
	// signing keys longer ("key-" and 32 hex, or 32 hex and two groups of 8). A shorter
	// value is a placeholder, a typo or a truncated paste, never a key the provider
	// signs with.
	MinIssuedKeyLen = 32
)

// ErrSecretTooShort is wrapped by a provider's Config.Validate when a secret is shorter
// than its minimum (MinTokenLen, MinIssuedKeyLen).
var ErrSecretTooShort = errors.New("secret is too short")

// CheckSecret reports a secret that is empty or shorter than min bytes. field names the
// setting and should name its environment variable too ("Token (LEDGER_CDR_TOKEN)"); the
// secret itself never appears in the error, which ends up in logs.
func CheckSecret(field, secret string, min int) error {
	switch {
	case secret == "":
		return fmt.Errorf("%s is required", field)
	case len(secret) < min:
		return fmt.Errorf("%s: %w: it has %d bytes, at least %d are required", field, ErrSecretTooShort, len(secret), min)
	}
	return nil
}

// EqualSecret compares a presented secret with the configured one in constant time; both
// are hashed first, so their lengths leak nothing either.
func EqualSecret(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// CheckToken accepts token as a bearer token or as the password of Basic auth (the CDR
// posts: FreeSWITCH can only send the latter). Errors wrap ErrUnauthorized.
func CheckToken(r *http.Request, token string) error {
	auth := r.Header.Get("Authorization")
	var got string
	switch scheme, rest, _ := strings.Cut(auth, " "); {
	case auth == "":
		return fmt.Errorf("%w: Authorization header is missing", ErrUnauthorized)
	case strings.EqualFold(scheme, "Bearer"):
		got = strings.TrimSpace(rest)
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		if err != nil {
			return fmt.Errorf("%w: Basic credentials are not base64", ErrUnauthorized)
		}
		_, got, _ = strings.Cut(string(raw), ":")
	default:
		return fmt.Errorf("%w: Authorization scheme must be Bearer or Basic", ErrUnauthorized)
	}
	if got == "" || !EqualSecret(got, token) {
		return fmt.Errorf("%w: token does not match", ErrUnauthorized)
	}
	return nil
}
