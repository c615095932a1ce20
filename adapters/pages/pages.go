package pages

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/interaction-ledger/ledger/adapters/audit"
	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/httpapi"
	"github.com/interaction-ledger/ledger/projections/directory"
	"github.com/interaction-ledger/ledger/projections/history"
	"github.com/interaction-ledger/ledger/projections/savedviews"
	"github.com/interaction-ledger/ledger/projections/timeline"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config wires the pages. Every field up to SavedViews is required.
type Config struct {
	Verifier  *auth.Verifier
	Directory *directory.View
	History   *history.View
	Timeline  *timeline.View
	Tasks     *httpapi.TaskCommands
	// Actions runs the detail's Settings menu (CRM record, case, payment).
	Actions *httpapi.InteractionCommands
	// Buttons fills in the detail's My buttons.
	Buttons *httpapi.MyButtons
	// SavedViews keeps the agents' named list queries.
	SavedViews *savedviews.Store
	// Live streams the list's new and changed rows (httpapi.Config.Live); nil serves no
	// live updates (the list still works, without them).
	Live *httpapi.Live
	// FrameAncestors lists the origins (https://crm.example.com) allowed to show the pages
	// in a frame; default none (frame-ancestors 'none').
	FrameAncestors []string
	// CRMRecordURL is the operator's URL of a CRM record, with {id} where the record's id
	// goes; "" shows the record's id without a link.
	CRMRecordURL string
	// ClickToCallURL is the operator's click-to-call URL, with {number} where the
	// contact's number goes (query-escaped); "" calls with a tel: link.
	ClickToCallURL string
	// Audit records every page's read of personal data (the read audit); nil records
	// nothing.
	Audit *audit.Recorder
	// WaitPosition, if set, waits (bounded by ctx) until this node's views have applied a
	// stream position: after a command the page is redirected with the position its event
	// reached (?at=), so that on any node behind a load balancer an agent never sees their
	// own change disappear (CONTRACT §4, Ledger-Min-Position).
	WaitPosition func(ctx context.Context, seq uint64) error
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	for name, missing := range map[string]bool{"Verifier": c.Verifier == nil, "Directory": c.Directory == nil,
		"History": c.History == nil, "Timeline": c.Timeline == nil, "Tasks": c.Tasks == nil, "Actions": c.Actions == nil,
		"Buttons": c.Buttons == nil, "SavedViews": c.SavedViews == nil} {
		if missing {
			errs = append(errs, fmt.Errorf("pages: %s is required", name))
		}
	}
	for _, o := range c.FrameAncestors {
		if !strings.HasPrefix(o, "https://") && !strings.HasPrefix(o, "http://") || strings.ContainsAny(o, " ;'\"") {
			errs = append(errs, fmt.Errorf("pages: frame ancestor %q is not an http(s) origin", o))
		}
	}
	for name, u := range map[string]string{"CRMRecordURL": c.CRMRecordURL, "ClickToCallURL": c.ClickToCallURL} {
		if u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			errs = append(errs, fmt.Errorf("pages: %s %q is not an http(s) URL", name, u))
		}
	}
	return errors.Join(errs...)
}

// Handler serves the pages: GET /, /interactions/{id}, /customers/{id}, /signin and
// /static/, and the forms they post.
type Handler struct {
	cfg   Config
	mux   *http.ServeMux
	views map[string]*template.Template
	csp   string
}

