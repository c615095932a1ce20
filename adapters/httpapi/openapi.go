package httpapi

import (
	"bytes"
	_ "embed"
	"net/http"
	"slices"
)

// openAPIDoc is the OpenAPI 3.1 document of this server's routes (openapi.json): the one
// description integrators read and generate clients from, served at GET /openapi.json
// and held to the handlers by the tests (apitest.Validator, TestOpenAPIRoutes).
//
//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the OpenAPI document (JSON), a copy the caller may keep.
func OpenAPI() []byte { return bytes.Clone(openAPIDoc) }

func (s *Server) serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(openAPIDoc) // the status is sent: a failed write is the client's hang-up
}

// Routes lists the patterns the server registered ("GET /v1/interactions/{id}"), in the
// order registered, so that a test can hold them to the OpenAPI document.
func (s *Server) Routes() []string { return slices.Clone(s.patterns) }
