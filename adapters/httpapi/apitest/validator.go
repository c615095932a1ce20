package apitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/interaction-ledger/ledger/adapters/httpapi"
)

// Validator holds requests and answers to the ledger's OpenAPI document
// (httpapi.OpenAPI), so that a handler and its description cannot drift apart: every
// HTTP test sends its traffic through one (Handler on the server side, Transport on the
// client side) and fails on a mismatch.
//
// What it holds them to:
//   - a request to a path or method the document lacks must have been answered 404 or
//     405 (a probe of a route that does not exist);
//   - a request the document refuses (a parameter, a body) must have been answered 4xx
//     or 5xx: the document may be stricter than the server, never laxer;
//   - every answer's status must be documented for its operation, and its headers and
//     body must match the document's schema for that status.
//
// Request bodies are checked against their schema for JSON only; for the other media
// types (NDJSON, provider forms) only that the operation declares the media type.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
}

// NewValidator loads and validates the document; a document that does not load or
// validate fails the test.
func NewValidator(t testing.TB) *Validator {
	t.Helper()
	v, err := LoadValidator(context.Background())
	if err != nil {
		t.Fatalf("openapi: %v", err)
	}
	return v
}

// LoadValidator loads httpapi.OpenAPI, validates it (kin-openapi's own rules for OpenAPI
// 3.1) and builds the router that matches requests to its operations.
func LoadValidator(ctx context.Context) (*Validator, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("load the document: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("validate the document: %w", err)
	}
	// The servers name where the ledger listens in production; tests listen anywhere.
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route the document: %w", err)
	}
	return &Validator{doc: doc, router: router}, nil
}

// Doc is the document loaded.
func (v *Validator) Doc() *openapi3.T { return v.doc }

// Check reports how the request req (whose body was reqBody) and its answer (code,
// header, body) depart from the document; nil when they match.
func (v *Validator) Check(req *http.Request, reqBody []byte, code int, header http.Header, body []byte) error {
	ctx := context.Background()
	route, params, err := v.router.FindRoute(req)
	switch {
	case errors.Is(err, routers.ErrMethodNotAllowed):
		if code == http.StatusMethodNotAllowed || code == http.StatusNotFound {
			return nil
		}
		return fmt.Errorf("%s %s: the document has no such method for this path, yet the server answered %d", req.Method, req.URL.Path, code)
	case err != nil:
		if code == http.StatusNotFound || code == http.StatusMethodNotAllowed {
			return nil
		}
		return fmt.Errorf("%s %s: the document has no such path (%v), yet the server answered %d", req.Method, req.URL.Path, err, code)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true, MultiError: true}
	r := req.Clone(ctx)
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts}
	var reqErr error
	if mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); len(reqBody) > 0 && mt != "application/json" {
		// Only the media type is checked: the schema of an NDJSON or form body is prose.
		reqOpts := *opts
		reqOpts.ExcludeRequestBody = true
		in.Options = &reqOpts
		if rb := route.Operation.RequestBody; rb == nil || rb.Value.Content.Get(mt) == nil {
			reqErr = fmt.Errorf("request body of media type %q is not in the document", mt)
		}
	}
	if reqErr == nil {
		reqErr = openapi3filter.ValidateRequest(ctx, in)
	}
	in.Options = opts
	if reqErr != nil && code < 400 {
		return fmt.Errorf("%s %s: the document refuses the request, yet the server answered %d: %v", req.Method, req.URL.Path, code, reqErr)
	}
	respIn := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: code, Header: header, Options: opts}
	if mt, _, _ := mime.ParseMediaType(header.Get("Content-Type")); mt != "" && mt != "application/json" {
		// A CSV export or an event stream: its media type and status are checked, its
		// body's schema is prose.
		respOpts := *opts
		respOpts.ExcludeResponseBody = true
		respIn.Options = &respOpts
		if resp := route.Operation.Responses.Status(code); resp != nil && resp.Value != nil && resp.Value.Content.Get(mt) == nil {
			return fmt.Errorf("%s %s: answer %d of media type %q is not in the document", req.Method, req.URL.Path, code, mt)
		}
	}
	respIn.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, respIn); err != nil {
		return fmt.Errorf("%s %s: answer %d does not match the document: %v\nbody: %.2000s", req.Method, req.URL.Path, code, err, body)
	}
	return nil
}

// Handler wraps h so that every request it serves and every answer it gives is checked
// (Check); a mismatch fails t. The request body is recorded as the handler reads it, so
// a handler that stops reading early (a body over a limit) is checked on what it read.
func (v *Validator) Handler(t testing.TB, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var reqBody bytes.Buffer
		if r.Body != nil {
			r.Body = readCloser{io.TeeReader(r.Body, &reqBody), r.Body}
		}
		rec := &recorder{ResponseWriter: w}
		orig := r.Clone(r.Context())
		h.ServeHTTP(rec, r)
		if err := v.Check(orig, reqBody.Bytes(), rec.status(), w.Header(), rec.body.Bytes()); err != nil {
			t.Errorf("openapi: %v", err)
		}
	})
}

// Transport wraps rt (http.DefaultTransport when nil) so that every request sent and
// every answer received is checked (Check); a mismatch fails t. The answer's body is
// read whole before it is handed on: not for streams that never end.
func (v *Validator) Transport(t testing.TB, rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		var reqBody []byte
		if req.Body != nil {
			b, err := io.ReadAll(req.Body)
			req.Body.Close()
			if err != nil {
				return nil, fmt.Errorf("read the request body: %w", err)
			}
			reqBody = b
			req.Body = io.NopCloser(bytes.NewReader(b))
		}
		resp, err := rt.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read the answer: %w", err)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if err := v.Check(req, reqBody, resp.StatusCode, resp.Header, body); err != nil {
			t.Errorf("openapi: %v", err)
		}
		return resp, nil
	})
}

// HTTPClient is an *http.Client whose requests go through Transport.
func (v *Validator) HTTPClient(t testing.TB) *http.Client {
	return &http.Client{Transport: v.Transport(t, nil)}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type readCloser struct {
	io.Reader
	io.Closer
}

// recorder passes the answer on and keeps a copy of its status and body.
type recorder struct {
	http.ResponseWriter
	mu   sync.Mutex
	code int
	body bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	r.mu.Lock()
	if r.code == 0 {
		r.code = code
	}
	r.mu.Unlock()
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	if r.code == 0 {
		r.code = http.StatusOK
	}
	r.body.Write(b)
	r.mu.Unlock()
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController and http.MaxBytesReader reach the real writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) status() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}
