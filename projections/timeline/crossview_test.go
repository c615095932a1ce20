package timeline

import (
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/domain/scenario"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/history"
)

// TestCardHidesWhatTheHistoryHides: the card judges each interaction with the reader's
// rule (domain.Reader.CanSee) over what its own items hold; the history judges it over its
// own fold of the same events. For a scenario's stream (transfers, queues, late and
// duplicate events, merges) applied to both views, every reader of every role sees on
// every customer's card exactly the interactions the history lets them open, and the
// card's counts and chats tab agree.
func TestCardHidesWhatTheHistoryHides(t *testing.T) {
	s, err := scenario.New(scenario.Config{Seed: 11, Now: scenarioNow, Interactions: 800})
	must(t, err)
	evs, err := scenarioApplied(11, 800)
	must(t, err)
	hdb, err := projections.OpenDB(filepath.Join(t.TempDir(), "history.db"), projections.Options{NoSync: true})
	must(t, err)
	defer hdb.Close()
	hv := history.New(hdb, history.Options{Region: "US"})
	must(t, hdb.Update(hv.Init))
	h := newHarness(t)
	customers := map[string]bool{}
	for i := 0; i < len(evs); i += 500 {
		batch := evs[i:min(i+500, len(evs))]
		h.applyBatch(batch)
		must(t, hdb.Update(func(tx *bolt.Tx) error { return hv.Apply(tx, batch) }))
		for _, a := range batch {
			customers[a.Event.CustomerID] = true
		}
	}

	readers := map[domain.Role][]domain.Reader{}
	for _, a := range s.Agents() {
		if rd, ok := s.Reader(a.AgentID); ok && rd.HistoryAccess && len(readers[rd.Role]) < 4 {
			readers[rd.Role] = append(readers[rd.Role], rd)
		}
	}
	for _, role := range []domain.Role{domain.RoleCollaborator, domain.RoleManager, domain.RoleAdministrator} {
		if len(readers[role]) == 0 {
			t.Fatalf("the scenario has no %s with history access", role)
		}
	}
	shown, hidden := 0, 0
	for _, role := range []domain.Role{domain.RoleCollaborator, domain.RoleManager, domain.RoleAdministrator} {
		for _, rd := range readers[role] {
			for c := range customers {
				var ids []string
				kinds := map[string]Kind{}
				for _, it := range h.timeline(c) {
					if it.InteractionID != "" {
						ids = append(ids, it.InteractionID)
						kinds[it.InteractionID] = Kind(it.Kind)
					}
				}
				if len(ids) == 0 {
					continue
				}
				ok, err := hv.Visible(rd, ids)
				must(t, err)
				var want []string
				wantCounts := map[Kind]int{}
				var wantChats []string
				for i, id := range ids {
					if ok[i] {
						want = append(want, id)
						wantCounts[kinds[id]]++
						if kinds[id] == KindChat {
							wantChats = append(wantChats, id)
						}
					}
				}
				shown, hidden = shown+len(want), hidden+len(ids)-len(want)
				p, err := h.v.Read(c, Query{Limit: MaxLimit, Visible: rd.CanSee})
				must(t, err)
				var got []string
				for _, it := range p.Items {
					if it.InteractionID != "" {
						got = append(got, it.InteractionID)
					}
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%s %s on %s's card: %v, the history shows %v", role, rd.AgentID, c, got, want)
				}
				card, err := h.v.Card(c, rd.CanSee)
				must(t, err)
				for _, k := range []Kind{KindCall, KindEmail, KindSMS, KindChat} {
					if card.Counts[string(k)] != wantCounts[k] {
						t.Fatalf("%s %s on %s's card: %d %s, want %d", role, rd.AgentID, c, card.Counts[string(k)], k, wantCounts[k])
					}
				}
				chats, err := h.v.Chats(c, MaxLimit, "", rd.CanSee)
				must(t, err)
				var gotChats []string
				for _, ch := range chats.Items {
					gotChats = append(gotChats, ch.InteractionID)
				}
				if !slices.Equal(gotChats, wantChats) {
					t.Fatalf("%s %s on %s's chats tab: %v, want %v", role, rd.AgentID, c, gotChats, wantChats)
				}
			}
		}
	}
	if shown == 0 || hidden == 0 {
		t.Fatalf("%d interactions shown and %d hidden in all: the readers do not tell anything apart", shown, hidden)
	}
	t.Logf("%d shown, %d hidden", shown, hidden)
}
