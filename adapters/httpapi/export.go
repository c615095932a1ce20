package httpapi

import (
	"encoding/csv"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections/history"
)

// CSVColumns are the export's columns, in the contract's order (CONTRACT.md §4).
var CSVColumns = []string{"interaction_id", "start_at", "end_at", "flow", "status", "reason", "direction",
	"original_routing", "current_routing", "agent_id", "queue_id", "contact", "voice_campaign", "template", "customer_id"}

// exportWriteWait bounds each flushed chunk of an export (the server's WriteTimeout is
// pushed forward by it for as long as the export runs).
const exportWriteWait = 30 * time.Second

// WantsCSV reports whether the request's Accept header asks for text/csv.
func WantsCSV(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/csv" {
			return true
		}
	}
	return false
}

// WriteCSV answers every item of q that rd may see, the whole range in q's order, as
// CSV: a byte-order mark (spreadsheet programs then read UTF-8 accents right), a header
// row of CSVColumns, one row per item. It pages internally with the list's keyset cursor
// (q's own Limit and Cursor are ignored) and flushes each page, so that memory stays one
// page whatever the range holds; each page is a read of its own (an interaction that
// arrives during a long export is in it or not, none is repeated or skipped by its
// cursor). An error before the first byte is returned for the caller to answer (a
// *history.QueryError is the client's); one after it ends the body early.
func WriteCSV(w http.ResponseWriter, hv *history.View, rd domain.Reader, q history.Query, filename string) error {
	q.Limit, q.Cursor = history.MaxLimit, ""
	page, err := hv.List(rd, q)
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if filename != "" {
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	}
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	if _, err := w.Write([]byte("\uFEFF")); err != nil {
		return err
	}
	if err := cw.Write(CSVColumns); err != nil {
		return err
	}
	rec := make([]string, len(CSVColumns))
	for {
		if err := rc.SetWriteDeadline(time.Now().Add(exportWriteWait)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		for i := range page.Items {
			csvRecord(rec, &page.Items[i])
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		if page.NextCursor == "" {
			return nil
		}
		q.Cursor = page.NextCursor
		if page, err = hv.List(rd, q); err != nil {
			return fmt.Errorf("export page: %w", err)
		}
	}
}

// csvRecord fills rec with the item's columns. Times are RFC 3339 in UTC, as in the JSON
// answer; a cell that a spreadsheet would run as a formula gets a leading quote.
func csvRecord(rec []string, it *history.Item) {
	end := ""
	if it.EndAt != nil {
		end = it.EndAt.UTC().Format(time.RFC3339Nano)
	}
	vals := [...]string{it.InteractionID, it.StartAt.UTC().Format(time.RFC3339Nano), end, it.Flow, it.Status, it.Reason,
		it.Direction, it.OriginalRouting, it.CurrentRouting, it.AgentID, it.QueueID, it.Contact, it.VoiceCampaign,
		it.Template, it.CustomerID}
	for i, v := range vals {
		rec[i] = defuse(v)
	}
}

// defuse neutralises a cell that spreadsheet programs would evaluate (=, @, a tab or a
// carriage return first; + or - first unless what follows reads as a number, so that
// +33 6 12 34 56 78 stays a phone number) by putting a quote before it (OWASP's CSV
// injection advice).
func defuse(v string) string {
	if v == "" {
		return v
	}
	switch v[0] {
	case '=', '@', '\t', '\r':
		return "'" + v
	case '+', '-':
		if strings.Trim(v[1:], "0123456789 ().-/") != "" {
			return "'" + v
		}
	}
	return v
}
