package node

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/interaction-ledger/ledger/adapters/viewsource"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/history"
)

// openTestLedger assembles the ledger over dir without HTTP, with the given clock.
func openTestLedger(t testing.TB, dir string, now func() time.Time) *Node {
	t.Helper()
	cfg := Config{DataDir: dir, AuthSecret: testSecret, Region: "US", Replicas: 1, Now: now}
	l, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// runUntilCaughtUp runs the projectors until every view reached its stream's last seq.
func runUntilCaughtUp(t *testing.T, l *Node) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = l.RunProjectors(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for _, v := range l.Views() {
		<-v.Ready() // checked against the stream, rebuilt if need be
	}
	eventually(t, "views caught up", func() (bool, string) {
		st, err := l.Status(context.Background())
		if err != nil {
			return false, err.Error()
		}
		for _, v := range st.Views {
			if v.LagEvents != 0 {
				return false, v.Name + " lags"
			}
		}
		return true, ""
	})
}

func appendFixture(t *testing.T, l *Node, envs []map[string]any) {
	t.Helper()
	raws := make([][]byte, len(envs))
	for i, e := range envs {
		raws[i] = mustJSON(t, e)
	}
	out, err := l.ingest.Ingest(context.Background(), raws)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		if o.Status == "rejected" {
			t.Fatalf("fixture event rejected: %+v", o)
		}
	}
}

var admin = domain.Reader{AgentID: "root", Role: domain.RoleAdministrator, HistoryAccess: true,
	ProfileQueues: []string{"sales", "support"}, ProfileFlows: domain.Flows()}

// everything lists every interaction an all-seeing administrator can see in the window.
func everything(t *testing.T, l *Node) []history.Item {
	t.Helper()
	q := history.Query{From: time.Now().Add(-24 * time.Hour), To: time.Now().Add(time.Hour), Limit: 500, Sort: "start_at", Desc: true}
	p, err := l.hist.List(admin, q)
	if err != nil {
		t.Fatal(err)
	}
	return p.Items
}

// errCrash stands for the process dying after the view committed and before the ack.
var errCrash = errors.New("crash between commit and ack")

// crashingSource acknowledges batches normally until the one that reaches crashAt,
// which it commits and then "dies" without acknowledging.
type crashingSource struct {
	*viewsource.Source
	crashAt uint64
}

func (c crashingSource) Consume(ctx context.Context, stream, durable string, after uint64, handle func(context.Context, []projections.Message) error) error {
	return c.Source.Consume(ctx, stream, durable, after, func(ctx context.Context, ms []projections.Message) error {
		if err := handle(ctx, ms); err != nil {
			return err
		}
		if ms[len(ms)-1].Seq >= c.crashAt {
			return errCrash // committed, never acknowledged
		}
		return nil
	})
}

