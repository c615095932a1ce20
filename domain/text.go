package domain

import (
	"strings"
	"unicode/utf8"
)

// FitText returns s made fit for a text field of at most max bytes: invalid UTF-8
// dropped, then cut on a rune boundary. Producers use it for outside text they do not
// control (a provider's failure reason, a message excerpt), which would otherwise get the
// whole event rejected; what the ledger's own users send is rejected instead, naming the
// field.
func FitText(s string, max int) string {
	s = strings.ToValidUTF8(s, "")
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}

// clipBytes is how much of a bad value an error message quotes.
const clipBytes = 60

// Clip returns s shortened for quoting in an error message: at most 60 bytes (on a rune
// boundary) and an ellipsis, so that a rejection of a huge value stays readable.
func Clip(s string) string {
	if len(s) <= clipBytes {
		return s
	}
	n := clipBytes
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
