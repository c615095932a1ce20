package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/domain/scenario"
)

// benchQueryCase is one kind of request, measured over many requests as one reader.
type benchQueryCase struct {
	figure   string
	role     domain.Role
	paths    []string // cycled through
	targetMS float64  // 0: no target
	about    string   // what the note adds (the number searched for)
}

// benchQueryResult is the latency distribution of one case.
type benchQueryResult struct {
	benchQueryCase
	p50, p99, max time.Duration
	items         int // items in the first answer (a sanity check: 0 means the case measured nothing)
	bytes         int // size of the first answer
	n             int
}

// benchReaders returns, for each role, the agent with history access that the bench reads
// as: the first of the role in the directory.
func benchReaders(sc *scenario.Scenario) map[domain.Role]string {
	out := map[domain.Role]string{}
	for _, a := range sc.Agents() {
		if _, ok := out[a.Role]; !ok && a.HistoryAccess {
			out[a.Role] = a.AgentID
		}
	}
	return out
}

// benchRunQueries measures every query case over real HTTP with real JWTs.
func benchRunQueries(ctx context.Context, bl *benchLedger, data *benchData, secret string, perKind int, progress io.Writer) ([]benchQueryResult, error) {
	readers := benchReaders(data.sc)
	toks := map[domain.Role]string{}
	for role, id := range readers {
		tok, err := auth.Mint(secret, id, []string{auth.ScopeHistoryRead}, time.Now(), 24*time.Hour)
		if err != nil {
			return nil, err
		}
		toks[role] = tok
	}
	from, _ := data.sc.Period()
	threeMonths := "from=" + from.UTC().Format(time.DateOnly)
	filtered := "/v1/interactions?" + threeMonths + "&flow=voice&status=processed&sort=agent_id"
	phone := benchOtherPhoneFormat(data.phone)
	search := "/v1/interactions?" + threeMonths + "&q=" + url.QueryEscape(phone)
	cust := "/v1/customers/" + url.PathEscape(data.busiest)

	roles := []domain.Role{domain.RoleManager, domain.RoleAdministrator, domain.RoleCollaborator}
	var cases []benchQueryCase
	for _, role := range roles {
		cases = append(cases, benchQueryCase{figure: "history list, default (today), " + role.String(), role: role, paths: []string{"/v1/interactions"}, targetMS: 10})
	}
	for _, role := range roles {
		cases = append(cases, benchQueryCase{figure: "history list, 3 months, flow+status, sort agent_id, " + role.String(), role: role, paths: []string{filtered}, targetMS: 100})
	}
	for _, role := range roles {
		// The number in the note, not the figure: the runs of every seed and scale share
		// the figure (ledger-bench summarize takes medians by figure).
		cases = append(cases, benchQueryCase{figure: "history search q=phone, 3 months, " + role.String(), role: role, paths: []string{search}, targetMS: 10, about: "q=" + phone})
	}
	for _, role := range roles {
		ids, err := benchVisibleIDs(ctx, bl, toks[role], "/v1/interactions?"+threeMonths+"&limit=500")
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			continue
		}
		var paths []string
		for _, id := range ids {
			paths = append(paths, "/v1/interactions/"+url.PathEscape(id))
		}
		cases = append(cases, benchQueryCase{figure: "history detail, " + role.String(), role: role, paths: paths, targetMS: 2})
	}
	cases = append(cases,
		benchQueryCase{figure: "timeline newest 50, busiest customer", role: domain.RoleCollaborator, paths: []string{cust + "/timeline?limit=50"}, targetMS: 5},
		benchQueryCase{figure: "timeline tab chats, busiest customer", role: domain.RoleCollaborator, paths: []string{cust + "/chats"}, targetMS: 5},
		benchQueryCase{figure: "timeline tab tasks, busiest customer", role: domain.RoleCollaborator, paths: []string{cust + "/tasks"}, targetMS: 5},
		benchQueryCase{figure: "timeline tab visits, busiest customer", role: domain.RoleCollaborator, paths: []string{cust + "/visits"}, targetMS: 5},
		benchQueryCase{figure: "timeline tab segments, busiest customer", role: domain.RoleCollaborator, paths: []string{cust + "/segments"}, targetMS: 5},
	)
	var out []benchQueryResult
	for _, c := range cases {
		tok, ok := toks[c.role]
		if !ok {
			continue
		}
		r, err := benchMeasureQuery(ctx, bl, tok, c, perKind)
		if err != nil {
			return out, err
		}
		fmt.Fprintf(progress, "bench: %s: p50 %s p99 %s\n", c.figure, r.p50, r.p99)
		out = append(out, r)
	}
	return out, nil
}

// benchVisibleIDs returns the interaction ids of one list page.
func benchVisibleIDs(ctx context.Context, bl *benchLedger, tok, path string) ([]string, error) {
	var page struct {
		Items []struct {
			ID string `json:"interaction_id"`
		} `json:"items"`
	}
	if _, _, err := benchGetJSON(ctx, bl, tok, path, &page); err != nil {
		return nil, err
	}
	var ids []string
	for _, it := range page.Items {
		ids = append(ids, it.ID)
	}
	return ids, nil
}

func benchGetJSON(ctx context.Context, bl *benchLedger, tok, path string, out any) (items, size int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, bl.base+path, nil)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := bl.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("GET %s: %s: %.300s", path, resp.Status, raw)
	}
	var page struct {
		Items []json.RawMessage `json:"items"`
	}
	if out == nil {
		out = &page
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return 0, 0, fmt.Errorf("GET %s: decode: %w", path, err)
	}
	return len(page.Items), len(raw), nil
}

// benchQueryBudget bounds the time spent on one query case (after its first 20
// requests), so that one slow query does not stretch the bench past its 10 minutes.
const benchQueryBudget = 20 * time.Second

// benchMeasureQuery sends perKind requests of c one after the other (after a short warm-up)
// and returns their latency distribution, measured by the client over loopback.
func benchMeasureQuery(ctx context.Context, bl *benchLedger, tok string, c benchQueryCase, perKind int) (benchQueryResult, error) {
	r := benchQueryResult{benchQueryCase: c}
	items, size, err := benchGetJSON(ctx, bl, tok, c.paths[0], nil)
	if err != nil {
		return r, err
	}
	r.items, r.bytes = items, size
	for i := range min(10, perKind) {
		if _, _, err := benchGetJSON(ctx, bl, tok, c.paths[i%len(c.paths)], nil); err != nil {
			return r, err
		}
	}
	lat := make([]time.Duration, 0, perKind)
	began := time.Now()
	for i := range perKind {
		if i >= 20 && time.Since(began) > benchQueryBudget {
			break // a slow case: n in the note says how many were measured
		}
		path := c.paths[i%len(c.paths)]
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, bl.base+path, nil)
		if err != nil {
			return r, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		start := time.Now()
		resp, err := bl.client.Do(req)
		if err != nil {
			return r, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(start))
		if err != nil {
			return r, err
		}
		if resp.StatusCode != http.StatusOK {
			return r, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
	}
	slices.Sort(lat)
	r.n = len(lat)
	r.p50, r.p99, r.max = benchQuantile(lat, 0.50), benchQuantile(lat, 0.99), lat[len(lat)-1]
	return r, nil
}

// benchQuantile of sorted durations, nearest rank.
func benchQuantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
