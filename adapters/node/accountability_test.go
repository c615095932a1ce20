package node

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/projections/auditindex"
)

// TestAccountabilityEndToEnd: `ledger serve` records reads in the access log and seals
// the stream as it grows; after an erasure and a shutdown, `ledger verify` finds every
// event as sealed, the erased ones as lawful gaps.
func TestAccountabilityEndToEnd(t *testing.T) {
	dir := t.TempDir()
	in := startLedgerWith(t, Config{DataDir: dir, SealInterval: 20 * time.Millisecond})
	seedCardReader(t, in)
	ing := token(t, "svc", auth.ScopeIngest, auth.ScopeErase)
	evs := []map[string]any{
		ev("interaction.started", "cus-a", 30, map[string]any{"interaction_id": "call-a", "flow": "voice", "direction": "incoming", "routing": "direct", "agent_id": "ann"}),
		ev("interaction.started", "cus-b", 20, map[string]any{"interaction_id": "call-b", "flow": "voice", "direction": "incoming", "routing": "direct", "agent_id": "ann"}),
	}
	if code := in.do("POST", "/v1/events", ing, evs, nil); code != 200 {
		t.Fatalf("post = %d", code)
	}
	read := token(t, "ann", auth.ScopeHistoryRead)
	eventually(t, "call-a readable", func() (bool, string) {
		var d struct {
			VisibleBecause []struct{ Rule string } `json:"visible_because"`
		}
		code := in.do("GET", "/v1/interactions/call-a", read, nil, &d)
		return code == 200 && len(d.VisibleBecause) == 1 && d.VisibleBecause[0].Rule == "own", fmt.Sprint(code, d)
	})
	// The detail page says why, and is recorded like the API's detail.
	req, err := http.NewRequest("GET", in.base+"/interactions/call-a", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: "ledger_session", Value: read})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !strings.Contains(string(page), "You handle it") {
		t.Errorf("detail page = %d %v, want 200 saying why ann sees it:\n%s", resp.StatusCode, err, page)
	}
	eventually(t, "ann's reads in cus-a's access log", func() (bool, string) {
		var log struct {
			Items []struct {
				AgentID string `json:"agent_id"`
				Action  string `json:"action"`
			}
		}
		code := in.do("GET", "/v1/customers/cus-a/access-log", token(t, "dpo", auth.ScopeAudit), nil, &log)
		var actions []string
		for _, e := range log.Items {
			if e.AgentID == "ann" {
				actions = append(actions, e.Action)
			}
		}
		return code == 200 && slices.Contains(actions, "detail") && slices.Contains(actions, "page:detail"), fmt.Sprint(code, log)
	})
	// Once the audit's index has read the records, the log comes from it, the same.
	ops := token(t, "ops", auth.ScopeOps)
	eventually(t, "the audit's index caught up", func() (bool, string) {
		var st Status
		if code := in.do("GET", "/v1/admin/status", ops, nil, &st); code != 200 {
			return false, fmt.Sprint("status ", code)
		}
		for _, v := range st.Views {
			if v.Name == auditindex.Name {
				return v.Checkpoint > 0 && v.LagEvents == 0, fmt.Sprintf("%+v", v)
			}
		}
		return false, fmt.Sprintf("no view %s in %+v", auditindex.Name, st.Views)
	})
	type entry struct {
		AgentID string `json:"agent_id"`
		Action  string `json:"action"`
	}
	var indexed struct{ Items []entry }
	code := in.do("GET", "/v1/customers/cus-a/access-log", token(t, "dpo", auth.ScopeAudit), nil, &indexed)
	if code != 200 || !slices.Contains(indexed.Items, entry{"ann", "page:detail"}) {
		t.Errorf("cus-a's access log through the index = %d %+v, want ann's page:detail", code, indexed)
	}
	if code := in.do("POST", "/v1/events", ing, ev("customer.erased", "cus-b", 0, map[string]any{}), nil); code != 202 {
		t.Fatalf("post erase = %d", code)
	}
	eventually(t, "call-b erased from every file", func() (bool, string) {
		hits := filesHolding(t, dir, `"call-b"`, `"cus-b"`)
		return len(hits) == 0, strings.Join(hits, "; ")
	})
	in.stop()
	var out strings.Builder
	if err := Verify(context.Background(), Config{DataDir: dir}, nil, &out); err != nil {
		t.Fatalf("verify: %v\n%s", err, out.String())
	}
	// The two directory records and call-a remain; call-b and the erase event are gaps,
	// redacted when the sealer had sealed them before the eraser came (it seals every
	// 20 ms), never sealed otherwise: either way lawful.
	if !strings.Contains(out.String(), "ok: the stream is as sealed") || !strings.Contains(out.String(), "verified 3,") ||
		!strings.Contains(out.String(), "not yet sealed 0") {
		t.Errorf("verify report:\n%s\nwant ok, 3 verified, everything sealed", out.String())
	}
}
