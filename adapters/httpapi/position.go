package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/interaction-ledger/ledger/adapters/ingest"
	"github.com/interaction-ledger/ledger/adapters/jsonhttp"
	"github.com/interaction-ledger/ledger/projections"
)

// Headers of read-your-writes across nodes (CONTRACT §4): every write's 2xx carries the
// stream position it reached; a read that asks for a position answers once this node's
// views have applied it.
const (
	HeaderPosition    = "Ledger-Position"
	HeaderMinPosition = "Ledger-Min-Position"
)

// DefaultPositionWait bounds how long a read with Ledger-Min-Position waits for the views.
const DefaultPositionWait = 5 * time.Second

// positionRetryAfter is the Retry-After, in seconds, of a read whose position the views
// have not reached in time.
const positionRetryAfter = 1

// setPosition sets Ledger-Position to the highest stream sequence of the outcomes (an
// accepted or duplicate event's), if any.
func setPosition(w http.ResponseWriter, outcomes []ingest.Outcome) {
	var top uint64
	for _, o := range outcomes {
		top = max(top, o.Seq)
	}
	if top > 0 {
		w.Header().Set(HeaderPosition, strconv.FormatUint(top, 10))
	}
}

// minPosition answers h only once every view of the event stream on this node (history
// and timeline) has applied the position the request names in Ledger-Min-Position,
// waiting at most Config.PositionWait; then 503 with the lag. Without the header it is h.
func (s *Server) minPosition(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := strings.TrimSpace(r.Header.Get(HeaderMinPosition))
		if v == "" {
			h(w, r)
			return
		}
		want, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			jsonhttp.Error(w, http.StatusBadRequest, fmt.Sprintf("header %s: %q is not a stream position (a whole number)", HeaderMinPosition, v),
				map[string]any{"field": HeaderMinPosition})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.PositionWait)
		err = waitApplied(ctx, want, s.cfg.HistoryDB, s.cfg.TimelineDB)
		cancel()
		if err != nil {
			if r.Context().Err() != nil {
				return // the client is gone
			}
			applied := s.applied()
			w.Header().Set("Retry-After", strconv.Itoa(positionRetryAfter))
			jsonhttp.Write(w, http.StatusServiceUnavailable, map[string]any{
				"error":   fmt.Sprintf("this node's views have applied position %d, not yet %d; retry", applied, want),
				"applied": applied, "wanted": want, "lag": want - min(want, applied),
			})
			return
		}
		h(w, r)
	}
}

// waitApplied waits until every db has applied seq.
func waitApplied(ctx context.Context, seq uint64, dbs ...*projections.DB) error {
	for _, db := range dbs {
		if db == nil {
			continue
		}
		if err := db.WaitCheckpoint(ctx, seq); err != nil {
			return err
		}
	}
	return nil
}

// applied is the lowest checkpoint of the event stream's views (0 if unreadable).
func (s *Server) applied() uint64 {
	var low uint64
	first := true
	for _, db := range []*projections.DB{s.cfg.HistoryDB, s.cfg.TimelineDB} {
		if db == nil {
			continue
		}
		cp, err := db.Checkpoint()
		if err != nil {
			return 0
		}
		if first || cp < low {
			low, first = cp, false
		}
	}
	return low
}
