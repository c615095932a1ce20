package pages

import (
	"errors"
	"net/http"
	"time"

	"github.com/interaction-ledger/ledger/adapters/audit"
	"github.com/interaction-ledger/ledger/domain"
)

// record puts a page's read of personal data in the read audit before it is rendered, as
// the API does; ok is false once the answer is written (503: the audit could not take
// the record, and the page is not shown unrecorded). Without Config.Audit nothing is
// recorded.
func (h *Handler) record(w http.ResponseWriter, r *http.Request, s *session, action, customer string, rows int, hits []audit.Hit) bool {
	if h.cfg.Audit == nil {
		return true
	}
	err := h.cfg.Audit.RecordRead(r.Context(), audit.FromRequest(w, r, s.Reader, h.cfg.Now(), action, customer, rows), hits)
	if errors.Is(err, audit.ErrUnavailable) {
		h.fail(w, r, s, http.StatusServiceUnavailable, "This page cannot be shown right now: the access record could not be written. Try again in a moment.")
		return false
	}
	if err != nil {
		h.internal(w, r, s, err)
		return false
	}
	return true
}

// whyText says, for a person, why they may see an interaction (visible_because).
func whyText(rs domain.Reason, loc *time.Location) string {
	var t string
	switch rs.Rule {
	case domain.RuleOwn:
		t = "You handle it"
	case domain.RuleBeforeTransfer:
		t = "You handled it before a transfer"
	case domain.RuleTeam:
		t = "Your team's agent " + rs.Agent + " handled it"
		if rs.Team != "" {
			t += " (team " + rs.Team + ")"
		}
	case domain.RuleQueue:
		t = "Smart routing through queue " + rs.Queue + " of your profile " + rs.Profile
	case domain.RuleDirect:
		t = "Direct routing, which administrators see"
	default:
		t = rs.Rule.String()
	}
	if rs.Since != nil {
		t += ", since " + rs.Since.In(loc).Format("2 Jan 2006 15:04")
	}
	return t
}
