package pages

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/interaction-ledger/ledger/projections/savedviews"
)

// savedView is one entry of the list's Saved views menu.
type savedView struct {
	Name, URL string
	Current   bool // the list shows this view's query now
}

// savedViews lists the agent's views, marking the one whose query is the page's.
func (h *Handler) savedViews(agent string, page url.Values) ([]savedView, error) {
	vs, err := h.cfg.SavedViews.List(agent)
	if err != nil {
		return nil, err
	}
	cur := pageParams(page).Encode()
	out := make([]savedView, len(vs))
	for i, v := range vs {
		out[i] = savedView{Name: v.Name, URL: "/?" + v.Query, Current: v.Query == cur}
	}
	return out, nil
}

// saveView keeps the list's current query under the name the agent gave, then shows that
// list again (its menu now holds the view). A bad name or a full menu is shown on the
// list, naming the field.
func (h *Handler) saveView(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.parseForm(w, r, s, 16<<10) {
		return
	}
	query := r.PostForm.Get("query")
	state, err := url.ParseQuery(query)
	if err != nil {
		state = url.Values{}
	}
	r.URL.RawQuery = pageParams(state).Encode() // the list re-rendered below is the one being saved
	_, err = h.cfg.SavedViews.Save(s.Reader.AgentID, r.PostForm.Get("name"), r.URL.RawQuery, h.cfg.Now())
	var bad *savedviews.InputError
	switch {
	case errors.As(err, &bad):
		h.renderList(w, r, s, http.StatusBadRequest, "View "+bad.Error()+".")
	case errors.Is(err, savedviews.ErrFull):
		h.renderList(w, r, s, http.StatusConflict, "The view was not saved: "+err.Error()+".")
	case err != nil:
		h.internal(w, r, s, err)
	default:
		http.Redirect(w, r, "/?"+r.URL.RawQuery, http.StatusSeeOther)
	}
}

// deleteView removes one of the agent's views, then shows the list the agent was on.
func (h *Handler) deleteView(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.parseForm(w, r, s, 16<<10) {
		return
	}
	back, err := url.ParseQuery(r.PostForm.Get("back"))
	if err != nil {
		back = url.Values{}
	}
	r.URL.RawQuery = pageParams(back).Encode()
	name := r.PostForm.Get("name")
	err = h.cfg.SavedViews.Delete(s.Reader.AgentID, name)
	switch {
	case errors.Is(err, savedviews.ErrNotFound):
		h.renderList(w, r, s, http.StatusNotFound, "There is no saved view named "+name+" (deleted meanwhile?).")
	case err != nil:
		h.internal(w, r, s, err)
	default:
		http.Redirect(w, r, "/?"+r.URL.RawQuery, http.StatusSeeOther)
	}
}
