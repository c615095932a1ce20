package httpapi

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"

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

// retryAfter is the Retry-After of a 503 from ingest, in seconds: short, so that a resend
// of events whose outcome is unknown arrives well inside the stream's duplicate window
// (eventstore.Config.DuplicateWindow, 20 s by default, of which the publish timeout
// takes at most half).
const retryAfter = 2

// postEvents takes one envelope, a JSON array, or NDJSON, read as a stream: each envelope
// is judged as it arrives and the valid ones are appended in chunks. One envelope: 202
// accepted, 200 duplicate, 400 rejected. A batch: 200 when none was rejected, 207 when
// some were, 400 when all were; the body says what became of each. A body that breaks
// off (malformed: 400; over a limit: 413) answers with the outcomes of the envelopes read
// before the break (those accepted are stored). When the stream does not confirm events:
// 503 with Retry-After, those events "unknown", and resending them is safe.
//
// Every event is also judged by its type's scope (eventScope): one the token may not
// append is rejected and marked forbidden; a single envelope so refused is a 403, and so
// is a batch whose every event was.
func (s *Server) postEvents(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !p.Has(auth.ScopeIngest) && !p.Has(auth.ScopeDirectoryWrite) && !p.Has(auth.ScopeErase) {
		jsonhttp.Error(w, http.StatusForbidden, "token lacks scope ingest (or directory:write, or erase)", nil)
		return
	}
	// Each body in progress holds up to one append chunk and one envelope in memory; the
	// slots bound how many at once, so that concurrent producers cannot take the node
	// past its memory limit. Full: answer now rather than queue without bound.
	if !s.ingestSlots.TryAcquire(1) {
		w.Header().Set("Connection", "close") // the body is not read
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		jsonhttp.Error(w, http.StatusServiceUnavailable,
			fmt.Sprintf("busy: %d ingest requests in progress; retry", s.cfg.MaxConcurrentIngest), nil)
		return
	}
	defer s.ingestSlots.Release(1)

	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	ndjson := mt == "application/x-ndjson" || mt == "application/jsonl" || mt == "application/ndjson"
	body := ingest.NewBody(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody), ndjson)
	outcomes, err := s.cfg.Ingest.IngestFrom(r.Context(), body, func(t domain.EventType) error {
		if scope := eventScope(t); !p.Has(scope) {
			return fmt.Errorf("type: %s needs scope %s, which the token lacks", t, scope)
		}
		return nil
	})

	counts := map[string]int{ingest.StatusAccepted: 0, ingest.StatusDuplicate: 0, ingest.StatusRejected: 0, ingest.StatusUnknown: 0}
	forbidden := 0
	for _, o := range outcomes {
		counts[o.Status]++
		if o.Forbidden {
			forbidden++
		}
	}
	resp := map[string]any{"accepted": counts[ingest.StatusAccepted], "duplicates": counts[ingest.StatusDuplicate],
		"rejected": counts[ingest.StatusRejected], "unknown": counts[ingest.StatusUnknown], "results": outcomes}
	if len(outcomes) == 0 {
		resp["results"] = []ingest.Outcome{}
	}
	var be *ingest.BodyError
	if err != nil {
		// The rest of the body is not read: close the connection after the answer rather
		// than let net/http drain it first (it would wait for a producer that is still
		// sending, and read what the limits were there to refuse).
		w.Header().Set("Connection", "close")
	}
	switch {
	case errors.Is(err, ingest.ErrUnavailable):
		s.cfg.Logger.Error("append failed", "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		resp["error"] = "the event stream did not confirm the events marked unknown, which may or may not be stored; " +
			"resend the request (give the envelopes that had no id the ids in results): what was stored is answered duplicate"
		jsonhttp.Write(w, http.StatusServiceUnavailable, resp)
		return
	case errors.As(err, &be):
		code := http.StatusBadRequest
		msg := be.Error()
		if errors.Is(err, ingest.ErrTooLarge) {
			code = http.StatusRequestEntityTooLarge
		} else if isTooLarge(err) {
			code, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than %d bytes", s.cfg.MaxBody)
		}
		resp["error"], resp["field"] = msg, "body"
		if len(outcomes) > 0 {
			resp["error"] = fmt.Sprintf("%s; envelopes from index %d on were not read, those before were judged (see results)", msg, be.Index)
		}
		jsonhttp.Write(w, code, resp)
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}

	setPosition(w, outcomes)
	if body.Single() {
		o := outcomes[0]
		code := map[string]int{ingest.StatusAccepted: http.StatusAccepted, ingest.StatusDuplicate: http.StatusOK, ingest.StatusRejected: http.StatusBadRequest}[o.Status]
		if o.Forbidden {
			code = http.StatusForbidden
		}
		single := map[string]any{"id": o.ID, "status": o.Status, "results": outcomes}
		if o.Status == ingest.StatusRejected {
			single["error"], single["field"] = o.Error, o.Field
		}
		jsonhttp.Write(w, code, single)
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
	delete(resp, "unknown")
	jsonhttp.Write(w, code, resp)
}
