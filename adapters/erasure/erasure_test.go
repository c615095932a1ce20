package erasure_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/interaction-ledger/ledger/adapters/erasure"
	"github.com/interaction-ledger/ledger/adapters/viewsource"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/eventstore/storetest"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/history"
	"github.com/interaction-ledger/ledger/projections/timeline"
)

// ledgerUnderTest is the event store and the history and timeline views, each run by
// its projections.Runner as a ledger node runs them, on one data directory.
type ledgerUnderTest struct {
	dir   string
	store *eventstore.Store
	views []*projections.Runner
	tl    *timeline.View
}

var viewSpecs = []struct {
	name string
	New  func(*projections.DB) projections.View
}{
	{history.Name, func(db *projections.DB) projections.View { return history.New(db, history.Options{}) }},
	{timeline.Name, func(db *projections.DB) projections.View { return timeline.New(db) }},
}

func openRunner(t *testing.T, l *ledgerUnderTest, path string, New func(*projections.DB) projections.View) *projections.Runner {
	t.Helper()
	r, err := projections.OpenRunner(projections.RunnerConfig{Path: path, New: New,
		Log: viewsource.New(l.store, 0), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func openLedger(t *testing.T) *ledgerUnderTest {
	t.Helper()
	dir := t.TempDir()
	l := &ledgerUnderTest{dir: dir, store: storetest.Open(t, dir)}
	if err := os.MkdirAll(filepath.Join(dir, "views"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, sp := range viewSpecs {
		r := openRunner(t, l, filepath.Join(dir, "views", sp.name+".db"), sp.New)
		if tl, ok := r.View().(*timeline.View); ok {
			l.tl = tl
		}
		l.views = append(l.views, r)
	}
	return l
}

// runProjectors runs every projector until stop is called or the test ends.
func (l *ledgerUnderTest) runProjectors(t *testing.T) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, v := range l.views {
		wg.Go(func() {
			if err := v.Run(ctx); err != nil {
				t.Errorf("projector %s: %v", v.Name(), err)
			}
		})
	}
	stop = func() { cancel(); wg.Wait() }
	t.Cleanup(stop)
	return stop
}

// waitReady waits until every projector has finished its start-up checks.
func (l *ledgerUnderTest) waitReady(t *testing.T) {
	t.Helper()
	for _, v := range l.views {
		select {
		case <-v.Ready():
		case <-time.After(30 * time.Second):
			t.Fatalf("view %s not ready within 30s", v.Name())
		}
	}
}

// waitApplied waits until every view has applied the stream up to seq.
func (l *ledgerUnderTest) waitApplied(t *testing.T, seq uint64) {
	t.Helper()
	for _, v := range l.views {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := v.WaitCheckpoint(ctx, seq)
		cancel()
		if err != nil {
			t.Fatalf("view %s has not applied seq %d: %v", v.Name(), seq, err)
		}
	}
}

// eraserViews are the runners, as a ledger node hands them to its eraser.
func (l *ledgerUnderTest) eraserViews() []erasure.View {
	var out []erasure.View
	for _, v := range l.views {
		out = append(out, v)
	}
	return out
}

// rebuild replays the stream into fresh files under the data directory (so that the
// final walk searches them too) and returns the rebuilt timeline.
func (l *ledgerUnderTest) rebuild(t *testing.T) *timeline.View {
	t.Helper()
	var tl *timeline.View
	for _, sp := range viewSpecs {
		r := openRunner(t, l, filepath.Join(l.dir, "views", "rebuilt-"+sp.name+".db"), sp.New)
		if _, err := r.Replay(context.Background(), nil, nil); err != nil {
			t.Fatal(err)
		}
		if x, ok := r.View().(*timeline.View); ok {
			tl = x
		}
	}
	return tl
}

// envelope builds a valid envelope (checked with the domain's own decoder).
func envelope(t *testing.T, typ, customer string, at time.Time, data any) eventstore.Message {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"id": uuid.Must(uuid.NewV7()).String(), "type": typ,
		"occurred_at": at.UTC().Format(time.RFC3339), "customer_id": customer, "source": "test", "data": data})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := domain.DecodeStored(raw, time.Now())
	if err != nil {
		t.Fatalf("test envelope %s is invalid: %v", typ, err)
	}
	return eventstore.Message{ID: ev.ID, Subject: eventstore.Subject(ev), Data: raw}
}

func appendAll(t *testing.T, s *eventstore.Store, msgs ...eventstore.Message) uint64 {
	t.Helper()
	res, err := s.Append(context.Background(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	for i, r := range res {
		if r.Err != nil || r.Duplicate {
			t.Fatalf("append %d: %+v", i, r)
		}
		last = r.Seq
	}
	return last
}

// A person, with the personal data the test looks for in every file.
type person struct {
	customer, phone, email, name, note string
	// needles: every form in which their data may have been stored.
	needles []string
}

func newPerson(customer, phone, e164, email, name, note string) person {
	digits := strings.TrimPrefix(e164, "+")
	rev := []byte(digits)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	national := digits[len(digits)-10:]
	return person{customer: customer, phone: phone, email: email, name: name, note: note,
		needles: []string{customer, phone, e164, digits, national, string(rev), // history indexes reversed digits
			national[:3] + "-" + national[3:6] + "-" + national[6:], "(" + national[:3] + ") " + national[3:6] + "-" + national[6:],
			national[:3] + " " + national[3:6] + " " + national[6:],
			strings.ToLower(email), name, note}}
}

func (p person) events(t *testing.T, at time.Time) []eventstore.Message {
	call := uuid.NewString()
	return []eventstore.Message{
		envelope(t, "interaction.started", p.customer, at, map[string]any{"interaction_id": call, "flow": "voice",
			"direction": "incoming", "routing": "direct", "agent_id": "agent-1",
			"contact":      map[string]any{"phone": p.phone, "email": p.email},
			"participants": []map[string]any{{"role": "customer", "id": p.customer, "name": p.name}}}),
		envelope(t, "interaction.ended", p.customer, at.Add(time.Minute), map[string]any{"interaction_id": call, "status": "processed"}),
		envelope(t, "interaction.started", p.customer, at.Add(2*time.Minute), map[string]any{"interaction_id": uuid.NewString(),
			"flow": "email", "direction": "outgoing", "routing": "direct", "contact": map[string]any{"email": p.email}}),
		envelope(t, "note.added", p.customer, at.Add(3*time.Minute), map[string]any{"note_id": uuid.NewString(), "text": p.note, "author_id": "agent-1"}),
		envelope(t, "customer.updated", p.customer, at.Add(4*time.Minute), map[string]any{"changes": map[string]any{
			"name": map[string]any{"from": "", "to": p.name}, "email": map[string]any{"from": "", "to": p.email}}}),
		// Not an envelope (a producer's mistake on NATS): both projectors set it aside.
		{ID: uuid.NewString(), Subject: "ledger.events.note.added",
			Data: []byte(`{"id":"broken","type":"note.added","customer_id":"` + p.customer + `","data":{"text":"` + p.note + ` (resent)", "phone":"` + p.phone + `"`)},
	}
}

func TestEraseRemovesTheCustomerEverywhere(t *testing.T) {
	l := openLedger(t)
	stopProjectors := l.runProjectors(t)
	at := time.Now().Add(-48 * time.Hour).Truncate(time.Second)

	erased := newPerson("tel:+14155550142", "+1 415 555 0142", "+14155550142", "Secret.Person@example.com", "Secreta Persona", "the-secret-note-text")
	alias := newPerson("cust-alias-7", "+1 415 555 0177", "+14155550177", "Secret.Alias@example.com", "Alias Persona", "the-alias-note-text")
	other := newPerson("tel:+12125550199", "+1 212 555 0199", "+12125550199", "Other.Person@example.com", "Otto Other", "the-other-note-text")

	appendAll(t, l.store, other.events(t, at)...)
	appendAll(t, l.store, erased.events(t, at)...)
	appendAll(t, l.store, alias.events(t, at.Add(time.Hour))...)
	appendAll(t, l.store, envelope(t, "customer.merged", erased.customer, at.Add(2*time.Hour), map[string]any{"from_customer_id": alias.customer}))
	beforeSeq := appendAll(t, l.store, other.events(t, at.Add(3*time.Hour))...)

	// The views commit the data in batches before the erase event (had a batch held both,
	// the data would never reach a page and the test would prove nothing about free pages).
	l.waitApplied(t, beforeSeq)
	for _, v := range l.views {
		if b, _ := os.ReadFile(v.DB().Path()); findAny(b, erased.needles) == "" || findAny(b, alias.needles) == "" {
			t.Fatalf("view %s does not hold the data to erase", v.Name())
		}
	}
	eraseSeq := appendAll(t, l.store, envelope(t, "customer.erased", erased.customer, at.Add(4*time.Hour), map[string]any{}))

	rep, stop := l.eraseOnce(t)
	// Right away, before any later batch could reuse (overwrite) the views' free pages.
	checkFiles(t, l.dir, []person{erased, alias}, other)
	// Appended after the erasure: must stay, and be projected after the swaps.
	lateSeq := appendAll(t, l.store, other.events(t, at.Add(5*time.Hour))[:1]...)
	stop()
	if rep.Seq != eraseSeq || rep.Customers != 2 {
		t.Errorf("report: got seq %d customers %d, want seq %d customers 2", rep.Seq, rep.Customers, eraseSeq)
	}
	// erased and alias: 6 messages each, the merge, the erase event.
	if got, want := rep.Events, 6+6+1+1; got != want {
		t.Errorf("erased events: got %d, want %d", got, want)
	}
	if got, want := rep.Dead, 4; got != want { // one broken message each, set aside by two views
		t.Errorf("erased dead letters: got %d, want %d", got, want)
	}
	t.Logf("report: %+v", rep)

	l.waitApplied(t, lateSeq) // after the swaps

	// The streams: nothing of the erased customers, everything of the other.
	for _, stream := range []string{eventstore.StreamEvents, eventstore.StreamDead} {
		var kept int
		err := l.store.Read(context.Background(), stream, 1, 1000, func(_ context.Context, ds []eventstore.Delivery) error {
			for _, d := range ds {
				for _, p := range []person{erased, alias} {
					if n := findAny(d.Data, p.needles); n != "" {
						t.Errorf("%s seq %d still holds %q: %s", stream, d.Seq, n, d.Data)
					}
				}
				if findAny(d.Data, other.needles) != "" {
					kept++
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]int{eventstore.StreamEvents: 6*2 + 1, eventstore.StreamDead: 2 * 2}[stream]; kept != want {
			t.Errorf("%s: got %d messages of the other customer, want %d", stream, kept, want)
		}
	}

	// The views, live and rebuilt from the stream.
	rebuilt := l.rebuild(t)
	for name, tl := range map[string]*timeline.View{"live": l.tl, "rebuilt": rebuilt} {
		for _, c := range []string{erased.customer, alias.customer} {
			page, err := tl.Timeline(c, nil, 100, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) != 0 {
				t.Errorf("%s timeline of an erased customer: got %d items, want none", name, len(page.Items))
			}
		}
		page, err := tl.Timeline(other.customer, nil, 100, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) == 0 {
			t.Errorf("%s timeline of the other customer is empty", name)
		}
	}

	// Every file of the data directory, while running and after a clean shutdown.
	checkFiles(t, l.dir, []person{erased, alias}, other)
	stopProjectors()
	for _, v := range l.views {
		v.Close()
	}
	if err := l.store.Close(); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, l.dir, []person{erased, alias}, other)
}

// checkFiles walks dir: no file holds any needle of gone (case-insensitive), and the
// other person's note is found both in the JetStream files and in the view files (so the
// search is proven to work on both).
func checkFiles(t *testing.T, dir string, gone []person, kept person) {
	t.Helper()
	foundIn := map[string]bool{}
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		// JetStream writes a consumer's state to a temporary file and renames it over the
		// old one while the ledger runs: a file listed a moment ago may be gone. What it
		// held is in the file it was renamed to.
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		files++
		rel, _ := filepath.Rel(dir, path)
		for _, p := range gone {
			if n := findAny(b, p.needles); n != "" {
				t.Errorf("%s holds %q of an erased customer", rel, n)
			}
		}
		if findAny(b, []string{kept.note}) != "" {
			foundIn[strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"nats", "views"} {
		if !foundIn[sub] {
			t.Errorf("the other customer's note is in no file under %s/ (searched %d files): the search does not work", sub, files)
		}
	}
}

// findAny returns the first needle found in b, case-insensitively, or "".
func findAny(b []byte, needles []string) string {
	lb := bytes.ToLower(b)
	for _, n := range needles {
		if n != "" && bytes.Contains(lb, []byte(strings.ToLower(n))) {
			return n
		}
	}
	return ""
}

// flakyView fails its first WaitCheckpoint: the erasure must be retried, not lost.
type flakyView struct {
	erasure.View
	failed atomic.Bool
}

func (f *flakyView) WaitCheckpoint(ctx context.Context, seq uint64) error {
	if f.failed.CompareAndSwap(false, true) {
		return errors.New("view unavailable (test)")
	}
	return f.View.WaitCheckpoint(ctx, seq)
}

func TestEraseIsRetriedAfterAFailure(t *testing.T) {
	l := openLedger(t)
	l.runProjectors(t)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	p := newPerson("tel:+14155550142", "+1 415 555 0142", "+14155550142", "Secret.Person@example.com", "Secreta Persona", "the-secret-note-text")
	appendAll(t, l.store, p.events(t, at)[:4]...)
	seq := appendAll(t, l.store, envelope(t, "customer.erased", p.customer, at.Add(time.Minute), map[string]any{}))

	views := l.eraserViews()
	flaky := &flakyView{View: views[0]}
	views[0] = flaky
	r := eraseOnce(t, erasure.Config{Store: l.store, Views: views, RetryMin: 50 * time.Millisecond})
	if r.Seq != seq || r.Events != 5 {
		t.Errorf("report: got %+v, want seq %d and 5 events", r, seq)
	}
	if !flaky.failed.Load() {
		t.Error("the first attempt did not fail")
	}
}

// eraseOnce runs an Eraser of cfg until it reports its first erasure (within 30 s), then
// stops it and returns the report.
func eraseOnce(t *testing.T, cfg erasure.Config) erasure.Report {
	t.Helper()
	reports := make(chan erasure.Report, 1)
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.OnErased = func(r erasure.Report) { reports <- r }
	e, err := erasure.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- e.Run(ctx) }()
	var r erasure.Report
	select {
	case r = <-reports:
	case err := <-runErr:
		t.Fatalf("Run returned before an erasure: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no erasure within 30s")
	}
	cancel()
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	return r
}

func TestConfigValidate(t *testing.T) {
	_, err := erasure.New(erasure.Config{Views: []erasure.View{nil}, ReadBatch: -1})
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"Store is required", "Views[0] is nil", "ReadBatch -1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not report %q", err, want)
		}
	}
}

// TestEraseScansTheDirectoryStream: a customer's event published on a directory subject
// is copied into LEDGER_DIRECTORY, which never expires; erasure finds it there too.
func TestEraseScansTheDirectoryStream(t *testing.T) {
	l := openLedger(t)
	l.runProjectors(t)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	p := newPerson("tel:+14155550142", "+1 415 555 0142", "+14155550142", "Secret.Person@example.com", "Secreta Persona", "the-secret-note-text")
	lie := p.events(t, at)[0]
	lie.Subject = "ledger.events.directory.agent"
	agent := envelope(t, "directory.agent", "", at, map[string]any{"agent_id": "agent-1", "role": "manager", "name": "Ann Agent"})
	appendAll(t, l.store, lie, agent)
	waitFor(t, func() error {
		n, err := l.store.LastSeq(context.Background(), eventstore.StreamDirectory)
		if err == nil && n < 2 {
			err = fmt.Errorf("%s holds %d messages, want 2", eventstore.StreamDirectory, n)
		}
		return err
	})
	seq := appendAll(t, l.store, envelope(t, "customer.erased", p.customer, at.Add(time.Minute), map[string]any{}))

	if r := eraseOnce(t, erasure.Config{Store: l.store, Views: l.eraserViews()}); r.Seq != seq || r.Directory != 1 || r.Events != 2 {
		t.Errorf("report: got %+v, want seq %d, 2 events, 1 directory message", r, seq)
	}
	var kept []string
	err := l.store.Read(context.Background(), eventstore.StreamDirectory, 1, 100, func(_ context.Context, ds []eventstore.Delivery) error {
		for _, d := range ds {
			if n := findAny(d.Data, p.needles); n != "" {
				t.Errorf("%s seq %d still holds %q", eventstore.StreamDirectory, d.Seq, n)
			}
			kept = append(kept, string(d.Data))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 1 || !strings.Contains(kept[0], "Ann Agent") {
		t.Errorf("%s: got %q, want the agent record only", eventstore.StreamDirectory, kept)
	}
}

// waitFor polls check until it returns nil, for at most 30 s.
func waitFor(t *testing.T, check func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within 30s: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
