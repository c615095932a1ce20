package webhooks

import (
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"testing"
)

func TestCheckToken(t *testing.T) {
	const token = "cdr-token-0123456789"
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	tests := []struct {
		name, header string
		ok           bool
	}{
		{"bearer", "Bearer " + token, true},
		{"bearer, lower-case scheme", "bearer " + token, true},
		{"basic password", basic("freeswitch", token), true},
		{"basic, empty user", basic("", token), true},
		{"missing", "", false},
		{"wrong bearer", "Bearer nope", false},
		{"wrong basic password", basic("freeswitch", "nope"), false},
		{"token as basic user", basic(token, ""), false},
		{"basic not base64", "Basic %%%", false},
		{"other scheme", "Digest " + token, false},
		{"empty bearer", "Bearer ", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/v1/webhooks/asterisk", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			err := CheckToken(r, token)
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrUnauthorized)) {
				t.Errorf("CheckToken(%q) = %v, want ok=%v", tt.header, err, tt.ok)
			}
		})
	}
	if EqualSecret("a", "ab") || !EqualSecret("ab", "ab") {
		t.Error("EqualSecret compares wrongly")
	}
}
