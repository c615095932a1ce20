package webhooks

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/interaction-ledger/ledger/adapters/jsonhttp"
	"github.com/interaction-ledger/ledger/domain"
)

// Responder is implemented by providers that need a particular success answer (Twilio:
// an empty TwiML document, since a messaging webhook's answer is read as TwiML). Others
// get {"accepted": N}.
type Responder interface {
	Respond(w http.ResponseWriter, accepted int)
}

// Handler serves POST (and GET, for handshakes) /v1/webhooks/{provider}: it looks the
// provider up by the {provider} path value, verifies the request, translates it and
// appends the events. Mount it with Go 1.22 patterns "POST /v1/webhooks/{provider}" and
// "GET /v1/webhooks/{provider}".
//
// Answers: unknown or disabled provider 404; body over the provider's MaxBody 413; bad,
// missing or stale signature 401 (nothing appended; a provider that is a HeaderVerifier
// refuses before the body is read, and so does a declared Content-Length over MaxBody); unreadable payload 400 naming the
// problem; the stream not acknowledging 503 (so the provider retries); otherwise 200.
type Handler struct {
	app       Appender
	log       *slog.Logger
	providers map[string]Provider

	// Now is the handler's clock (default time.Now). Set it before serving; tests pin it.
	Now func() time.Time
	// Observe, when set, is called once per request with the provider's path segment
	// and the status code answered (feeds ledger_webhook_requests_total). Set it before
	// serving.
	Observe func(provider string, code int)
}

// NewHandler returns a handler for the given providers; only configured providers should
// be passed (a provider whose secret is not set is disabled, so it answers 404). A nil
// provider is skipped; a second provider with the same name is ignored and logged.
func NewHandler(app Appender, log *slog.Logger, providers ...Provider) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{app: app, log: log, providers: make(map[string]Provider, len(providers)), Now: time.Now}
	for _, p := range providers {
		if p == nil {
			continue
		}
		if _, dup := h.providers[p.Name()]; dup {
			log.Error("webhooks: provider registered twice, keeping the first", "provider", p.Name())
			continue
		}
		h.providers[p.Name()] = p
	}
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	name := r.PathValue("provider")
	rec := jsonhttp.NewStatusRecorder(w)
	accepted := h.serve(rec, r, name)
	code := rec.Status()
	if h.Observe != nil {
		label := name
		if _, ok := h.providers[name]; !ok {
			label = "unknown" // bound the label set: the path segment is caller-chosen
		}
		h.Observe(label, code)
	}
	level := slog.LevelInfo
	switch {
	case code >= 500:
		level = slog.LevelError
	case code >= 400:
		level = slog.LevelWarn
	}
	h.log.Log(r.Context(), level, "webhook", "provider", name, "method", r.Method, "code", code,
		"events", accepted, "duration", time.Since(start))
}

// refuse answers a request whose verification failed: 503 when the provider cannot judge
// it now (the sender retries), 401 otherwise.
func (h *Handler) refuse(w http.ResponseWriter, name string, err error) {
	if errors.Is(err, ErrUnavailable) {
		w.Header().Set("Retry-After", "60")
		jsonhttp.Error(w, http.StatusServiceUnavailable, err.Error(), nil)
		return
	}
	if !errors.Is(err, ErrUnauthorized) {
		h.log.Error("webhooks: verification returned an error that does not wrap ErrUnauthorized", "provider", name, "err", err)
	}
	jsonhttp.Error(w, http.StatusUnauthorized, err.Error(), nil)
}

// leaveBodyUnread is called before answering a request whose body will not be read. It
// asks net/http to close the connection after the answer: otherwise the server drains up
// to 256 KiB of the unread body before it writes the answer (a chunked body, or one under
// that size), which a sender that stalls its body can hold until the read timeout.
func leaveBodyUnread(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
}

// serve answers the request and returns how many events were appended.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, name string) int {
	p, ok := h.providers[name]
	if !ok {
		leaveBodyUnread(w)
		jsonhttp.Error(w, http.StatusNotFound, fmt.Sprintf("webhook provider %q is unknown or not configured", name), nil)
		return 0
	}
	switch r.Method {
	case http.MethodPost:
	case http.MethodGet:
		if hs, ok := p.(Handshaker); ok {
			hs.Handshake(w, r)
			return 0
		}
		w.Header().Set("Allow", http.MethodPost)
		jsonhttp.Error(w, http.StatusMethodNotAllowed, fmt.Sprintf("provider %q has no GET handshake; use POST", name), nil)
		return 0
	default:
		leaveBodyUnread(w)
		allow := http.MethodPost
		if _, ok := p.(Handshaker); ok {
			allow = "GET, POST"
		}
		w.Header().Set("Allow", allow)
		jsonhttp.Error(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed", r.Method), nil)
		return 0
	}

	now := h.Now()
	if hv, ok := p.(HeaderVerifier); ok {
		if err := hv.VerifyHeaders(r, now); err != nil {
			leaveBodyUnread(w)
			h.refuse(w, name, err)
			return 0
		}
	}
	if r.ContentLength > p.MaxBody() {
		leaveBodyUnread(w)
		jsonhttp.Error(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than the %d bytes allowed", p.MaxBody()), nil)
		return 0
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.MaxBody()))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			jsonhttp.Error(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than the %d bytes allowed", mbe.Limit), nil)
			return 0
		}
		jsonhttp.Error(w, http.StatusBadRequest, "cannot read body: "+err.Error(), nil)
		return 0
	}
	if err := p.Verify(r, body, now); err != nil {
		h.refuse(w, name, err)
		return 0
	}
	events, err := p.Translate(r, body, now)
	if err != nil {
		code := http.StatusBadRequest
		if !errors.Is(err, ErrBadPayload) && !errors.Is(err, domain.ErrInvalid) {
			code = http.StatusInternalServerError
		}
		jsonhttp.Error(w, code, err.Error(), nil)
		return 0
	}
	if len(events) > 0 {
		if err := h.app.AppendEvents(r.Context(), events); err != nil {
			if errors.Is(err, domain.ErrInvalid) {
				// A retry would be judged the same way: tell the provider to stop.
				jsonhttp.Error(w, http.StatusBadRequest, err.Error(), nil)
				return 0
			}
			h.log.Error("webhooks: append failed", "provider", name, "events", len(events), "err", err)
			jsonhttp.Error(w, http.StatusServiceUnavailable, "the ledger could not store the events; retry later", nil)
			return 0
		}
	}
	if rs, ok := p.(Responder); ok {
		rs.Respond(w, len(events))
		return len(events)
	}
	jsonhttp.Write(w, http.StatusOK, map[string]int{"accepted": len(events)})
	return len(events)
}
