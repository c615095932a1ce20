package webhookstest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
)

// SecretRule is what a provider's configuration demands of one secret.
type SecretRule struct {
	// Field is what every refusal must name: the secret's environment variable, which is
	// what an operator sets.
	Field string
	// Min is the documented minimum length in bytes (webhooks.MinTokenLen or
	// webhooks.MinIssuedKeyLen).
	Min int
	// Optional accepts an empty secret (the feature it guards is off).
	Optional bool
	// Real are secrets in the provider's own format, which must be accepted.
	Real []string
	// Validate builds the provider with secret as this secret (and valid other settings)
	// and returns the configuration's error.
	Validate func(secret string) error
}

// CheckSecretRule checks that r.Validate refuses a missing secret (unless optional) and
// secrets shorter than r.Min with an error that names r.Field, wraps
// webhooks.ErrSecretTooShort and does not repeat the secret; and that it accepts a secret
// of exactly r.Min bytes and every real one.
func CheckSecretRule(t *testing.T, r SecretRule) {
	t.Helper()
	const guessable = "abc"
	type row struct {
		name   string
		secret string
		ok     bool
		short  bool
	}
	tests := []row{
		{"empty", "", r.Optional, false},
		{"guessable", guessable, false, true},
		{"one byte short", strings.Repeat("k", r.Min-1), false, true},
		{"exactly the minimum", strings.Repeat("k", r.Min), true, false},
	}
	for i, s := range r.Real {
		tests = append(tests, row{fmt.Sprintf("real format %d", i+1), s, true, false})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Helper()
			err := r.Validate(tt.secret)
			if tt.ok {
				if err != nil {
					t.Fatalf("a %d-byte secret was refused: %v", len(tt.secret), err)
				}
				return
			}
			if err == nil {
				t.Fatalf("a %d-byte secret was accepted, want it refused", len(tt.secret))
			}
			if !strings.Contains(err.Error(), r.Field) {
				t.Errorf("error %q does not name %s", err, r.Field)
			}
			if tt.short && !errors.Is(err, webhooks.ErrSecretTooShort) {
				t.Errorf("error %q does not wrap ErrSecretTooShort", err)
			}
			if tt.secret == guessable && strings.Contains(err.Error(), guessable) {
				t.Errorf("error %q repeats the secret", err)
			}
		})
	}
}
