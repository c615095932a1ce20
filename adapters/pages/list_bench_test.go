package pages_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/httpapi/apitest"
	"github.com/interaction-ledger/ledger/adapters/pages"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/directory"
	"github.com/interaction-ledger/ledger/projections/history"
	"github.com/interaction-ledger/ledger/projections/history/historytest"
)

// TestMain registers the benchmark's flags: the data set (historytest.Main).
func TestMain(m *testing.M) { historytest.Main(m, 2_000_000) }

// BenchmarkListPage (issue 12, item 7): GET / as each role, server-side (the handler
// from the session cookie to the rendered HTML, into a recorder), over the data set:
// the default list (today, newest first) and a filtered three-month list sorted by a
// column. Reports the p50 and p99 of the requests.
//
//	go test ./adapters/pages/ -run '^$' -bench ListPage -benchtime 200x -args -history.interactions=2000000 -history.file=/tmp/history-2m.db
func BenchmarkListPage(b *testing.B) {
	end := historytest.End()
	hv, _ := historytest.OpenFlagged(b, func(db *projections.DB) *history.View {
		return history.New(db, history.Options{Region: "FR"})
	})
	secret := strings.Repeat("s", 32)
	h := newHandler(b, func(c *pages.Config) {
		c.History, c.Directory, c.Now = hv, benchDirectory(b, end), func() time.Time { return end }
	})
	threeMonths := "?from=" + end.AddDate(0, 0, -89).Format(time.DateOnly) + "&to=" + end.Format(time.DateOnly)
	for _, tc := range []struct{ name, agent, query string }{
		{"collaborator/today", "ag010", ""},
		{"manager/today", "mgr", ""},
		{"administrator/today", "adm", ""},
		{"manager/3months/queue+status/sort=agent_id", "mgr", threeMonths + "&queue_id=q02&status=aborted&sort=agent_id&order=asc"},
		{"administrator/3months/flow+direction/sort=agent_id", "adm", threeMonths + "&flow=voice&direction=incoming&sort=agent_id&order=asc"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cookie := &http.Cookie{Name: "ledger_session", Value: apitest.Token(b, secret, tc.agent, auth.ScopeHistoryRead)}
			var lat []time.Duration
			rows := 0
			for b.Loop() {
				req := httptest.NewRequest("GET", "/"+tc.query, nil)
				req.AddCookie(cookie)
				w := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(w, req)
				lat = append(lat, time.Since(start))
				if w.Code != http.StatusOK {
					b.Fatalf("GET /%s as %s: %d %s", tc.query, tc.agent, w.Code, w.Body.String())
				}
				rows = strings.Count(w.Body.String(), "<tr") - 1 // the header row
			}
			slices.Sort(lat)
			at := func(q float64) float64 { return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))]) / 1e6 }
			b.ReportMetric(float64(rows), "rows")
			b.ReportMetric(at(0.50), "p50-ms")
			b.ReportMetric(at(0.99), "p99-ms")
		})
	}
}

// benchDirectory records the benchmark's agents: ag010 (collaborator), mgr (manager of
// ag010…ag019) and adm (administrator), whose profile covers queues q01…q04 (every flow
// for the manager, three for the administrator), as historytest's readers.
func benchDirectory(b *testing.B, end time.Time) *directory.View {
	b.Helper()
	var events []projections.Applied
	add := func(typ domain.EventType, data map[string]any) {
		ev, err := domain.NewEventFromData(uuid.NewString(), typ, end.AddDate(0, 0, -1), "", "bench", data, end)
		if err != nil {
			b.Fatalf("directory event %s: %v", typ, err)
		}
		events = append(events, projections.Applied{Seq: uint64(len(events) + 1), Event: ev})
	}
	queues := []string{"q01", "q02", "q03", "q04"}
	add(domain.TypeDirectoryProfile, map[string]any{"profile_id": "p-mgr", "queues": queues, "flows": strs(domain.Flows()), "history_access": true})
	add(domain.TypeDirectoryProfile, map[string]any{"profile_id": "p-adm", "queues": queues, "flows": []string{"voice", "email", "sms"}, "history_access": true})
	add(domain.TypeDirectoryProfile, map[string]any{"profile_id": "p-col", "queues": []string{}, "history_access": true})
	add(domain.TypeDirectoryTeam, map[string]any{"team_id": "t1", "manager_ids": []string{"mgr"}})
	add(domain.TypeDirectoryAgent, map[string]any{"agent_id": "mgr", "role": "manager", "active_profile_id": "p-mgr"})
	add(domain.TypeDirectoryAgent, map[string]any{"agent_id": "adm", "role": "administrator", "active_profile_id": "p-adm"})
	for i := 10; i < 20; i++ {
		add(domain.TypeDirectoryAgent, map[string]any{"agent_id": fmt.Sprintf("ag%03d", i), "role": "collaborator", "team_id": "t1", "active_profile_id": "p-col"})
	}
	db, err := projections.OpenDB(filepath.Join(b.TempDir(), "directory-bench.db"), projections.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	dir := directory.New(db)
	if err := db.Update(func(tx *bolt.Tx) error {
		if err := dir.Init(tx); err != nil {
			return err
		}
		return dir.Apply(tx, events)
	}); err != nil {
		b.Fatal(err)
	}
	return dir
}

func strs[T interface{ String() string }](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out
}
