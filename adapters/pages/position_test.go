package pages_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/pages"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/directory"
)

// TestPagesWaitForTheirOwnWrite: after a command, the page the agent is sent to names the
// position its event reached (?at=); on a node whose views have not applied it yet, the
// page waits for it (bounded) and, past the bound, says the change is on its way rather
// than silently showing the state before it.
func TestPagesWaitForTheirOwnWrite(t *testing.T) {
	ddb, err := projections.OpenDB(filepath.Join(t.TempDir(), "directory.db"), projections.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ddb.Close() })
	dir := directory.New(ddb)
	if err := ddb.Update(dir.Init); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var batch []projections.Applied
	for i, p := range []domain.Payload{
		&domain.ProfileData{ProfileID: "p", Queues: []string{"q"}, Flows: domain.Flows(), HistoryAccess: true},
		&domain.AgentData{AgentID: "ann", Role: domain.RoleManager, ActiveProfileID: "p"},
	} {
		typ := domain.TypeDirectoryProfile
		if i == 1 {
			typ = domain.TypeDirectoryAgent
		}
		ev, err := domain.NewEvent(uuid.NewString(), typ, now.Add(-time.Minute), "", "test", p, now)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, projections.Applied{Seq: uint64(i + 1), Subject: "ledger.events." + typ.String(), Event: ev})
	}
	if err := projections.Apply(ddb, dir, batch); err != nil {
		t.Fatal(err)
	}
	const applied = 100 // the position this node's views have reached
	var asked []uint64
	h := newHandler(t, func(c *pages.Config) {
		c.Directory = dir
		c.WaitPosition = func(ctx context.Context, seq uint64) error {
			asked = append(asked, seq)
			if seq <= applied {
				return nil
			}
			<-ctx.Done()
			return ctx.Err()
		}
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tok, err := auth.Mint(strings.Repeat("s", 32), "ann", []string{auth.ScopeHistoryRead}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.AddCookie(&http.Cookie{Name: "ledger_session", Value: tok})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s = %d: %.300s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	if body := get("/customers/c1?tab=tasks&done=complete&task=t1&at=42"); strings.Contains(body, "catching up") {
		t.Error("a position the node has applied: the page says it is catching up")
	}
	if body := get("/customers/c1?tab=tasks&at=500"); !strings.Contains(body, "catching up") {
		t.Error("a position the node has not applied: the page does not say the change is on its way")
	}
	if len(asked) != 2 || asked[0] != 42 || asked[1] != 500 {
		t.Errorf("the pages asked for positions %v, want [42 500]", asked)
	}
}
