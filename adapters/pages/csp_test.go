package pages_test

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/httpapi"
	"github.com/interaction-ledger/ledger/adapters/pages"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/directory"
	"github.com/interaction-ledger/ledger/projections/history"
	"github.com/interaction-ledger/ledger/projections/savedviews"
	"github.com/interaction-ledger/ledger/projections/timeline"
)

// newHandler builds the pages over empty view files (enough for pages that read none).
func newHandler(t testing.TB, mod func(*pages.Config)) *pages.Handler {
	t.Helper()
	open := func(name string) *projections.DB {
		db, err := projections.OpenDB(filepath.Join(t.TempDir(), name+".db"), projections.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	saved, err := savedviews.Open(filepath.Join(t.TempDir(), "savedviews.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { saved.Close() })
	v, err := auth.NewVerifier(strings.Repeat("s", 32))
	if err != nil {
		t.Fatal(err)
	}
	cfg := pages.Config{Verifier: v, Directory: directory.New(open("directory")), History: history.New(open("history"), history.Options{}),
		Timeline: timeline.New(open("timeline")), Tasks: &httpapi.TaskCommands{}, Actions: &httpapi.InteractionCommands{},
		Buttons: &httpapi.MyButtons{}, SavedViews: saved}
	if mod != nil {
		mod(&cfg)
	}
	h, err := pages.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestSecurityHeaders pins the pages' Content-Security-Policy (scripts only from the
// ledger, no inline script or eval, EventSource to the ledger only) and framing rules
// on a page, an asset and an error, as miniflux tests its own.
func TestSecurityHeaders(t *testing.T) {
	const base = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
	tests := []struct {
		name, path string
		ancestors  []string
		wantCSP    string
		wantXFrame string
		wantCode   int
	}{
		{"sign-in page", "/signin", nil, base + "frame-ancestors 'none'", "DENY", 200},
		{"asset", "/static/app.js", nil, base + "frame-ancestors 'none'", "DENY", 200},
		{"no page here", "/nowhere", nil, base + "frame-ancestors 'none'", "DENY", 404},
		{"framed by a host", "/signin", []string{"https://crm.example.com"}, base + "frame-ancestors https://crm.example.com", "", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandler(t, func(c *pages.Config) { c.FrameAncestors = tc.ancestors })
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if rec.Code != tc.wantCode {
				t.Errorf("code %d, want %d", rec.Code, tc.wantCode)
			}
			hd := rec.Header()
			if got := hd.Get("Content-Security-Policy"); got != tc.wantCSP {
				t.Errorf("Content-Security-Policy\n got %q\nwant %q", got, tc.wantCSP)
			}
			if strings.Contains(hd.Get("Content-Security-Policy"), "unsafe-") {
				t.Error("the policy allows something unsafe")
			}
			if got := hd.Get("X-Frame-Options"); got != tc.wantXFrame {
				t.Errorf("X-Frame-Options %q, want %q", got, tc.wantXFrame)
			}
			for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
				if got := hd.Get(k); got != want {
					t.Errorf("%s %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestConfigURLTemplates: the operator's URL templates must be http(s).
func TestConfigURLTemplates(t *testing.T) {
	tests := []struct {
		name      string
		crm, call string
		wantErr   string
	}{
		{"none", "", "", ""},
		{"https both", "https://crm.example.com/r/{id}", "https://pbx.example.com/call?n={number}", ""},
		{"javascript CRM", "javascript:alert(1)//{id}", "", "CRMRecordURL"},
		{"relative click-to-call", "", "/call/{number}", "ClickToCallURL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := pages.Config{CRMRecordURL: tc.crm, ClickToCallURL: tc.call}
			err := cfg.Validate()
			if tc.wantErr == "" {
				if err != nil && (strings.Contains(err.Error(), "CRMRecordURL") || strings.Contains(err.Error(), "ClickToCallURL")) {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one naming %s", err, tc.wantErr)
			}
		})
	}
}
