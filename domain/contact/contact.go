// Package contact turns the phone numbers and email addresses that producers and readers
// write in any common format into one canonical form, so that the history view indexes
// and the search bar compare like with like, and provider adapters derive customer keys.
//
// Phone numbers go through libphonenumber's Go port: a number written nationally is read
// in the configured default region. It is pure computation (no I/O, no package state of
// its own; a PhoneCache is owned by whoever makes it), which is why it lives under domain,
// the one domain package allowed a third-party dependency beyond uuid.
package contact

import (
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// DefaultRegion is the region national numbers are read in when the caller gives none.
const DefaultRegion = "US"

// MinDigitsSuffix is the fewest trailing digits the search bar accepts as a partial number.
const MinDigitsSuffix = 6

// Phone returns the E.164 form ("+14155550100") of a number written in any common
// national or international format, read in region when it has no country code. ok is
// false for text that is not a possible phone number.
func Phone(raw, region string) (e164 string, ok bool) {
	raw = strings.TrimSpace(raw)
	raw = strings.TrimPrefix(raw, "tel:")
	if raw == "" || !strings.ContainsAny(raw, "0123456789") {
		return "", false
	}
	if region == "" {
		region = DefaultRegion
	}
	e164, ok = e164Of(raw, region)
	if !ok {
		return "", false
	}
	if e164 == raw {
		return e164, true // read again, it is the same input: a fixed point already
	}
	// The canonical form must be a fixed point: for a few degenerate inputs (a national
	// prefix written inside an international number, "+20 0…") libphonenumber drops a
	// digit each time the result is read again, and a number shown in a list would then
	// not find itself in search. Such input is not taken for a phone number.
	if again, ok := e164Of(e164, region); !ok || again != e164 {
		return "", false
	}
	return e164, true
}

// phoneKey returns what libphonenumber reads of raw when raw is written the way people
// and systems write numbers: after an optional "tel:", an optional plus, an optional
// group of digits in parentheses, then groups of digits with one space, '-' or '.'
// between them; the key is the plus and the digits. "+1 415 555 0100" and "+14155550100"
// have one key, "(415) 555-0100" and "415.555.0100" another: a cache keyed by it parses a
// customer's number once, not once per way of writing it. ok is false for anything else
// (letters, an extension, stray punctuation, which libphonenumber may read differently):
// FuzzPhoneKey holds Phone to the same answer for the key as for what it came from.
func phoneKey(raw string) (key string, ok bool) {
	raw = strings.TrimPrefix(strings.TrimSpace(raw), "tel:")
	var b [20]byte
	n := 0
	digits := func() bool { // one group; false when there is none or too many digits
		start := n
		for len(raw) > 0 && raw[0] >= '0' && raw[0] <= '9' {
			if n == len(b) {
				return false
			}
			b[n], n, raw = raw[0], n+1, raw[1:]
		}
		return n > start
	}
	sep := func() bool {
		if len(raw) > 0 && (raw[0] == ' ' || raw[0] == '-' || raw[0] == '.') {
			raw = raw[1:]
			return true
		}
		return false
	}
	if strings.HasPrefix(raw, "+") {
		b[0], n, raw = '+', 1, raw[1:]
	}
	if strings.HasPrefix(raw, "(") {
		raw = raw[1:]
		if !digits() || !strings.HasPrefix(raw, ")") {
			return "", false
		}
		raw = raw[1:]
		if raw == "" {
			return "", false
		}
		sep()
	}
	for {
		if !digits() {
			return "", false
		}
		if raw == "" {
			key = string(b[:n])
			if len(strings.TrimPrefix(key, "+")) < MinDigitsSuffix {
				return "", false // a short number is read by other rules
			}
			return key, true
		}
		if !sep() {
			return "", false
		}
	}
}

func e164Of(raw, region string) (string, bool) {
	n, err := phonenumbers.Parse(raw, region)
	if err != nil || !phonenumbers.IsPossibleNumber(n) {
		return "", false
	}
	return phonenumbers.Format(n, phonenumbers.E164), true
}

// Email returns the address trimmed and lower-cased; ok is false without a single '@'
// between a local part and a domain.
func Email(raw string) (string, bool) {
	s := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(raw), "mailto:")))
	at := strings.IndexByte(s, '@')
	if at <= 0 || at != strings.LastIndexByte(s, '@') || at == len(s)-1 || strings.ContainsFunc(s, unicode.IsSpace) {
		return "", false
	}
	return s, true
}

// Digits returns only the digits of s ("+1 (415) 555-0100" → "14155550100").
func Digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// PhoneKey is the customer key of a phone contact: "tel:+<E.164>" (CONTRACT.md §4).
func PhoneKey(e164 string) string { return "tel:" + e164 }

// EmailKey is the customer key of an email contact: "mailto:<lower-case>".
func EmailKey(email string) string { return "mailto:" + email }
