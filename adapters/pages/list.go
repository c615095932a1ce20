package pages

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/interaction-ledger/ledger/adapters/audit"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/domain/contact"
	"github.com/interaction-ledger/ledger/projections/history"
)

// column is one column of the list, as the header shows it.
type column struct {
	Name, Label string
	SortURL     string
	Sort        string // "", "ascending", "descending" (aria-sort)
}

// The list's columns (CONTRACT.md §4) in the product's order, with their headers.
var columnLabels = [][2]string{
	{"start_at", "Start"}, {"end_at", "End"}, {"flow", "Flow"}, {"status", "Status"},
	{"direction", "Direction"}, {"original_routing", "Original routing"}, {"current_routing", "Current routing"},
	{"agent_id", "Advisor"}, {"queue_id", "Queue"}, {"contact", "Contact"}, {"voice_campaign", "Voice campaign"},
	{"template", "Template"}, {"customer_id", "Customer"}, {"interaction_id", "Interaction"},
}

// link is an action shown as a link.
type link struct{ Label, Href string }

// rowView is one interaction of the list.
type rowView struct {
	history.Item
	Start, End       string // in the agent's zone
	StartISO         string
	DetailURL        string
	CardURL          string
	CRMURL           string
	ContactActions   []link
	StatusNeedsTitle bool
}

// choice is one checkbox of the filter panel.
type choice struct {
	Value, Label string
	Checked      bool
}

// filterView is the filter form as the agent left it.
type filterView struct {
	From, To, Min, Max, TZ, Q                           string
	Flows, Statuses, Directions, Original, Current      []choice
	Agent, Queue, Contact, Campaign, Template, ID, Cust string
	Active                                              int // how many advanced filters are set
}

// listView is the History of interactions.
type listView struct {
	chrome
	Filter  filterView
	Columns []column
	Rows    []rowView
	NextURL string
	Error   string
	Range   string
	// LiveURL streams this list's new and changed rows from the position the page was
	// read at; ExportURL downloads the whole list as CSV. Both carry the page's query.
	LiveURL   string
	ExportURL string
	// Views are the agent's saved views; Query is this list's, which "Save this view"
	// keeps; ViewError says why the last save or delete failed.
	Views     []savedView
	Query     string
	ViewError string
}

// textParams are the filter's free-text fields: a comma separates the values of one
// field (OR), as repeating the parameter does in the API.
var textParams = []string{"agent_id", "queue_id", "contact", "voice_campaign", "template", "id", "customer_id"}

// apiQuery turns the page's URL into the API's parameters: empty fields (a GET form
// sends them) are dropped and free-text fields split on commas. The result goes through
// history.ParseQuery like GET /v1/interactions.
func apiQuery(in url.Values, tz string) url.Values {
	out := url.Values{}
	for k, vs := range in {
		for _, v := range vs {
			if slices.Contains(textParams, k) {
				for _, part := range strings.Split(v, ",") {
					if p := strings.TrimSpace(part); p != "" {
						out.Add(k, p)
					}
				}
				continue
			}
			if v = strings.TrimSpace(v); v != "" {
				out.Add(k, v)
			}
		}
	}
	if !out.Has("tz") {
		out.Set("tz", tz)
	}
	return out
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request, s *session) {
	h.renderList(w, r, s, http.StatusOK, "")
}

// renderList renders the list of the URL's query, with code and the outcome of a saved
// view's form if any.
func (h *Handler) renderList(w http.ResponseWriter, r *http.Request, s *session, code int, viewErr string) {
	params := apiQuery(r.URL.Query(), s.TZ)
	loc, ok := zone(params.Get("tz"))
	if !ok {
		loc = s.Loc
	}
	now := h.cfg.Now()
	v := listView{chrome: s.chrome("History of interactions", "list")}
	v.Filter = filterOf(params, now, loc)
	v.Query, v.ViewError = pageParams(r.URL.Query()).Encode(), viewErr
	views, err := h.savedViews(s.Reader.AgentID, r.URL.Query())
	if err != nil {
		h.internal(w, r, s, err)
		return
	}
	v.Views = views
	q, err := history.ParseQuery(params, now)
	if err == nil {
		state := pageParams(r.URL.Query())
		v.ExportURL = "/export.csv?" + state.Encode()
		if h.cfg.Live != nil {
			// Read before the list: a change between the two is sent again, never lost.
			state.Set("since", strconv.FormatUint(h.cfg.Live.Position(), 10))
			v.LiveURL = "/live?" + state.Encode()
		}
		var page history.Page
		page, err = h.cfg.History.List(s.Reader, q)
		if err == nil {
			hits := make([]audit.Hit, 0, len(page.Items))
			for _, it := range page.Items {
				v.Rows = append(v.Rows, h.row(it, loc))
				hits = append(hits, audit.Hit{CustomerID: it.CustomerID, InteractionID: it.InteractionID})
			}
			if !h.record(w, r, s, "page:list", "", len(hits), hits) {
				return
			}
			if page.NextCursor != "" {
				next := pageParams(r.URL.Query())
				next.Set("cursor", page.NextCursor)
				v.NextURL = "/?" + next.Encode()
			}
		}
		v.Range = q.From.In(loc).Format("2 Jan 2006 15:04") + " – " + q.To.In(loc).Format("2 Jan 2006 15:04") + " (" + loc.String() + ")"
	}
	var qe *history.QueryError
	switch {
	case errors.As(err, &qe):
		code, v.Error = http.StatusBadRequest, "Filter "+qe.Param+": "+qe.Problem
	case err != nil:
		h.internal(w, r, s, err)
		return
	}
	v.Columns = columns(r.URL.Query(), q)
	h.render(w, r, code, "list", v)
}

