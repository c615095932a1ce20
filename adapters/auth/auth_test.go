package auth

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const secret = "test-secret-0123456789abcdef0123456789"

// sign signs arbitrary claims with secret, for tokens Mint would never write.
func sign(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerify(t *testing.T) {
	v, err := NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	mustMint := func(sec, sub string, at time.Time, ttl time.Duration) string {
		t.Helper()
		s, err := Mint(sec, sub, []string{ScopeHistoryRead, ScopeIngest}, at, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "ann", "scope": "ops"}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	tests := []struct {
		name, header string
		ok           bool
	}{
		{"valid", "Bearer " + mustMint(secret, "ann", now, time.Hour), true},
		{"lifetime exactly the maximum", "Bearer " + mustMint(secret, "ann", now, DefaultMaxTTL), true},
		{"missing", "", false},
		{"not bearer", "Basic abc", false},
		{"expired", "Bearer " + mustMint(secret, "ann", now.Add(-2*time.Hour), time.Hour), false},
		{"wrong secret", "Bearer " + mustMint(secret+"x", "ann", now, time.Hour), false},
		{"no sub", "Bearer " + mustMint(secret, "", now, time.Hour), false},
		{"alg none", "Bearer " + none, false},
		{"garbage", "Bearer a.b.c", false},
		{"no exp", "Bearer " + sign(t, jwt.MapClaims{"sub": "ann", "scope": "ingest", "iat": now.Unix()}), false},
		{"exp-iat over the maximum", "Bearer " + mustMint(secret, "ann", now, DefaultMaxTTL+time.Hour), false},
		{"no iat, exp too far ahead", "Bearer " + sign(t, jwt.MapClaims{"sub": "ann", "scope": "ingest", "exp": now.Add(48 * time.Hour).Unix()}), false},
		{"no iat, exp near", "Bearer " + sign(t, jwt.MapClaims{"sub": "ann", "scope": "ingest", "exp": now.Add(time.Hour).Unix()}), true},
		{"iat backdated to hide a long exp", "Bearer " + sign(t, jwt.MapClaims{"sub": "ann", "scope": "ingest", "iat": now.Add(-time.Hour).Unix(), "exp": now.Add(30 * 24 * time.Hour).Unix()}), false},
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
}

// TestIssuerAudienceAndMaxTTL: a verifier configured with an issuer, an audience and a
// shorter lifetime accepts only the tokens that carry them and live no longer.
func TestIssuerAudienceAndMaxTTL(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	v, err := New(Config{Secret: secret, MaxTTL: time.Hour, Issuer: "ledger-prod", Audience: "ledger-api", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	good, err := v.Mint("ann", []string{ScopeHistoryRead}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := Mint(secret, "ann", []string{ScopeHistoryRead}, now, time.Hour)
	claims := func(iss string, aud any, ttl time.Duration) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "ann", "iat": now.Unix(), "exp": now.Add(ttl).Unix()}
		if iss != "" {
			c["iss"] = iss
		}
		if aud != nil {
			c["aud"] = aud
		}
		return c
	}
	tests := []struct {
		name, token string
		ok          bool
	}{
		{"minted by the verifier", good, true},
		{"audience among several", sign(t, claims("ledger-prod", []string{"other", "ledger-api"}, time.Hour)), true},
		{"no issuer nor audience", plain, false},
		{"other issuer", sign(t, claims("someone-else", "ledger-api", time.Hour)), false},
		{"other audience", sign(t, claims("ledger-prod", "other", time.Hour)), false},
		{"no audience", sign(t, claims("ledger-prod", nil, time.Hour)), false},
		{"longer than the configured maximum", sign(t, claims("ledger-prod", "ledger-api", 2*time.Hour)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.VerifyToken(tt.token)
			if tt.ok != (err == nil) {
				t.Fatalf("VerifyToken err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if _, err := v.Mint("ann", nil, now, 2*time.Hour); err == nil {
		t.Error("Verifier.Mint accepted a ttl over the maximum")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Secret: secret}, true},
		{"short secret", Config{Secret: "short"}, false},
		{"negative max ttl", Config{Secret: secret, MaxTTL: -time.Hour}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); (err == nil) != tt.ok {
				t.Fatalf("New err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if _, err := NewVerifier("short"); err == nil {
		t.Fatal("a short secret was accepted")
	}
	if _, err := Mint(secret, "ann", nil, time.Now(), 0); err == nil {
		t.Fatal("Mint accepted a zero ttl")
	}
}

// TestVerifiedTokenStillExpires: a token verified once (and so kept: Verifier.valid) is
// refused once its exp (plus the leeway) has passed, like any other, and a token
// changed by one character is checked afresh.
func TestVerifiedTokenStillExpires(t *testing.T) {
	now := time.Now()
	clock := now
	v, err := New(Config{Secret: secret, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := v.Mint("ann", []string{ScopeHistoryRead}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second is answered from the verified tokens
		if p, err := v.VerifyToken(tok); err != nil || p.Subject != "ann" || !p.Has(ScopeHistoryRead) {
			t.Fatalf("fresh token: %+v, %v", p, err)
		}
	}
	tampered := tok[:len(tok)-2] + string('A'+(tok[len(tok)-2]-'A'+1)%26) + tok[len(tok)-1:]
	if _, err := v.VerifyToken(tampered); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("tampered signature: err %v, want ErrUnauthenticated", err)
	}
	clock = now.Add(time.Hour + leeway - time.Second)
	if _, err := v.VerifyToken(tok); err != nil {
		t.Fatalf("within the leeway: %v", err)
	}
	clock = now.Add(time.Hour + leeway + time.Second)
	for range 2 {
		if _, err := v.VerifyToken(tok); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("expired token: err %v, want ErrUnauthenticated", err)
		}
	}
}