// New returns the pages' handler for cfg.
func New(cfg Config) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), views: map[string]*template.Template{}}
	// Each view is parsed over the shared layout; the functions only format.
	funcs := template.FuncMap{"label": label, "count": count}
	for _, name := range []string{"signin", "list", "detail", "card", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("pages: parse template %s: %w", name, err)
		}
		h.views[name] = t
	}
	ancestors := "'none'"
	if len(cfg.FrameAncestors) > 0 {
		ancestors = strings.Join(cfg.FrameAncestors, " ")
	}
	h.csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"form-action 'self'; base-uri 'none'; frame-ancestors " + ancestors
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("pages: static assets: %w", err)
	}
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	h.mux.HandleFunc("GET /signin", h.signinPage)
	h.mux.HandleFunc("POST /signin", h.sameOrigin(h.signin))
	h.mux.HandleFunc("POST /signout", h.sameOrigin(h.signout))
	h.mux.HandleFunc("GET /{$}", h.page(h.list))
	h.mux.HandleFunc("GET /live", h.page(h.live))
	h.mux.HandleFunc("GET /export.csv", h.page(h.export))
	h.mux.HandleFunc("GET /interactions/{id}", h.page(h.detail))
	h.mux.HandleFunc("GET /interactions/{id}/changes", h.page(h.detailChanges))
	h.mux.HandleFunc("GET /customers/{id}", h.page(h.card))
	h.mux.HandleFunc("GET /customers/{id}/changes", h.page(h.cardChanges))
	h.mux.HandleFunc("POST /customers/{id}/tasks/{task_id}/{action}", h.sameOrigin(h.page(h.taskAction)))
	h.mux.HandleFunc("POST /interactions/{id}/actions/{action}", h.sameOrigin(h.page(h.interactionAction)))
	h.mux.HandleFunc("POST /views", h.sameOrigin(h.page(h.saveView)))
	h.mux.HandleFunc("POST /views/delete", h.sameOrigin(h.page(h.deleteView)))
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, nil, http.StatusNotFound, "There is no page at this address.")
	})
	return h, nil
}

// label turns a value of a closed set (whatsapp_campaign) into words (Whatsapp campaign).
func label(s string) string {
	switch s {
	case "":
		return ""
	case "sms":
		return "SMS"
	case "whatsapp":
		return "WhatsApp"
	case "whatsapp_campaign":
		return "WhatsApp campaign"
	}
	s = strings.ReplaceAll(s, "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// ServeHTTP implements http.Handler, with the pages' security headers on every answer.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	if len(h.cfg.FrameAncestors) == 0 {
		hd.Set("X-Frame-Options", "DENY") // for browsers without CSP frame-ancestors
	}
	h.mux.ServeHTTP(w, r)
}

func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

// chrome is what the layout shows around every view.
type chrome struct {
	Title  string
	Agent  string // "" when signed out
	Role   string
	TZ     string
	Active string // list, detail, card: the navigation's current item
	// Changes is the stream that tells an open detail or card it changed (live.go).
	Changes string
}

// render writes the view with code; a template failure is logged and answered 500.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, code int, view string, data any) {
	var buf bytes.Buffer
	if err := h.views[view].ExecuteTemplate(&buf, "layout.html", data); err != nil {
		h.cfg.Logger.Error("render page", "view", view, "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = buf.WriteTo(w)
}

// errorView is the error page.
type errorView struct {
	chrome
	Code    int
	Message string
}

// fail renders the error page with a message for a person.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, s *session, code int, msg string) {
	v := errorView{chrome: chrome{Title: http.StatusText(code)}, Code: code, Message: msg}
	if s != nil {
		v.chrome = s.chrome(http.StatusText(code), "")
	}
	h.render(w, r, code, "error", v)
}

// internal logs err and renders the error page 500.
func (h *Handler) internal(w http.ResponseWriter, r *http.Request, s *session, err error) {
	h.cfg.Logger.Error("page failed", "method", r.Method, "path", r.URL.Path, "err", err)
	h.fail(w, r, s, http.StatusInternalServerError, "Something went wrong on our side. Try again in a moment.")
}

// parseForm reads a posted form of at most limit bytes; on failure it answers the error
// page and reports false.
func (h *Handler) parseForm(w http.ResponseWriter, r *http.Request, s *session, limit int64) bool {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, s, http.StatusBadRequest, "The form could not be read.")
		return false
	}
	return true
}

// positionWait bounds how long a page waits for its own write (?at=) on this node.
const positionWait = 5 * time.Second

// awaitOwnWrite waits, when the URL names a position (?at=, set by the redirect after a
// command), until this node's views have applied it, at most positionWait: past that the
// page renders what the node has (a note says the change may take a moment to show).
func (h *Handler) awaitOwnWrite(r *http.Request) (caughtUp bool) {
	at, err := strconv.ParseUint(r.URL.Query().Get("at"), 10, 64)
	if err != nil || at == 0 || h.cfg.WaitPosition == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(r.Context(), positionWait)
	defer cancel()
	return h.cfg.WaitPosition(ctx, at) == nil
}
