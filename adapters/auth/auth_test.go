package auth

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const secret = "test-secret-0123456789abcdef0123456789"

func TestVerify(t *testing.T) {
	v, err := NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good, _ := Mint(secret, "ann", []string{ScopeHistoryRead, ScopeIngest}, now, time.Hour)
	expired, _ := Mint(secret, "ann", []string{ScopeHistoryRead}, now.Add(-2*time.Hour), time.Hour)
	other, _ := Mint(secret+"x", "ann", []string{ScopeHistoryRead}, now, time.Hour)
	noSub, _ := Mint(secret, "", []string{ScopeHistoryRead}, now, time.Hour)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "ann", "scope": "ops"}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	tests := []struct {
		name, header string
		ok           bool
	}{
		{"valid", "Bearer " + good, true},
		{"missing", "", false},
		{"not bearer", "Basic abc", false},
		{"expired", "Bearer " + expired, false},
		{"wrong secret", "Bearer " + other, false},
		{"no sub", "Bearer " + noSub, false},
		{"alg none", "Bearer " + none, false},
		{"garbage", "Bearer a.b.c", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			p, err := v.Verify(r)
			if tt.ok != (err == nil) {
				t.Fatalf("Verify err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("err %v does not match ErrUnauthenticated", err)
			}
			if tt.ok && (p.Subject != "ann" || !p.Has(ScopeIngest) || p.Has(ScopeOps)) {
				t.Fatalf("principal = %+v", p)
			}
		})
	}
	if _, err := NewVerifier("short"); err == nil {
		t.Fatal("a short secret was accepted")
	}
}