func TestProjectorCrashBetweenCommitAndAck(t *testing.T) {
	dir := t.TempDir()
	l := openTestLedger(t, dir, nil)
	appendFixture(t, l, theFixture())
	last, _ := l.store.LastSeq(context.Background(), eventstore.StreamEvents)
	h := l.View(history.Name)
	proj, err := projections.NewProjector(projections.ProjectorConfig{View: history.New(h.DB(), history.Options{}), DB: h.DB(),
		Source: crashingSource{viewsource.New(l.store, 0), last}, DeadLetters: viewsource.New(l.store, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := proj.Run(context.Background()); !errors.Is(err, errCrash) {
		t.Fatalf("Run = %v, want the simulated crash", err)
	}
	cp, _ := h.DB().Checkpoint()
	if cp != last {
		t.Fatalf("checkpoint %d after the crashed batch, want %d (the commit happened)", cp, last)
	}
	want := everything(t, l)
	if len(want) != 5 {
		t.Fatalf("before the restart the view holds %d interactions, want 5", len(want))
	}
	l.Close()

	// Restart: the unacknowledged batch is delivered again and must change nothing.
	l = openTestLedger(t, dir, nil)
	defer l.Close()
	runUntilCaughtUp(t, l)
	got := everything(t, l)
	if !slices.EqualFunc(got, want, func(a, b history.Item) bool { return a.InteractionID == b.InteractionID && a.Status == b.Status }) {
		t.Fatalf("after restart: %v, want %v", got, want)
	}
	d, err := l.hist.Get(admin, "call-2")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Events) != 3 {
		t.Fatalf("call-2 has %d events after redelivery, want 3 (nothing applied twice)", len(d.Events))
	}
}

func TestPoisonMessageIsSetAside(t *testing.T) {
	l := openTestLedger(t, t.TempDir(), nil)
	defer l.Close()
	nc, err := l.store.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := nc.JetStream()
	publish := func(subject, id string, data []byte) {
		t.Helper()
		m := nats.NewMsg(subject)
		m.Header.Set(nats.MsgIdHdr, id)
		m.Data = data
		if _, err := js.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	publish("ledger.events.interaction.started", "bad-1", []byte(`{"id":"not-a-uuid","type":"interaction.started"}`))
	publish("ledger.events.interaction.started", "bad-2", []byte(`not json at all`))
	good := ev("interaction.started", "cus-9", 1, map[string]any{"interaction_id": "after-poison", "flow": "sms",
		"direction": "outgoing", "routing": "direct", "agent_id": "root"})
	publish("ledger.events.interaction.started", good["id"].(string), mustJSON(t, good))
	runUntilCaughtUp(t, l)

	if _, err := l.hist.Get(admin, "after-poison"); err != nil {
		t.Fatalf("the projector did not go on past the poison messages: %v", err)
	}
	page, err := l.store.DeadLetters(context.Background(), 0, 100)
	dl := page.Items
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, d := range dl {
		if d.View == history.Name {
			reasons = append(reasons, d.Reason)
		}
	}
	sort.Strings(reasons)
	if len(reasons) != 2 {
		t.Fatalf("history set aside %d envelopes (%v), want 2", len(reasons), reasons)
	}
	st, _ := l.Status(context.Background())
	if st.DeadLetters == 0 {
		t.Errorf("status reports no dead letters")
	}
}

func TestRetentionSweepsAndReplaySkips(t *testing.T) {
	clock := time.Now()
	now := func() time.Time { return clock }
	l := openTestLedger(t, t.TempDir(), now)
	defer l.Close()
	old := ev("interaction.started", "cus-old", 80*24*60, map[string]any{"interaction_id": "old-call", "flow": "voice",
		"direction": "incoming", "routing": "direct", "agent_id": "root"})
	recent := ev("interaction.started", "cus-new", 60, map[string]any{"interaction_id": "new-call", "flow": "voice",
		"direction": "incoming", "routing": "direct", "agent_id": "root"})
	note := ev("note.added", "cus-old", 80*24*60, map[string]any{"note_id": "n-old", "text": "old note"})
	dirAgent := ev("directory.agent", "", 80*24*60, map[string]any{"agent_id": "root", "role": "administrator"})
	appendFixture(t, l, []map[string]any{old, recent, note, dirAgent})
	// The directory stream is sourced from LEDGER asynchronously: wait for its copy.
	eventually(t, "directory stream sourced", func() (bool, string) {
		n, err := l.store.LastSeq(context.Background(), eventstore.StreamDirectory)
		return err == nil && n == 1, "not yet"
	})
	runUntilCaughtUp(t, l)
	if _, err := l.hist.Get(admin, "old-call"); err != nil {
		t.Fatalf("old-call before the window moved: %v", err)
	}

	clock = clock.AddDate(0, 0, 20) // old-call is now 100 days old: out of the 3-month window
	if err := l.sweepOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := l.hist.Get(admin, "old-call"); !errors.Is(err, history.ErrNotFound) {
		t.Errorf("old-call after the sweep: %v, want not found", err)
	}
	if _, err := l.hist.Get(admin, "new-call"); err != nil {
		t.Errorf("new-call after the sweep: %v", err)
	}
	if p, _ := l.tl.Timeline("cus-old", nil, 50, ""); len(p.Items) != 0 {
		t.Errorf("timeline of cus-old after the sweep: %v", p.Items)
	}
	if _, ok, _ := l.dir.Agent("root"); !ok {
		t.Errorf("the directory record expired; directory records never expire")
	}
	if l.lastSweep.Load() == nil {
		t.Errorf("last sweep not recorded")
	}

	// A replay under the moved clock skips what the window excludes.
	for _, name := range []string{history.Name, "timeline", "directory"} {
		if _, err := l.View(name).Replay(context.Background(), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.hist.Get(admin, "old-call"); !errors.Is(err, history.ErrNotFound) {
		t.Errorf("replay brought old-call back: %v", err)
	}
	if _, err := l.hist.Get(admin, "new-call"); err != nil {
		t.Errorf("replay lost new-call: %v", err)
	}
	if _, ok, _ := l.dir.Agent("root"); !ok {
		t.Errorf("replay lost the directory record")
	}
}
