package scenario

import (
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/domain"
)

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.4f, want %.4f ± %.4f", name, got, want, tol)
	}
}

// TestMix checks that the rates and mixes come out roughly as configured.
func TestMix(t *testing.T) {
	const n = 20000
	s := newScenario(t, Config{Seed: 7, Interactions: n})
	seen := map[string]bool{}
	var dups, total, ixEvents, reordered, customerEvents int
	maxAt := map[string]time.Time{} // per interaction, latest occurred_at delivered so far
	flows := map[domain.Flow]int{}
	var smart, voice, voiceTransferred, delivered, opened int
	routedCount := map[string]int{}
	messages := map[string]int{}
	voiceIDs := map[string]bool{}
	openedIDs := map[string]bool{}
	deliveredEmail := map[string]bool{}
	emails := map[string]bool{}
	var prev time.Time
	var late int
	for ev := range s.Events {
		if seen[ev.ID] {
			dups++
			continue
		}
		seen[ev.ID] = true
		total++
		if ev.OccurredAt.Before(prev.Add(-time.Hour)) {
			late++
		}
		if ev.OccurredAt.After(prev) {
			prev = ev.OccurredAt
		}
		ref, ok := ev.Payload.(domain.InteractionRef)
		if !ok {
			customerEvents++
			continue
		}
		id := ref.InteractionKey()
		ixEvents++
		if m, ok := maxAt[id]; ok && ev.OccurredAt.Before(m) {
			reordered++
		}
		if ev.OccurredAt.After(maxAt[id]) {
			maxAt[id] = ev.OccurredAt
		}
		switch d := ev.Payload.(type) {
		case *domain.StartedData:
			flows[d.Flow]++
			if d.Routing == domain.RoutingSmart {
				smart++
				if d.QueueID == "" {
					t.Errorf("smart interaction %s without queue", id)
				}
			}
			if d.Flow == domain.FlowVoice {
				voice++
				voiceIDs[id] = true
			}
			if d.Flow == domain.FlowEmail {
				emails[id] = true
			}
		case *domain.RoutedData:
			routedCount[id]++
			if voiceIDs[id] && strings.Contains(string(d.SRData), `"transferred_from"`) {
				voiceTransferred++
			}
		case *domain.MessageData:
			messages[id]++
		case *domain.EndedData:
			if emails[id] && d.Status == domain.StatusDelivered {
				delivered++
				deliveredEmail[id] = true
			}
		case *domain.OpenedData:
			if !openedIDs[id] && deliveredEmail[id] {
				opened++
			}
			openedIDs[id] = true
		}
	}
	started := 0
	for _, c := range flows {
		started += c
	}
	if started < n*99/100 {
		t.Errorf("%d interactions started, want about %d", started, n)
	}
	want := map[domain.Flow]float64{domain.FlowVoice: .45, domain.FlowEmail: .25, domain.FlowSMS: .08, domain.FlowWhatsApp: .08,
		domain.FlowWhatsAppCampaign: .02, domain.FlowTelegram: .02, domain.FlowChat: .07, domain.FlowMessenger: .03}
	for f, w := range want {
		near(t, "share of "+f.String(), float64(flows[f])/float64(started), w, 0.015)
	}
	near(t, "smart share", float64(smart)/float64(started), 0.65, 0.02)
	near(t, "duplicate rate", float64(dups)/float64(total), 0.02, 0.005)
	near(t, "reorder rate (interaction events)", float64(reordered)/float64(ixEvents), 0.03, 0.01)
	near(t, "voice transfers", float64(voiceTransferred)/float64(voice), 0.08, 0.02)
	near(t, "emails opened", float64(opened)/float64(delivered), 0.40, 0.04)
	near(t, "customer events per interaction", float64(customerEvents)/float64(n), 0.5, 0.06)
	for id, m := range messages {
		if m < 2 || m > 20 {
			t.Fatalf("dialogue %s has %d messages, want 2 to 20", id, m)
		}
	}
	t.Logf("%d events (%.2f per interaction), %d delivered more than an hour behind the latest", total,
		float64(total)/n, late)
}

// TestTasksConsistent checks that each task's events, in occurred order, follow the
// card's rules.
func TestTasksConsistent(t *testing.T) {
	s := newScenario(t, Config{Seed: 3, Interactions: 5000, CustomerEventsPerInteraction: 2})
	type step struct {
		at  time.Time
		typ domain.EventType
	}
	tasks := map[string][]step{}
	seen := map[string]bool{}
	for ev := range s.Events {
		if d, ok := ev.Payload.(*domain.TaskData); ok && !seen[ev.ID] {
			seen[ev.ID] = true
			tasks[d.TaskID] = append(tasks[d.TaskID], step{ev.OccurredAt, ev.Type})
		}
	}
	cmd := map[domain.EventType]domain.TaskCommand{domain.TypeTaskCreated: domain.TaskCreate, domain.TypeTaskUpdated: domain.TaskEdit,
		domain.TypeTaskCompleted: domain.TaskComplete, domain.TypeTaskReopened: domain.TaskReopen, domain.TypeTaskDeleted: domain.TaskDelete}
	reopened := 0
	for id, steps := range tasks {
		state := domain.TaskAbsent
		for i, st := range steps {
			if i > 0 && st.at.Before(steps[i-1].at) {
				t.Fatalf("task %s: events delivered out of order", id)
			}
			if _, err := domain.DecideTask(state, cmd[st.typ]); err != nil {
				t.Fatalf("task %s: %v (steps %v)", id, err, steps)
			}
			state = domain.TaskStateAfter(st.typ)
			if st.typ == domain.TypeTaskReopened {
				reopened++
			}
		}
	}
	if len(tasks) < 100 || reopened == 0 {
		t.Errorf("%d tasks, %d reopened: want more", len(tasks), reopened)
	}
}

