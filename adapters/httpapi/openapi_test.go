package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/interaction-ledger/ledger/adapters/audit"

	"github.com/interaction-ledger/ledger/adapters/httpapi"
	"github.com/interaction-ledger/ledger/adapters/httpapi/apitest"
	"github.com/interaction-ledger/ledger/adapters/metrics"
)

// TestOpenAPIDocument: the document loads and validates as OpenAPI 3.1 (kin-openapi's
// rules), and every operation says who may call it: its security requirement, the
// scopes in x-scopes, and, when it needs a token, its 401 and 403 answers.
func TestOpenAPIDocument(t *testing.T) {
	v, err := apitest.LoadValidator(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	doc := v.Doc()
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			if op.OperationID == "" || op.Summary == "" {
				t.Errorf("%s: no operationId or summary", name)
			}
			if _, ok := op.Extensions["x-scopes"]; !ok {
				t.Errorf("%s: no x-scopes", name)
			}
			if op.Security == nil {
				t.Errorf("%s: no security requirement of its own", name)
				continue
			}
			open := len(*op.Security) == 0
			for _, req := range *op.Security {
				if len(req) == 0 {
					open = true // an alternative without a token (/metrics by default)
				}
			}
			if open {
				continue
			}
			for _, code := range []int{http.StatusUnauthorized, http.StatusForbidden} {
				if op.Responses.Status(code) == nil {
					t.Errorf("%s needs a token but documents no %d", name, code)
				}
			}
		}
	}
}

// TestOpenAPIRoutes: every route the server registers (with every optional part
// configured) is an operation of the document, and every operation of the document is a
// route: a handler and its description cannot appear or disappear alone.
func TestOpenAPIRoutes(t *testing.T) {
	srv := httpapi.New(httpapi.Config{Webhooks: http.NotFoundHandler(), Ops: opsFake{}, Metrics: metrics.New(),
		AccessLog: audit.NewLog(nil, nil)})
	routes := srv.Routes()
	var ops []string
	for path, item := range apitest.NewValidator(t).Doc().Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	for _, r := range routes {
		if !slices.Contains(ops, r) {
			t.Errorf("route %q is not in the document", r)
		}
	}
	for _, op := range ops {
		if !slices.Contains(routes, op) {
			t.Errorf("operation %q is not a route of the server", op)
		}
	}
	if len(routes) < 20 {
		t.Errorf("only %d routes registered: %v", len(routes), routes)
	}
}

// TestOpenAPIServed: GET /openapi.json answers the document in the repository, without
// a token.
func TestOpenAPIServed(t *testing.T) {
	a := startAPI(t)
	code, hdr, got := a.request(t, "GET", "/openapi.json", "", "", nil)
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json = %d %s", code, hdr.Get("Content-Type"))
	}
	if !bytes.Equal(got, httpapi.OpenAPI()) {
		t.Errorf("GET /openapi.json is not the embedded document (%d bytes, want %d)", len(got), len(httpapi.OpenAPI()))
	}
}

// TestValidatorCatches: the validator the HTTP tests run through fails on a drift in
// either direction, so that its silence means something: an answer whose body or status
// the document does not describe, a route it lacks, and a request it refuses that the
// server accepted.
func TestValidatorCatches(t *testing.T) {
	v := apitest.NewValidator(t)
	get := func(path string) *http.Request {
		r, err := http.NewRequest(http.MethodGet, "http://ledger"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	tests := []struct {
		name   string
		req    *http.Request
		code   int
		body   string
		wantOK bool
	}{
		{"documented answer", get("/healthz"), 200, `{"status":"ok"}`, true},
		{"body off the schema", get("/healthz"), 200, `{"status":"fine"}`, false},
		{"undocumented status", get("/healthz"), 418, `{"error":"teapot"}`, false},
		{"route the document lacks, served", get("/v1/nowhere"), 200, `{}`, false},
		{"route the document lacks, 404", get("/v1/nowhere"), 404, `404 page not found`, true},
		{"refused request answered 2xx", get("/v1/interactions?limit=0"), 200, `{"items":[],"next_cursor":""}`, false},
		{"refused request answered 400", get("/v1/interactions?limit=0"), 400, `{"error":"limit: bad","param":"limit"}`, true},
		{"error without its message", get("/v1/interactions?limit=0"), 400, `{"param":"limit"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Check(tt.req, nil, tt.code, jsonHeader, []byte(tt.body))
			if (err == nil) != tt.wantOK {
				t.Errorf("Check = %v, want ok %v", err, tt.wantOK)
			}
		})
	}
}
