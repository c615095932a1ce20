package webhooks

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
)

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
