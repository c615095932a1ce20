package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/ingest"
	"github.com/interaction-ledger/ledger/adapters/jsonhttp"
	"github.com/interaction-ledger/ledger/domain"
)

// eventScope is the scope that allows appending an event of type t (CONTRACT.md §3):
// the directory decides who sees what and erasure destroys data, so neither comes with
// the producers' everyday `ingest`.
func eventScope(t domain.EventType) string {
	switch {
	case t.IsDirectory():
		return auth.ScopeDirectoryWrite
	case t == domain.TypeCustomerErased:
		return auth.ScopeErase
	}
	return auth.ScopeIngest
}

// postEvents takes one envelope, a JSON array, or NDJSON. One envelope: 202 accepted,
// 200 duplicate, 400 rejected, 403 when the token's scopes do not allow its type. A
// batch: 200 when none was rejected, 207 when some were, 400 when all were (403 when all
// for want of a scope); the body says what became of each. Every event is judged on its
// own, its type's scope included, and nothing of a refused event is stored.
func (s *Server) postEvents(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !p.Has(auth.ScopeIngest) && !p.Has(auth.ScopeDirectoryWrite) && !p.Has(auth.ScopeErase) {
		jsonhttp.Error(w, http.StatusForbidden, "token lacks scope ingest (or directory:write, or erase)", nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		if isTooLarge(err) {
			jsonhttp.Error(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than %d bytes", s.cfg.MaxBody), map[string]any{"field": "body"})
			return
		}
		jsonhttp.Error(w, http.StatusBadRequest, "body: "+err.Error(), map[string]any{"field": "body"})
		return
	}
	raws, single, err := splitEnvelopes(r.Header.Get("Content-Type"), body)
	if err != nil {
		jsonhttp.Error(w, http.StatusBadRequest, err.Error(), map[string]any{"field": "body"})
		return
	}
	if len(raws) > MaxEventsPerRequest {
		jsonhttp.Error(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body: %d events, at most %d per request", len(raws), MaxEventsPerRequest), map[string]any{"field": "body"})
		return
	}
	outcomes, err := s.cfg.Ingest.IngestPermitted(r.Context(), raws, func(t domain.EventType) error {
		if scope := eventScope(t); !p.Has(scope) {
			return fmt.Errorf("type: %s needs scope %s, which the token lacks", t, scope)
		}
		return nil
	})
	if err != nil {
		s.cfg.Logger.Error("append failed", "err", err)
		jsonhttp.Error(w, http.StatusServiceUnavailable, "the event stream did not acknowledge the events; retry", nil)
		return
	}
	counts := map[string]int{ingest.StatusAccepted: 0, ingest.StatusDuplicate: 0, ingest.StatusRejected: 0}
	forbidden := 0
	for _, o := range outcomes {
		counts[o.Status]++
		if o.Forbidden {
			forbidden++
		}
	}
	if single {
		o := outcomes[0]
		code := map[string]int{ingest.StatusAccepted: http.StatusAccepted, ingest.StatusDuplicate: http.StatusOK, ingest.StatusRejected: http.StatusBadRequest}[o.Status]
		if o.Forbidden {
			code = http.StatusForbidden
		}
		resp := map[string]any{"id": o.ID, "status": o.Status, "results": outcomes}
		if o.Status == ingest.StatusRejected {
			resp["error"], resp["field"] = o.Error, o.Field
		}
		jsonhttp.Write(w, code, resp)
		return
	}
	code := http.StatusOK
	switch rejected := counts[ingest.StatusRejected]; {
	case len(outcomes) > 0 && forbidden == len(outcomes):
		code = http.StatusForbidden
	case len(outcomes) > 0 && rejected == len(outcomes):
		code = http.StatusBadRequest
	case rejected > 0:
		code = http.StatusMultiStatus
	}
	jsonhttp.Write(w, code, map[string]any{"accepted": counts[ingest.StatusAccepted], "duplicates": counts[ingest.StatusDuplicate],
		"rejected": counts[ingest.StatusRejected], "results": outcomes})
}

// splitEnvelopes reads the body as NDJSON (by content type), a JSON array, or one object.
func splitEnvelopes(contentType string, body []byte) (raws [][]byte, single bool, err error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, false, fmt.Errorf("body: empty; send an envelope, a JSON array or NDJSON")
	}
	switch {
	case mt == "application/x-ndjson" || mt == "application/jsonl" || mt == "application/ndjson":
		sc := bufio.NewScanner(bytes.NewReader(trimmed))
		sc.Buffer(make([]byte, 0, 64<<10), domain.MaxEnvelopeBytes+1024)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) > 0 {
				raws = append(raws, bytes.Clone(line))
			}
		}
		if err := sc.Err(); err != nil {
			return nil, false, fmt.Errorf("body: line %d: %v", len(raws)+1, err)
		}
		return raws, false, nil
	case trimmed[0] == '[':
		var arr []json.RawMessage
		if err := json.Unmarshal(trimmed, &arr); err != nil {
			return nil, false, fmt.Errorf("body: malformed JSON array: %v", err)
		}
		raws = make([][]byte, len(arr))
		for i, a := range arr {
			raws[i] = a
		}
		return raws, false, nil
	case trimmed[0] == '{':
		return [][]byte{trimmed}, true, nil
	}
	return nil, false, fmt.Errorf("body: must be a JSON object, a JSON array or NDJSON (Content-Type: application/x-ndjson)")
}