// TestEveryRoleSees folds the interactions and checks who sees what with the directory.
func TestEveryRoleSees(t *testing.T) {
	s := newScenario(t, Config{Seed: 11, Interactions: 3000})
	folds := map[string]*domain.Interaction{}
	for ev := range s.Events {
		ref, ok := ev.Payload.(domain.InteractionRef)
		if !ok {
			continue
		}
		in := folds[ref.InteractionKey()]
		if in == nil {
			in = &domain.Interaction{}
			folds[ref.InteractionKey()] = in
		}
		in.Apply(ev)
	}
	roles := map[domain.Role]int{}
	for _, a := range s.Agents() {
		r, ok := s.Reader(a.AgentID)
		if !ok {
			t.Fatalf("no reader for %s", a.AgentID)
		}
		visible := 0
		for _, in := range folds {
			if r.CanSee(in.Visibility()) {
				visible++
			}
		}
		switch {
		case !a.HistoryAccess && visible > 0:
			t.Errorf("%s (%s, no history access) sees %d interactions", a.AgentID, a.Role, visible)
		case a.HistoryAccess && visible == 0:
			t.Errorf("%s (%s) sees no interaction", a.AgentID, a.Role)
		case a.HistoryAccess && visible == len(folds) && a.Role != domain.RoleAdministrator:
			t.Errorf("%s (%s) sees every interaction", a.AgentID, a.Role)
		}
		if a.HistoryAccess {
			roles[a.Role]++
		}
		if a.Role == domain.RoleManager && (len(a.ManagedTeamIDs) < 1 || len(a.ManagedTeamIDs) > 2) {
			t.Errorf("manager %s manages %d teams", a.AgentID, len(a.ManagedTeamIDs))
		}
	}
	for _, role := range domain.Roles() {
		if roles[role] == 0 {
			t.Errorf("no %s with history access", role)
		}
	}
	noAccess := 0
	for _, ev := range s.Directory() {
		if p, ok := ev.Payload.(*domain.ProfileData); ok && !p.HistoryAccess {
			noAccess++
		}
	}
	if noAccess != 1 {
		t.Errorf("%d profiles without history access, want 1", noAccess)
	}
}

// TestMemoryBounded compares the peak heap of two sizes: it must not grow with the
// number of interactions as the events would (ten times as many here).
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 110,000 interactions")
	}
	peak := func(n int) uint64 {
		s := newScenario(t, Config{Seed: 5, Interactions: n, Customers: 2500, Agents: 100})
		var ms runtime.MemStats
		var max uint64
		k := 0
		for range s.Events {
			if k++; k%10_000 == 0 {
				runtime.GC()
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > max {
					max = ms.HeapAlloc
				}
			}
		}
		return max
	}
	small, large := peak(10_000), peak(100_000)
	t.Logf("peak heap: %d KiB at 10k interactions, %d KiB at 100k", small>>10, large>>10)
	// 100k interactions make about 460k events, over 100 MiB if they were kept.
	if large > small+8<<20 {
		t.Errorf("peak heap grew from %d KiB to %d KiB", small>>10, large>>10)
	}
}

func TestStopEarly(t *testing.T) {
	s := newScenario(t, Config{Seed: 1, Interactions: 1000})
	n := 0
	for range s.Events {
		if n++; n == 10 {
			break
		}
	}
	if n != 10 {
		t.Fatalf("got %d events", n)
	}
}

func TestContactsStable(t *testing.T) {
	s := newScenario(t, Config{Seed: 9})
	for c := range 200 {
		p := s.person(c)
		want := p.e164()
		emails := map[string]bool{}
		for f := range 10 {
			digits := strings.Map(func(r rune) rune {
				if r >= '0' && r <= '9' {
					return r
				}
				return -1
			}, string(p.phone(nil, f)))
			if !strings.HasPrefix(string(p.phone(nil, f)), "+") {
				digits = "1" + digits // a US national format
			}
			if "+"+digits != want {
				t.Fatalf("customer %d: %q reads as +%s, want %s", c, p.phone(nil, f), digits, want)
			}
			emails[strings.ToLower(string(p.email(nil, f)))] = true
		}
		if len(emails) != 1 {
			t.Fatalf("customer %d has emails %v", c, emails)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field []string // what the error must mention
	}{
		{"defaults", Config{Now: testNow}, nil},
		{"no now", Config{}, []string{"now"}},
		{"everything wrong", Config{Now: testNow, Days: -1, Interactions: -5, Agents: 3, Teams: 1, Queues: 1, Profiles: 2,
			Customers: 5, DuplicateRate: 2, ReorderRate: math.NaN()},
			[]string{"days", "interactions", "agents", "teams", "queues", "profiles", "customers", "duplicate_rate", "reorder_rate"}},
		{"too few agents for teams", Config{Now: testNow, Agents: 20, Teams: 50}, []string{"agents is 20"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.field) == 0 {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("got nil error")
			}
			for _, f := range tt.field {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("error %q does not mention %q", err, f)
				}
			}
			if _, err := New(tt.cfg); err == nil || errors.Unwrap(err) == nil {
				t.Errorf("New accepted the config or lost the cause: %v", err)
			}
		})
	}
}

func TestPeriodClamped(t *testing.T) {
	s := newScenario(t, Config{Seed: 1, Days: 400, Interactions: 500})
	from, _ := s.Period()
	if want := domain.RetentionStart(testNow).Add(time.Hour); !from.Equal(want) {
		t.Fatalf("period starts %s, want %s", from, want)
	}
}
