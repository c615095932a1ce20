package webhookstest

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
)

// CDRPost is the POST a PBX's CDR forwarder (Asterisk, FreeSWITCH) sends to provider's
// webhook: body form-encoded when it starts with "cdr=" (mod_json_cdr's default), else
// JSON, with the Authorization header auth unless it is empty.
func CDRPost(provider string, body []byte, auth string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/webhooks/"+provider, strings.NewReader(string(body)))
	if strings.HasPrefix(string(body), "cdr=") {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	return r
}

// Basic is the Authorization header of HTTP Basic authentication as user with pass.
func Basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}