// pageParams is the page's own URL state without its page position.
func pageParams(in url.Values) url.Values {
	out := url.Values{}
	for k, vs := range in {
		if k == "cursor" {
			continue
		}
		for _, v := range vs {
			if v != "" {
				out.Add(k, v)
			}
		}
	}
	return out
}

// columns are the headers: a click sorts by the column, ascending first, then flips.
func columns(in url.Values, q history.Query) []column {
	sorted := q.Sort
	if sorted == "" {
		sorted, q.Desc = "start_at", true
	}
	out := make([]column, len(columnLabels))
	for i, c := range columnLabels {
		p := pageParams(in)
		p.Set("sort", c[0])
		p.Set("order", "asc")
		col := column{Name: c[0], Label: c[1]}
		if c[0] == sorted {
			col.Sort = "ascending"
			if q.Desc {
				col.Sort = "descending"
			} else {
				p.Set("order", "desc")
			}
		}
		col.SortURL = "/?" + p.Encode()
		out[i] = col
	}
	return out
}

func (h *Handler) row(it history.Item, loc *time.Location) rowView {
	rv := rowView{Item: it, Start: it.StartAt.In(loc).Format("2 Jan 15:04"), StartISO: it.StartAt.Format(time.RFC3339),
		DetailURL:        "/interactions/" + url.PathEscape(it.InteractionID),
		StatusNeedsTitle: it.Reason != ""}
	if it.EndAt != nil {
		rv.End = it.EndAt.In(loc).Format("2 Jan 15:04")
	}
	if it.CustomerID != "" {
		rv.CardURL = "/customers/" + url.PathEscape(it.CustomerID)
	}
	if it.CRMRecord != "" && h.cfg.CRMRecordURL != "" {
		rv.CRMURL = strings.ReplaceAll(h.cfg.CRMRecordURL, "{id}", url.PathEscape(it.CRMRecord))
	}
	rv.ContactActions = h.contactActions(it.Contact)
	return rv
}

// contactActions are the quick actions on a contact: e-mail for an address; call (the
// operator's click-to-call URL when configured) and SMS for a number.
func (h *Handler) contactActions(c string) []link {
	switch {
	case c == "":
		return nil
	case strings.Contains(c, "@"):
		if e, ok := contact.Email(c); ok {
			return []link{{"E-mail", "mailto:" + e}}
		}
		return nil
	}
	d := contact.Digits(c)
	if len(d) < contact.MinDigitsSuffix {
		return nil
	}
	if strings.HasPrefix(c, "+") {
		d = "+" + d
	}
	call := "tel:" + d
	if h.cfg.ClickToCallURL != "" {
		call = strings.ReplaceAll(h.cfg.ClickToCallURL, "{number}", url.QueryEscape(d))
	}
	return []link{{"Call", call}, {"SMS", "sms:" + d}}
}

// filterOf fills the form from the parameters; the dates show the range in loc.
func filterOf(p url.Values, now time.Time, loc *time.Location) filterView {
	today := now.In(loc).Format(time.DateOnly)
	f := filterView{From: dateOf(p.Get("from"), loc, today), To: dateOf(p.Get("to"), loc, today), TZ: loc.String(), Q: p.Get("q"),
		Min: domain.RetentionStart(now).In(loc).AddDate(0, 0, 1).Format(time.DateOnly), Max: today,
		Agent: strings.Join(p["agent_id"], ", "), Queue: strings.Join(p["queue_id"], ", "),
		Contact: strings.Join(p["contact"], ", "), Campaign: strings.Join(p["voice_campaign"], ", "),
		Template: strings.Join(p["template"], ", "), ID: strings.Join(p["id"], ", "), Cust: strings.Join(p["customer_id"], ", ")}
	f.Flows = choices(p["flow"], strs(domain.Flows()))
	f.Statuses = choices(p["status"], strs(domain.Statuses()))
	f.Directions = choices(p["direction"], strs(domain.Directions()))
	f.Original = choices(p["original_routing"], strs(domain.Routings()))
	f.Current = choices(p["current_routing"], strs(domain.Routings()))
	for _, k := range []string{"flow", "status", "direction", "original_routing", "current_routing", "agent_id", "queue_id",
		"contact", "voice_campaign", "template", "id", "customer_id"} {
		if p.Has(k) {
			f.Active++
		}
	}
	return f
}

// dateOf shows a from/to parameter as a date in loc (an RFC 3339 time, or a date as is).
func dateOf(s string, loc *time.Location, def string) string {
	if s == "" {
		return def
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.In(loc).Format(time.DateOnly)
	}
	return s
}

func choices(set, all []string) []choice {
	out := make([]choice, len(all))
	for i, v := range all {
		out[i] = choice{Value: v, Label: label(v), Checked: slices.Contains(set, v)}
	}
	return out
}

func strs[T interface{ String() string }](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out
}
