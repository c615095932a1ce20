package pages

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/domain"
)

// The cookies of the pages.
const (
	// sessionCookie holds the agent's JWT: HttpOnly, SameSite=Strict, Secure over TLS.
	sessionCookie = "ledger_session"
	// tzCookie holds the browser's IANA time zone, the default of the pages' tz.
	tzCookie = "ledger_tz"
)

// session is a signed-in agent as the directory knows them now.
type session struct {
	Reader    domain.Reader
	Principal auth.Principal
	TZ        string // IANA name
	Loc       *time.Location
}

func (s *session) chrome(title, active string) chrome {
	return chrome{Title: title, Agent: s.Reader.AgentID, Role: s.Reader.Role.String(), TZ: s.TZ, Active: active}
}

// page requires a signed-in agent whose token holds history:read and whose active
// profile grants history access, like the API's readers; a page without a session
// sends the browser to /signin.
func (h *Handler) page(fn func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		if err != nil || c.Value == "" {
			h.toSignin(w, r)
			return
		}
		p, err := h.cfg.Verifier.VerifyToken(c.Value)
		if err != nil {
			clearCookie(w, r, sessionCookie)
			h.toSignin(w, r)
			return
		}
		if !p.Has(auth.ScopeHistoryRead) {
			h.fail(w, r, nil, http.StatusForbidden, "Your sign-in does not allow reading the history (scope "+auth.ScopeHistoryRead+").")
			return
		}
		rd, ok, err := h.cfg.Directory.Reader(p.Subject)
		if err != nil {
			h.internal(w, r, nil, err)
			return
		}
		if !ok || !rd.HistoryAccess {
			h.fail(w, r, nil, http.StatusForbidden, "Agent "+p.Subject+" has no access to the History of interactions in their active profile.")
			return
		}
		s := &session{Reader: rd, Principal: p, TZ: "UTC", Loc: time.UTC}
		if tc, err := r.Cookie(tzCookie); err == nil {
			if loc, ok := zone(tc.Value); ok {
				s.TZ, s.Loc = tc.Value, loc
			}
		}
		fn(w, r, s)
	}
}

// zone loads an IANA zone name, refusing what is not one.
func zone(name string) (*time.Location, bool) {
	if name == "" || name == "Local" || strings.ContainsAny(name, "\\.") {
		return nil, false
	}
	loc, err := time.LoadLocation(name)
	return loc, err == nil
}

func (h *Handler) toSignin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		h.fail(w, r, nil, http.StatusUnauthorized, "Your session has ended. Sign in again from your application.")
		return
	}
	http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
}

// sameOrigin refuses a state-changing request that a browser says came from another
// origin: the SameSite=Strict cookie already keeps cross-site requests unauthenticated,
// and this closes the same-site, cross-origin gap (a sibling subdomain).
func (h *Handler) sameOrigin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := checkOrigin(r); err != nil {
			h.fail(w, r, nil, http.StatusForbidden, "This form was refused: "+err.Error()+".")
			return
		}
		next(w, r)
	}
}

func checkOrigin(r *http.Request) error {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin":
		return nil
	case "cross-site", "same-site":
		return errors.New("it was sent from another site")
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return errors.New("the browser did not say where it came from (no Origin header)")
	}
	u, err := url.Parse(o)
	if err != nil || u.Host != r.Host || u.Scheme != scheme(r) {
		return errors.New("it was sent from another origin")
	}
	return nil
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// signinView is the sign-in page.
type signinView struct {
	chrome
	Next    string
	Message string
}

// signinPage serves the page whose script (static/signin.js) posts the token of the
// URL's fragment once; without a fragment, or without scripts, it offers a form.
func (h *Handler) signinPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "signin", signinView{chrome: chrome{Title: "Sign in"}, Next: localPath(r.URL.Query().Get("next"))})
}

// signin verifies the posted token and keeps it in the session cookie until it expires.
func (h *Handler) signin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, nil, http.StatusBadRequest, "The sign-in form could not be read.")
		return
	}
	next := localPath(r.PostForm.Get("next"))
	tok := strings.TrimSpace(r.PostForm.Get("token"))
	p, err := h.cfg.Verifier.VerifyToken(tok)
	if err != nil {
		h.render(w, r, http.StatusUnauthorized, "signin", signinView{chrome: chrome{Title: "Sign in"}, Next: next,
			Message: "This sign-in link is not valid or has expired. Open the pages again from your application."})
		return
	}
	exp := p.Expires
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/", Expires: exp, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	if _, ok := zone(r.PostForm.Get("tz")); ok {
		http.SetCookie(w, &http.Cookie{Name: tzCookie, Value: r.PostForm.Get("tz"), Path: "/", Expires: exp,
			HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	}
	h.cfg.Logger.Info("page sign-in", "agent", p.Subject)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) signout(w http.ResponseWriter, r *http.Request) {
	clearCookie(w, r, sessionCookie)
	h.render(w, r, http.StatusOK, "signin", signinView{chrome: chrome{Title: "Signed out"}, Next: "/",
		Message: "You are signed out. Open the pages again from your application to sign back in."})
}

func clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

// localPath keeps next on this site: a path, never //host or a scheme.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}
