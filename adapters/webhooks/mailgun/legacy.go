package mailgun

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
)

// legacyEvents maps the event of Mailgun's legacy webhooks (form-encoded, one URL per
// event kind, still sent by accounts that never moved to the JSON ones) to the current
// event and severity.
var legacyEvents = map[string]struct{ event, severity string }{
	"delivered":    {"delivered", ""},
	"opened":       {"opened", ""},
	"clicked":      {"clicked", ""},
	"bounced":      {"failed", "permanent"},
	"dropped":      {"failed", "permanent"},
	"complained":   {"complained", ""},
	"unsubscribed": {"unsubscribed", ""},
}

// fromLegacy rewrites a legacy form-encoded webhook into the JSON webhook's shape, so that
// one verification (the same timestamp, token and signature) and one translation serve
// both; a JSON body, or a form that is not a legacy webhook, is returned as it is.
//
// A legacy webhook has no event id: the id is derived from what identifies the fact
// (event, message, recipient, signed timestamp), which a retry of the same post keeps.
// Its only time is the signed timestamp. Custom variables (v:customer_id at sending) are
// posted as form fields: customer_id is read from there.
func fromLegacy(body []byte) []byte {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] == '{' {
		return body
	}
	f, err := url.ParseQuery(string(trimmed))
	if err != nil || f.Get("signature") == "" || f.Get("event") == "" {
		return body
	}
	kind, ok := legacyEvents[f.Get("event")]
	if !ok {
		kind.event = f.Get("event") // translated as nothing, like any unknown event
	}
	msgID := strings.Trim(strings.TrimSpace(firstNonEmpty(f.Get("Message-Id"), f.Get("message-id"),
		legacyHeader(f.Get("message-headers"), "Message-Id"))), "<>")
	sum := sha256.Sum256([]byte(strings.Join([]string{kind.event, msgID, f.Get("recipient"), f.Get("timestamp")}, "\x00")))
	ed := map[string]any{
		"event":     kind.event,
		"id":        "legacy-" + hex.EncodeToString(sum[:12]),
		"timestamp": json.Number(f.Get("timestamp")),
		"recipient": f.Get("recipient"),
		"message":   map[string]any{"headers": map[string]string{"message-id": msgID}},
	}
	if kind.severity != "" {
		ed["severity"] = kind.severity
	}
	if c := f.Get("customer_id"); c != "" {
		ed["user-variables"] = map[string]string{"customer_id": c}
	}
	// bounced: code, error, notification; dropped: reason, code, description.
	ed["delivery-status"] = map[string]any{"code": f.Get("code"),
		"message": firstNonEmpty(f.Get("error"), f.Get("notification")), "description": f.Get("description")}
	if r := f.Get("reason"); r != "" {
		ed["reason"] = r
	}
	if u := f.Get("url"); u != "" {
		ed["url"] = u
	}
	out, err := json.Marshal(map[string]any{
		"signature":  map[string]string{"timestamp": f.Get("timestamp"), "token": f.Get("token"), "signature": f.Get("signature")},
		"event-data": ed,
	})
	if err != nil {
		return body
	}
	return out
}

// legacyHeader returns header name from message-headers, a JSON list of [name, value].
func legacyHeader(headers, name string) string {
	var hs [][]string
	if json.Unmarshal([]byte(headers), &hs) != nil {
		return ""
	}
	for _, h := range hs {
		if len(h) == 2 && strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}
