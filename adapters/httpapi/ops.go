package httpapi

import (
	"net/http"
	"strconv"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/jsonhttp"
)

func (s *Server) adminStatus(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	st, err := s.cfg.Ops.Status(r)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	jsonhttp.Write(w, http.StatusOK, st)
}

func (s *Server) adminDeadLetters(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			jsonhttp.Error(w, http.StatusBadRequest, "limit: must be a number from 1 to 10000", map[string]any{"param": "limit"})
			return
		}
		limit = n
	}
	var after uint64
	if v := r.URL.Query().Get("cursor"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			jsonhttp.Error(w, http.StatusBadRequest, "cursor: must be a next_cursor of an earlier page", map[string]any{"param": "cursor"})
			return
		}
		after = n
	}
	dl, next, err := s.cfg.Ops.DeadLetters(r, after, limit)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	cursor := ""
	if next > 0 {
		cursor = strconv.FormatUint(next, 10)
	}
	jsonhttp.Write(w, http.StatusOK, map[string]any{"items": dl, "next_cursor": cursor})
}

func (s *Server) adminRebuild(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	res, err := s.cfg.Ops.Rebuild(r, r.PathValue("name"))
	if err != nil {
		jsonhttp.Error(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	jsonhttp.Write(w, http.StatusAccepted, res)
}
