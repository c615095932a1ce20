package pages

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/interaction-ledger/ledger/adapters/audit"
	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/httpapi"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections/history"
	"github.com/interaction-ledger/ledger/projections/timeline"
)

// tab is one tab of a page: a link to the page with ?tab=.
type tab struct {
	Name, Label, URL string
	Current          bool
	Count            int // shown when > 0
}

func tabs(base string, names [][2]string, current string) []tab {
	out := make([]tab, len(names))
	for i, n := range names {
		out[i] = tab{Name: n[0], Label: n[1], URL: base + "?tab=" + n[0], Current: n[0] == current}
	}
	return out
}

// eventView is one of the interaction's own events.
type eventView struct {
	At, Type, Source, Data string
}

// detailView is one interaction opened.
type detailView struct {
	chrome
	D         history.Detail
	Row       rowView
	Tabs      []tab
	Tab       string
	Events    []eventView
	SRData    string
	Card      *timeline.Card
	OpenedAt  string
	ClickedAt string
	Refresh   string
	Why       []string // why the reader may see it (visible_because)
	// Base is the detail's address; the Settings forms post under it.
	Base string
	// Buttons are the agent's My buttons with the interaction's values filled in.
	Buttons []httpapi.Button
	// CanAct: the sign-in holds interactions:write (the Settings menu says so otherwise).
	CanAct          bool
	PaymentStatuses []choice
	Notice          string     // what the last action did
	Refused         string     // why the last action was refused, with the current state
	Error           string     // bad input, naming the field
	Field           string     // the field Error names, to mark it
	Form            url.Values // the form sent, refilled after bad input
}

// The detail's tabs, as the product names them.
var detailTabs = [][2]string{{"interaction", "Interaction"}, {"card", "Card"}, {"case", "Case"},
	{"qualifications", "Qualifications"}, {"survey", "Survey answers"}, {"invoices", "Invoices"}}

func (h *Handler) detail(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	out := outcome{Notice: doneAction(q.Get("done"), q.Get("rec"))}
	if !h.awaitOwnWrite(r) {
		out.Notice += " This server is still catching up: refresh in a moment to see it."
	}
	h.renderDetail(w, r, s, http.StatusOK, out)
}

// outcome is what an action on the detail did, shown above its panels.
type outcome struct {
	Notice, Refused, Error, Field string
	Form                          url.Values
}

// renderDetail renders the interaction's detail as it is now, on the tab of the URL,
// with the outcome of an action if any.
func (h *Handler) renderDetail(w http.ResponseWriter, r *http.Request, s *session, code int, out outcome) {
	id := r.PathValue("id")
	at, err := h.cfg.History.ChangedAt(id) // before the read: a change after it is told
	if err != nil {
		h.internal(w, r, s, err)
		return
	}
	d, err := h.cfg.History.Get(s.Reader, id)
	if errors.Is(err, history.ErrNotFound) {
		// An interaction the agent may not see does not exist for them (CONTRACT.md §3).
		h.fail(w, r, s, http.StatusNotFound, "There is no interaction "+id+" in your history.")
		return
	}
	if err != nil {
		h.internal(w, r, s, err)
		return
	}
	base := "/interactions/" + url.PathEscape(id)
	current := r.URL.Query().Get("tab")
	if current == "" {
		current = "interaction"
	}
	v := detailView{chrome: s.chrome("Interaction "+id, "detail"), D: d, Row: h.row(d.Item, s.Loc),
		Tabs: tabs(base, detailTabs, current), Tab: current, Refresh: base + "?tab=" + url.QueryEscape(current),
		Base: base, CanAct: s.Principal.Has(auth.ScopeInteractionsWrite),
		PaymentStatuses: choices(nil, strs(domain.PaymentStatuses())),
		Notice:          out.Notice, Refused: out.Refused, Error: out.Error, Field: out.Field, Form: out.Form}
	v.Changes = base + "/changes?at=" + strconv.FormatUint(at, 10)
	if v.Buttons, err = h.cfg.Buttons.For(s.Reader, &d); err != nil {
		h.internal(w, r, s, err)
		return
	}
	for _, e := range d.Events {
		v.Events = append(v.Events, eventView{At: e.OccurredAt.In(s.Loc).Format("2 Jan 15:04:05"), Type: e.Type,
			Source: e.Source, Data: indent(e.Data)})
	}
	if string(d.SRData) != "null" {
		v.SRData = indent(d.SRData)
	}
	if d.OpenedAt != nil {
		v.OpenedAt = d.OpenedAt.In(s.Loc).Format("2 Jan 2006 15:04")
	}
	if d.ClickedAt != nil {
		v.ClickedAt = d.ClickedAt.In(s.Loc).Format("2 Jan 2006 15:04")
	}
	if current == "card" && d.CustomerID != "" {
		card, err := h.cfg.Timeline.Card(d.CustomerID, s.Reader.CanSee)
		if err != nil {
			h.internal(w, r, s, err)
			return
		}
		v.Card = &card
	}
	for _, rs := range d.VisibleBecause {
		v.Why = append(v.Why, whyText(rs, s.Loc))
	}
	if !h.record(w, r, s, "page:detail", "", 1, []audit.Hit{{CustomerID: d.CustomerID, InteractionID: d.InteractionID}}) {
		return
	}
	h.render(w, r, code, "detail", v)
}

// indent shows a JSON value readably.
func indent(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

// when formats an optional time in loc.
func when(t *time.Time, loc *time.Location) string {
	if t == nil {
		return ""
	}
	return t.In(loc).Format("2 Jan 2006 15:04")
}
