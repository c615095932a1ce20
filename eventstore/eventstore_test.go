package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/eventstore/storetest"
)

// waitFor polls check until it returns nil or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	storetest.WaitFor(t, timeout, check)
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// envelope returns a ~520-byte envelope, as ingest would store it.
func envelope(id, typ string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"type":%q,"occurred_at":"2026-11-21T09:14:03Z","customer_id":"cust-42","source":"pbx-paris","data":{"interaction_id":"0193a5b2-7c1e-7f00-9a4b-3c2d1e0f5a6b","flow":"voice","direction":"incoming","routing":"smart","queue_id":"queue-support-fr","agent_id":"agent-0042","contact":{"phone":"+33123456789","email":"someone@example.com"},"voice_campaign":"autumn-renewals","participants":[{"role":"agent","id":"agent-0042","name":"Camille Martin"},{"role":"customer","id":"cust-42","name":"Dominique Durand"}]}}`, id, typ)
}

func msgs(prefix string, n int, subject string) []eventstore.Message {
	out := make([]eventstore.Message, n)
	for i := range out {
		id := fmt.Sprintf("%s-%d", prefix, i)
		out[i] = eventstore.Message{ID: id, Subject: subject, Data: envelope(id, "interaction.started")}
	}
	return out
}

func mustAppend(t testing.TB, s *eventstore.Store, ms []eventstore.Message) []eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(testCtx(t), ms)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if got, want := len(res), len(ms); got != want {
		t.Fatalf("Append: got %d results, want %d", got, want)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("Append: message %d (%s): %v", i, ms[i].ID, r.Err)
		}
	}
	return res
}

const subjStarted = "ledger.events.interaction.started"

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  eventstore.Config
		want []string // substrings of the error; none: valid
	}{
		{name: "embedded", cfg: eventstore.Config{DataDir: "d", Replicas: 1, MaxAge: time.Hour, DuplicateWindow: time.Minute, SyncInterval: time.Second, MaxInFlight: 1,
			DeadMaxAge: time.Hour, DeadMaxBytes: 1, DeadMaxMsgs: 1, PublishTimeout: time.Second}},
		{name: "cluster", cfg: eventstore.Config{URL: "nats://x:4222", Replicas: 3, MaxAge: time.Hour, DuplicateWindow: time.Minute, SyncInterval: time.Second, MaxInFlight: 1,
			DeadMaxAge: time.Hour, DeadMaxBytes: 1, DeadMaxMsgs: 1, CredsFile: "ledger.creds", PublishTimeout: 30 * time.Second}},
		{name: "zero value before defaults", cfg: eventstore.Config{},
			want: []string{"DataDir", "Replicas 0", "MaxAge", "DuplicateWindow", "SyncInterval", "MaxInFlight", "DeadMaxAge", "DeadMaxBytes", "DeadMaxMsgs", "PublishTimeout"}},
		{name: "embedded: creds file is for URL, operator credentials incomplete",
			cfg: eventstore.Config{DataDir: "d", Replicas: 1, MaxAge: time.Hour, DuplicateWindow: time.Minute, SyncInterval: time.Second, MaxInFlight: 1,
				DeadMaxAge: time.Hour, DeadMaxBytes: 1, DeadMaxMsgs: 1, CredsFile: "x.creds",
				Credentials: &eventstore.Credentials{Ledger: eventstore.User{Name: "l", Password: "short"}}},
			want: []string{"CredsFile", "ledger.password", "producer.user", "producer.password"}},
		{name: "publish timeout beyond half the duplicate window",
			cfg: eventstore.Config{DataDir: "d", Replicas: 1, MaxAge: time.Hour, DuplicateWindow: 20 * time.Second, SyncInterval: time.Second, MaxInFlight: 1,
				DeadMaxAge: time.Hour, DeadMaxBytes: 1, DeadMaxMsgs: 1, PublishTimeout: 11 * time.Second},
			want: []string{"PublishTimeout 11s: must be at most half of DuplicateWindow 20s"}},
		{name: "embedded cannot replicate, bad listen address, window beyond retention",
			cfg:  eventstore.Config{DataDir: "d", ListenAddr: "localhost", Replicas: 3, MaxAge: time.Minute, DuplicateWindow: time.Hour, SyncInterval: time.Second, MaxInFlight: 1},
			want: []string{"ListenAddr", "Replicas 3", "must not exceed MaxAge"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: got %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: got nil, want errors about %v", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate: got %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestOpenRejectsInvalidConfig(t *testing.T) {
	_, err := eventstore.Open(testCtx(t), eventstore.Config{DataDir: t.TempDir(), MaxInFlight: -1, SyncInterval: -1}, nil)
	if err == nil || !strings.Contains(err.Error(), "MaxInFlight") || !strings.Contains(err.Error(), "SyncInterval") {
		t.Fatalf("Open: got %v, want errors naming MaxInFlight and SyncInterval", err)
	}
}

func TestSubject(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	ev := func(typ domain.EventType, customer string, data any) domain.Event {
		t.Helper()
		e, err := domain.NewEventFromData("0193a5b2-7c1e-7f00-9a4b-3c2d1e0f5a6b", typ, now.Add(-time.Hour), customer, "test", data, now)
		if err != nil {
			t.Fatalf("NewEvent %s: %v", typ, err)
		}
		return e
	}
	key := eventstore.TaskSubjectFilter("cust-42", "t-1")[len("ledger.events.task.*."):]
	tests := []struct {
		name string
		ev   domain.Event
		want string
	}{
		{"interaction", ev(domain.TypeInteractionEnded, "cust-42", map[string]any{"interaction_id": "i-1", "status": "processed"}), "ledger.events.interaction.ended"},
		{"directory", ev(domain.TypeDirectoryTeam, "", map[string]any{"team_id": "team-1"}), "ledger.events.directory.team"},
		{"task keyed", ev(domain.TypeTaskCompleted, "cust-42", map[string]any{"task_id": "t-1"}), "ledger.events.task.completed." + key},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := eventstore.Subject(tt.ev); got != tt.want {
				t.Errorf("Subject: got %q, want %q", got, tt.want)
			}
		})
	}
	if len(key) != 33 || key[0] != 'k' {
		t.Errorf("task key %q: want \"k\" and 32 hex digits", key)
	}
	if a, b := eventstore.TaskSubjectFilter("cust-4", "2t-1"), eventstore.TaskSubjectFilter("cust-42", "t-1"); a == b {
		t.Errorf("TaskSubjectFilter: customer and task ids run together: %q", a)
	}
}

func TestAppendDedupeAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	s := storetest.Open(t, dir)
	ms := msgs("dup", 3, subjStarted)
	first := mustAppend(t, s, ms)
	for i, r := range first {
		if r.Duplicate || r.Seq != uint64(i+1) {
			t.Errorf("first append %d: got %+v, want seq %d, not duplicate", i, r, i+1)
		}
	}
	check := func(label string, s *eventstore.Store) {
		t.Helper()
		again := mustAppend(t, s, ms)
		for i, r := range again {
			if !r.Duplicate || r.Seq != first[i].Seq {
				t.Errorf("%s %d: got %+v, want duplicate of seq %d", label, i, r, first[i].Seq)
			}
		}
		if last, err := s.LastSeq(testCtx(t), eventstore.StreamEvents); err != nil || last != 3 {
			t.Errorf("%s: LastSeq = %d, %v; want 3", label, last, err)
		}
	}
	check("second append", s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Append(testCtx(t), ms); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("Append after Close: got %v, want ErrClosed", err)
	}
	check("after reopen", storetest.Open(t, dir))
}

func TestAppendResultsInOrder(t *testing.T) {
	s := storetest.Open(t, "")
	ms := msgs("order", 5000, subjStarted)
	ms[10].ID = ""                              // invalid: no id
	ms[20].Subject = "nowhere.at.all"           // no stream listens: no responders
	ms[30].ID, ms[31].ID = "same-id", "same-id" // duplicate inside the call
	res, err := s.Append(testCtx(t), ms)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	var seq uint64
	for i, r := range res {
		switch i {
		case 10:
			if r.Err == nil || errors.Is(r.Err, eventstore.ErrUnknownOutcome) {
				t.Errorf("result 10: got %+v, want a refusal (not an unknown outcome)", r)
			}
			continue
		case 20:
			if !errors.Is(r.Err, eventstore.ErrUnknownOutcome) {
				t.Errorf("result 20: got %+v, want ErrUnknownOutcome (no stream answered)", r)
			}
			continue
		case 31:
			if !r.Duplicate || r.Seq != res[30].Seq {
				t.Errorf("result 31: got %+v, want duplicate of %d", r, res[30].Seq)
			}
			continue
		}
		if r.Err != nil {
			t.Fatalf("result %d: %v", i, r.Err)
		}
		if r.Seq != seq+1 {
			t.Fatalf("result %d: got seq %d, want %d", i, r.Seq, seq+1)
		}
		seq = r.Seq
	}
	if seq != 4997 {
		t.Errorf("last seq: got %d, want 4997", seq)
	}
}

// TestOpenDefaultsPublishTimeoutInsideWindow: the zero Config opens (the default publish
// timeout fits the default window) and a short window gets a shorter default rather than
// a refusal.
func TestOpenDefaultsPublishTimeoutInsideWindow(t *testing.T) {
	for _, window := range []time.Duration{0, 2 * time.Second} {
		s, err := eventstore.Open(testCtx(t), eventstore.Config{DataDir: t.TempDir(), DuplicateWindow: window}, nil)
		if err != nil {
			t.Fatalf("Open with DuplicateWindow %s: %v", window, err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

// TestAppendUnknownOutcomeWhenStoreGone: with the JetStream server gone, Append answers
// every message ErrUnknownOutcome (not a refusal, not a hang); once the server is back,
// resending the same messages stores each exactly once, whether the first attempt was
// kept (flushed from the client's reconnect buffer: duplicate) or not (accepted).
func TestAppendUnknownOutcomeWhenStoreGone(t *testing.T) {
	srv := storetest.RunServer(t)
	s := storetest.OpenURL(t, srv, eventstore.Config{PublishTimeout: 300 * time.Millisecond})
	mustAppend(t, s, msgs("before", 2, subjStarted))

	srv.Stop()
	ms := msgs("during", 3, subjStarted)
	res, err := s.Append(testCtx(t), ms)
	if err != nil {
		t.Fatalf("Append with the server gone: %v (want per-message results)", err)
	}
	for i, r := range res {
		if !errors.Is(r.Err, eventstore.ErrUnknownOutcome) {
			t.Errorf("result %d with the server gone: got %+v, want ErrUnknownOutcome", i, r)
		}
	}

	srv.Start()
	var again []eventstore.AppendResult
	waitFor(t, 30*time.Second, func() error {
		again, err = s.Append(testCtx(t), ms)
		if err != nil {
			return err
		}
		for i, r := range again {
			if r.Err != nil {
				return fmt.Errorf("resend %d: %w", i, r.Err)
			}
		}
		return nil
	})
	if last, err := s.LastSeq(testCtx(t), eventstore.StreamEvents); err != nil || last != 5 {
		t.Errorf("LastSeq after the resend = %d, %v; want 5 (2 before + 3 once each)", last, err)
	}
}

func TestAppendCanceled(t *testing.T) {
	s := storetest.Open(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Append(ctx, msgs("c", 10, subjStarted)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with a canceled ctx: got %v, want context.Canceled", err)
	}
	// The in-flight tokens came back: a full-size append still goes through.
	mustAppend(t, s, msgs("after", 5000, subjStarted))
}

func TestAppendExpectedLastSubjectSequence(t *testing.T) {
	s := storetest.Open(t, "")
	now := time.Now()
	task := func(id string, typ domain.EventType) eventstore.Message {
		ev, err := domain.NewEventFromData(uuid.NewString(), typ, now, "cust-42", "test", map[string]any{"task_id": "t-1"}, now)
		if err != nil {
			t.Fatalf("NewEvent: %v", err)
		}
		ev = ev.WithID(id)
		data, err := ev.Encode()
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		return eventstore.Message{ID: id, Subject: eventstore.Subject(ev), Data: data, ExpectSubject: eventstore.TaskSubjectFilter("cust-42", "t-1")}
	}
	expect := func(m eventstore.Message, seq uint64) eventstore.Message { m.ExpectLastSeq = &seq; return m }
	// Another task and another subject in between: they do not move this task's sequence.
	mustAppend(t, s, msgs("noise", 2, subjStarted))

	steps := []struct {
		name    string
		msg     eventstore.Message
		wantSeq uint64
		wantErr error
	}{
		{"create, expecting no event yet", expect(task("e1", domain.TypeTaskCreated), 0), 3, nil},
		{"create again, stale", expect(task("e2", domain.TypeTaskCreated), 0), 0, eventstore.ErrConflict},
		{"complete, expecting the create (another type: the wildcard filter)", expect(task("e3", domain.TypeTaskCompleted), 3), 4, nil},
		{"reopen, expecting the create: stale", expect(task("e4", domain.TypeTaskReopened), 3), 0, eventstore.ErrConflict},
		{"reopen, expecting the completion", expect(task("e5", domain.TypeTaskReopened), 4), 5, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			res, err := s.Append(testCtx(t), []eventstore.Message{st.msg})
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			r := res[0]
			if !errors.Is(r.Err, st.wantErr) {
				t.Fatalf("Err: got %v, want %v", r.Err, st.wantErr)
			}
			if r.Seq != st.wantSeq {
				t.Errorf("Seq: got %d, want %d", r.Seq, st.wantSeq)
			}
			var apiErr *jetstream.APIError
			if st.wantErr != nil && !errors.As(r.Err, &apiErr) {
				t.Errorf("Err %v: the JetStream cause is lost", r.Err)
			}
		})
	}

	t.Run("two concurrent commands on the same version: exactly one wins", func(t *testing.T) {
		for round := range 20 {
			last, err := s.LastSeq(testCtx(t), eventstore.StreamEvents)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i := range errs {
				wg.Go(func() {
					m := expect(task(fmt.Sprintf("race-%d-%d", round, i), domain.TypeTaskUpdated), last)
					res, err := s.Append(testCtx(t), []eventstore.Message{m})
					if err != nil {
						errs[i] = err
						return
					}
					errs[i] = res[0].Err
				})
			}
			wg.Wait()
			ok, conflicts := 0, 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case errors.Is(err, eventstore.ErrConflict):
					conflicts++
				default:
					t.Fatalf("round %d: unexpected error %v", round, err)
				}
			}
			if ok != 1 || conflicts != 1 {
				t.Fatalf("round %d: got %d successes and %d conflicts, want 1 and 1", round, ok, conflicts)
			}
		}
	})
}

// collector is a Consume handler that records what it is handed and can fail on demand.
type collector struct {
	mu      sync.Mutex
	seqs    []uint64
	batches int
	failAt  uint64 // fail a batch holding this seq (0: never)
}

var errHandle = errors.New("handler failed")

func (c *collector) handle(_ context.Context, batch []eventstore.Delivery) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range batch {
		if c.failAt != 0 && d.Seq == c.failAt {
			return errHandle
		}
	}
	c.batches++
	for _, d := range batch {
		c.seqs = append(c.seqs, d.Seq)
	}
	return nil
}

func (c *collector) got() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.seqs)
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// consumeUntil runs Consume until the collector holds want, then stops it and checks
// that it returned nil and was handed exactly want.
func consumeUntil(t *testing.T, s *eventstore.Store, cfg eventstore.ConsumeConfig, c *collector, want []uint64) {
	t.Helper()
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() { done <- s.Consume(ctx, cfg, c.handle) }()
	waitFor(t, 20*time.Second, func() error {
		if got := c.got(); len(got) < len(want) {
			return fmt.Errorf("handed %d of %d", len(got), len(want))
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Consume: got %v, want nil after ctx done", err)
	}
	if got := c.got(); !slices.Equal(got, want) {
		t.Fatalf("Consume handed %v, want %v", got, want)
	}
}

func TestConsume(t *testing.T) {
	s := storetest.Open(t, "")
	mustAppend(t, s, msgs("a", 10, subjStarted))
	cfg := eventstore.ConsumeConfig{Stream: eventstore.StreamEvents, Durable: "view-test", Batch: 4, MaxWait: 50 * time.Millisecond}

	t.Run("from the start, in batches", func(t *testing.T) {
		c := &collector{}
		consumeUntil(t, s, cfg, c, seqRange(1, 10))
		if c.batches < 3 {
			t.Errorf("batches: got %d, want at least 3 of at most 4", c.batches)
		}
	})
	t.Run("resumes after the checkpoint with the durable where it stood", func(t *testing.T) {
		mustAppend(t, s, msgs("b", 5, subjStarted))
		c := &collector{}
		cfg := cfg
		cfg.StartAfter = 10
		consumeUntil(t, s, cfg, c, seqRange(11, 15))
	})
	t.Run("durable ahead of the checkpoint (view rebuilt): reset", func(t *testing.T) {
		c := &collector{}
		cfg := cfg
		cfg.StartAfter = 3
		consumeUntil(t, s, cfg, c, seqRange(4, 15))
	})
	t.Run("durable behind the checkpoint (crash before ack): nothing handed twice", func(t *testing.T) {
		c := &collector{}
		cfg := cfg
		cfg.StartAfter = 15
		mustAppend(t, s, msgs("c", 3, subjStarted))
		consumeUntil(t, s, cfg, c, seqRange(16, 18))
		// Now the durable stands at 18: a checkpoint of 20 is ahead of it.
		mustAppend(t, s, msgs("d", 4, subjStarted))
		c = &collector{}
		cfg.StartAfter = 20
		consumeUntil(t, s, cfg, c, seqRange(21, 22))
	})
	t.Run("a handler error leaves the batch for the next Consume", func(t *testing.T) {
		c := &collector{failAt: 24}
		mustAppend(t, s, msgs("e", 3, subjStarted)) // 23..25
		cfg := cfg
		cfg.StartAfter = 22
		err := s.Consume(testCtx(t), cfg, c.handle)
		if !errors.Is(err, errHandle) {
			t.Fatalf("Consume: got %v, want the handler's error", err)
		}
		// The projector's checkpoint: the last seq of the last batch it applied (23 if
		// it came in a batch of its own, else still 22).
		if got := c.got(); len(got) > 0 {
			if !slices.Equal(got, []uint64{23}) {
				t.Fatalf("handed before the failure: %v, want at most [23]", got)
			}
			cfg.StartAfter = 23
		}
		c = &collector{}
		consumeUntil(t, s, cfg, c, seqRange(cfg.StartAfter+1, 25))
	})
	t.Run("directory stream", func(t *testing.T) {
		// Covered by TestDirectoryStream; here: Consume accepts it and rejects others.
		err := s.Consume(testCtx(t), eventstore.ConsumeConfig{Stream: eventstore.StreamDead, Durable: "x.y"}, (&collector{}).handle)
		if err == nil || !strings.Contains(err.Error(), "Stream") || !strings.Contains(err.Error(), "Durable") {
			t.Errorf("Consume with a bad config: got %v, want errors naming Stream and Durable", err)
		}
	})
}

func TestConsumeWaitsForNewMessages(t *testing.T) {
	s := storetest.Open(t, "")
	c := &collector{}
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- s.Consume(ctx, eventstore.ConsumeConfig{Stream: eventstore.StreamEvents, Durable: "live"}, c.handle)
	}()
	for i := range 5 {
		mustAppend(t, s, msgs(fmt.Sprintf("live-%d", i), 1, subjStarted))
		waitFor(t, 5*time.Second, func() error {
			if got := len(c.got()); got != i+1 {
				return fmt.Errorf("handed %d, want %d", got, i+1)
			}
			return nil
		})
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Consume: %v", err)
	}
}

func TestDirectoryStream(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the main stream's retention to expire messages")
	}
	dir := t.TempDir()
	s, err := eventstore.Open(testCtx(t), eventstore.Config{DataDir: dir, MaxAge: 1500 * time.Millisecond, DuplicateWindow: time.Second}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })

	ms := append(msgs("dir-agent", 3, "ledger.events.directory.agent"), msgs("noise", 4, subjStarted)...)
	ms = append(ms, msgs("dir-team", 2, "ledger.events.directory.team")...)
	mustAppend(t, s, ms)

	readAll := func(stream string) []eventstore.Delivery {
		var out []eventstore.Delivery
		if err := s.Read(testCtx(t), stream, 0, 100, func(_ context.Context, b []eventstore.Delivery) error {
			out = append(out, b...)
			return nil
		}); err != nil {
			t.Fatalf("Read %s: %v", stream, err)
		}
		return out
	}
	waitFor(t, 10*time.Second, func() error {
		if n := len(readAll(eventstore.StreamDirectory)); n != 5 {
			return fmt.Errorf("directory holds %d, want 5", n)
		}
		return nil
	})
	// The main stream expires everything; the directory keeps its records.
	waitFor(t, 10*time.Second, func() error {
		st, err := s.Stats(testCtx(t))
		if err != nil {
			return err
		}
		if st[0].Messages != 0 {
			return fmt.Errorf("%s still holds %d messages", st[0].Name, st[0].Messages)
		}
		return nil
	})
	got := readAll(eventstore.StreamDirectory)
	var subjects []string
	for _, d := range got {
		subjects = append(subjects, d.Subject)
	}
	want := []string{"ledger.events.directory.agent", "ledger.events.directory.agent", "ledger.events.directory.agent", "ledger.events.directory.team", "ledger.events.directory.team"}
	if !slices.Equal(subjects, want) {
		t.Errorf("directory subjects: got %v, want %v", subjects, want)
	}
	// And they survive a restart.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := storetest.Open(t, dir)
	if last, err := s2.LastSeq(testCtx(t), eventstore.StreamDirectory); err != nil || last != 5 {
		t.Errorf("directory after restart: LastSeq %d, %v; want 5", last, err)
	}
}

// TestDirectorySourceUpgrade: a DIRECTORY stream made by an earlier version sources
// LEDGER through the one wildcard filter; the store opened over it switches to one literal
// filter per directory type (directorySources) and loses no record, old or new. nats-server
// sources the records still in LEDGER once more under the new filters: the copies are the
// same messages, which the directory view keeps by their stamps.
func TestDirectorySourceUpgrade(t *testing.T) {
	dir := t.TempDir()
	s := storetest.Open(t, dir)
	ctx := testCtx(t)
	st, err := s.JetStream().Stream(ctx, eventstore.StreamDirectory)
	if err != nil {
		t.Fatal(err)
	}
	old := st.CachedInfo().Config
	if len(old.Sources) != 1 || len(old.Sources[0].SubjectTransforms) != 3 {
		t.Fatalf("DIRECTORY sources: %+v, want one source with a filter per directory type", old.Sources)
	}
	for _, tr := range old.Sources[0].SubjectTransforms {
		if tr.Source != tr.Destination || strings.ContainsAny(tr.Source, "*>") {
			t.Errorf("DIRECTORY source filter %+v: want a literal subject kept as it is", tr)
		}
	}
	old.Sources = []*jetstream.StreamSource{{Name: eventstore.StreamEvents, FilterSubject: "ledger.events.directory.>"}}
	if _, err := s.JetStream().UpdateStream(ctx, old); err != nil {
		t.Fatalf("the earlier version's DIRECTORY: %v", err)
	}
	ms := append(msgs("agent", 3, "ledger.events.directory.agent"), msgs("noise", 4, subjStarted)...)
	ms = append(ms, msgs("team", 2, "ledger.events.directory.team")...)
	mustAppend(t, s, ms)
	ids := func() []string {
		var out []string
		err := s.Read(testCtx(t), eventstore.StreamDirectory, 0, 100, func(_ context.Context, b []eventstore.Delivery) error {
			for _, d := range b {
				var env struct {
					ID string `json:"id"`
				}
				if err := json.Unmarshal(d.Data, &env); err != nil {
					return err
				}
				out = append(out, env.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Read DIRECTORY: %v", err)
		}
		return out
	}
	want := []string{"agent-0", "agent-1", "agent-2", "team-0", "team-1"}
	waitFor(t, 10*time.Second, func() error {
		if got := ids(); !slices.Equal(got, want) {
			return fmt.Errorf("DIRECTORY before the upgrade holds %v, want %v", got, want)
		}
		return nil
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = storetest.Open(t, dir)
	mustAppend(t, s, append(msgs("profile", 1, "ledger.events.directory.profile"), msgs("later", 2, subjStarted)...))
	waitFor(t, 10*time.Second, func() error {
		got := ids()
		if len(got) < len(want)+1 || !slices.Equal(got[:len(want)], want) || got[len(got)-1] != "profile-0" {
			return fmt.Errorf("DIRECTORY after the upgrade holds %v: want %v first and profile-0 last", got, want)
		}
		for _, id := range got[len(want) : len(got)-1] {
			if !slices.Contains(want, id) {
				return fmt.Errorf("DIRECTORY after the upgrade holds %s, which is no directory record", id)
			}
		}
		return nil
	})
}

func TestDirectoryConsume(t *testing.T) {
	s := storetest.Open(t, "")
	mustAppend(t, s, append(msgs("n", 3, subjStarted), msgs("d", 2, "ledger.events.directory.profile")...))
	c := &collector{}
	consumeUntil(t, s, eventstore.ConsumeConfig{Stream: eventstore.StreamDirectory, Durable: "view-directory"}, c, []uint64{1, 2})
}

func TestDeadLetters(t *testing.T) {
	s := storetest.Open(t, "")
	ctx := testCtx(t)
	if got, err := s.DeadLetters(ctx, 0, 10); err != nil || len(got.Items) != 0 || got.Next != 0 {
		t.Fatalf("DeadLetters on an empty stream: %+v, %v", got, err)
	}
	ds := []eventstore.Delivery{
		{Stream: eventstore.StreamEvents, Seq: 7, Subject: subjStarted, Data: []byte(`{"bad":1}`)},
		{Stream: eventstore.StreamEvents, Seq: 9, Subject: "ledger.events.nonsense", Data: []byte(`not json`)},
		{Stream: eventstore.StreamDirectory, Seq: 2, Subject: "ledger.events.directory.agent", Data: []byte(`{}`)},
	}
	for i, d := range ds {
		if err := s.DeadLetter(ctx, d, "history", fmt.Sprintf("reason %d", i)); err != nil {
			t.Fatalf("DeadLetter %d: %v", i, err)
		}
	}
	// Setting the same delivery aside again stores nothing new.
	if err := s.DeadLetter(ctx, ds[0], "history", "again"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeadLetter(ctx, ds[0], "bad.view", "x"); err == nil {
		t.Error("DeadLetter with a dotted view name: got nil, want an error")
	}
	got, err := s.DeadLetters(ctx, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Items) != 2 || got.Next != 0 {
		t.Fatalf("DeadLetters(after 1, 2): got %d items, next %d; want the last 2 and no next page", len(got.Items), got.Next)
	}
	for i, dl := range got.Items {
		d := ds[i+1]
		if dl.Seq != uint64(i+2) || dl.View != "history" || dl.Reason != fmt.Sprintf("reason %d", i+1) ||
			dl.Stream != d.Stream || dl.StreamSeq != d.Seq || dl.Subject != d.Subject || string(dl.Data) != string(d.Data) || dl.At.IsZero() {
			t.Errorf("dead letter %d: got %+v, want from %+v", i, dl, d)
		}
	}
	if all, _ := s.DeadLetters(ctx, 0, 0); len(all.Items) != 3 {
		t.Errorf("DeadLetters(0, 0): got %d, want all 3", len(all.Items))
	}
	if _, err := s.DeadLetters(ctx, 0, eventstore.MaxDeadLetters+1); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("DeadLetters over MaxDeadLetters: got %v, want an error naming limit", err)
	}
}

// deadLetterN sets aside n deliveries of StreamEvents, sequences 1..n.
func deadLetterN(t *testing.T, s *eventstore.Store, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		d := eventstore.Delivery{Stream: eventstore.StreamEvents, Seq: uint64(i), Subject: subjStarted, Data: fmt.Appendf(nil, "bad %d", i)}
		if err := s.DeadLetter(testCtx(t), d, "history", "bad"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDeadLettersPaged(t *testing.T) {
	s := storetest.Open(t, "")
	deadLetterN(t, s, 7)
	// An erased letter leaves a gap that a page steps over.
	if err := s.Erase(testCtx(t), eventstore.StreamDead, []uint64{4}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		after    uint64
		limit    int
		wantSeqs []uint64
		wantNext uint64
	}{
		{"first page", 0, 3, []uint64{1, 2, 3}, 3},
		{"over the gap", 3, 3, []uint64{5, 6, 7}, 0},
		{"last page, short", 5, 3, []uint64{6, 7}, 0},
		{"after the end", 7, 3, nil, 0},
		{"far after the end", 1 << 63, 3, nil, 0},
		{"exactly to the end", 4, 3, []uint64{5, 6, 7}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := s.DeadLetters(testCtx(t), tt.after, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint64
			for _, dl := range page.Items {
				got = append(got, dl.Seq)
			}
			if !slices.Equal(got, tt.wantSeqs) || page.Next != tt.wantNext {
				t.Errorf("got %v next %d, want %v next %d", got, page.Next, tt.wantSeqs, tt.wantNext)
			}
		})
	}
}

func TestDeadLettersBounded(t *testing.T) {
	s, err := eventstore.Open(testCtx(t), eventstore.Config{DataDir: t.TempDir(), DeadMaxMsgs: 3, DeadMaxAge: 48 * time.Hour, DeadMaxBytes: 1 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	info, err := s.JetStream().Stream(testCtx(t), eventstore.StreamDead)
	if err != nil {
		t.Fatal(err)
	}
	c := info.CachedInfo().Config
	if c.MaxAge != 48*time.Hour || c.MaxBytes != 1<<20 || c.MaxMsgs != 3 || c.Discard != jetstream.DiscardOld {
		t.Errorf("%s limits: got age %s, bytes %d, msgs %d, discard %v; want 48h, 1MiB, 3, old", eventstore.StreamDead, c.MaxAge, c.MaxBytes, c.MaxMsgs, c.Discard)
	}
	deadLetterN(t, s, 5)
	page, err := s.DeadLetters(testCtx(t), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, dl := range page.Items {
		got = append(got, dl.StreamSeq)
	}
	if want := []uint64{3, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("kept dead letters of sequences %v, want the newest %v", got, want)
	}
}

func TestRead(t *testing.T) {
	s := storetest.Open(t, "")
	mustAppend(t, s, msgs("r", 2500, subjStarted))
	tests := []struct {
		name      string
		from      uint64
		batch     int
		wantFirst uint64
		wantN     int
	}{
		{"all", 0, 1000, 1, 2500},
		{"from 1, small batches", 1, 7, 1, 2500},
		{"from the middle", 2000, 1000, 2000, 501},
		{"the last one", 2500, 0, 2500, 1},
		{"past the end", 2501, 1000, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []uint64
			err := s.Read(testCtx(t), eventstore.StreamEvents, tt.from, tt.batch, func(_ context.Context, b []eventstore.Delivery) error {
				if tt.batch > 0 && len(b) > tt.batch {
					t.Errorf("batch of %d, want at most %d", len(b), tt.batch)
				}
				for _, d := range b {
					got = append(got, d.Seq)
					if d.Subject != subjStarted || len(d.Data) < 500 || d.Published.IsZero() {
						t.Fatalf("delivery %d: %+v", d.Seq, d)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			var want []uint64
			if tt.wantN > 0 {
				want = seqRange(tt.wantFirst, tt.wantFirst+uint64(tt.wantN)-1)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("Read: got %d seqs (%v...), want %d from %d", len(got), got[:min(len(got), 5)], tt.wantN, tt.wantFirst)
			}
		})
	}
	t.Run("stops at the last seq of the call while appends go on", func(t *testing.T) {
		ctx, cancel := context.WithCancel(testCtx(t))
		defer cancel()
		go func() {
			for i := 0; ctx.Err() == nil; i++ {
				_, _ = s.Append(ctx, msgs(fmt.Sprintf("more-%d", i), 100, subjStarted))
			}
		}()
		var n int
		var last uint64
		if err := s.Read(testCtx(t), eventstore.StreamEvents, 0, 500, func(_ context.Context, b []eventstore.Delivery) error {
			for _, d := range b {
				if d.Seq != last+1 {
					return fmt.Errorf("seq %d after %d", d.Seq, last)
				}
				last = d.Seq
			}
			n += len(b)
			return nil
		}); err != nil {
			t.Fatalf("Read: %v", err)
		}
		if n < 2500 {
			t.Errorf("read %d, want at least 2500", n)
		}
	})
	t.Run("ends when the tail up to its end was deleted", func(t *testing.T) {
		s := storetest.Open(t, "")
		mustAppend(t, s, msgs("tail", 100, subjStarted))
		if err := s.Erase(testCtx(t), eventstore.StreamEvents, seqRange(91, 100)); err != nil {
			t.Fatal(err)
		}
		var got []uint64
		if err := s.Read(testCtx(t), eventstore.StreamEvents, 0, 1000, func(_ context.Context, b []eventstore.Delivery) error {
			for _, d := range b {
				got = append(got, d.Seq)
			}
			return nil
		}); err != nil {
			t.Fatalf("Read: %v", err)
		}
		if !slices.Equal(got, seqRange(1, 90)) {
			t.Fatalf("Read: got %d seqs, want 1..90", len(got))
		}
	})
	t.Run("a handler error stops it", func(t *testing.T) {
		err := s.Read(testCtx(t), eventstore.StreamEvents, 0, 10, func(context.Context, []eventstore.Delivery) error { return errHandle })
		if !errors.Is(err, errHandle) {
			t.Errorf("Read: got %v, want the handler's error", err)
		}
	})
}

func TestErase(t *testing.T) {
	s := storetest.Open(t, "")
	mustAppend(t, s, msgs("x", 5, subjStarted))
	ctx := testCtx(t)
	if err := s.Erase(ctx, eventstore.StreamEvents, []uint64{2, 4, 99}); err != nil {
		t.Fatalf("Erase: %v", err)
	}
	if err := s.Erase(ctx, eventstore.StreamEvents, []uint64{2}); err != nil {
		t.Fatalf("Erase again: %v", err)
	}
	var got []uint64
	if err := s.Read(ctx, eventstore.StreamEvents, 0, 0, func(_ context.Context, b []eventstore.Delivery) error {
		for _, d := range b {
			got = append(got, d.Seq)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []uint64{1, 3, 5}; !slices.Equal(got, want) {
		t.Errorf("after Erase: got %v, want %v", got, want)
	}
	// The tail erased: Read still ends.
	if err := s.Erase(ctx, eventstore.StreamEvents, []uint64{5}); err != nil {
		t.Fatal(err)
	}
	got = nil
	if err := s.Read(ctx, eventstore.StreamEvents, 2, 0, func(_ context.Context, b []eventstore.Delivery) error {
		for _, d := range b {
			got = append(got, d.Seq)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []uint64{3}; !slices.Equal(got, want) {
		t.Errorf("after erasing the tail: got %v, want %v", got, want)
	}
}

func TestStats(t *testing.T) {
	s := storetest.Open(t, "")
	ctx := testCtx(t)
	mustAppend(t, s, append(msgs("s", 4, subjStarted), msgs("sd", 1, "ledger.events.directory.team")...))
	if err := s.DeadLetter(ctx, eventstore.Delivery{Stream: eventstore.StreamEvents, Seq: 1, Subject: subjStarted}, "v", "r"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() error {
		st, err := s.Stats(ctx)
		if err != nil {
			return err
		}
		got := map[string]uint64{}
		for _, x := range st {
			got[x.Name] = x.Messages
			if x.Messages > 0 && (x.Bytes == 0 || x.FirstSeq != 1 || x.LastSeq != x.Messages || x.FirstTime.IsZero() || x.LastTime.Before(x.FirstTime)) {
				return fmt.Errorf("inconsistent %+v", x)
			}
		}
		want := map[string]uint64{eventstore.StreamEvents: 5, eventstore.StreamDirectory: 1, eventstore.StreamDead: 1, eventstore.StreamAudit: 0}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("messages: got %v, want %v", got, want)
		}
		if st[0].Name != eventstore.StreamEvents {
			return fmt.Errorf("first stream %s, want %s", st[0].Name, eventstore.StreamEvents)
		}
		return nil
	})
}

func TestConnect(t *testing.T) {
	t.Run("in-process only", func(t *testing.T) {
		s := storetest.Open(t, "")
		if got := s.ClientURL(); got != "" {
			t.Errorf("ClientURL: got %q, want \"\" with DontListen", got)
		}
		nc, err := s.Connect()
		if err != nil {
			t.Fatalf("Connect: %v", err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		ack, err := js.Publish(testCtx(t), subjStarted, envelope("p1", "interaction.started"), jetstream.WithMsgID("p1"))
		if err != nil || ack.Stream != eventstore.StreamEvents {
			t.Fatalf("producer publish: %v, %v", ack, err)
		}
	})
	t.Run("listening: a producer connects over TCP with its URL", func(t *testing.T) {
		dir := t.TempDir()
		s, err := eventstore.Open(testCtx(t), eventstore.Config{DataDir: dir, ListenAddr: "127.0.0.1:0"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		url := s.ClientURL()
		if !strings.HasPrefix(url, "nats://127.0.0.1:") {
			t.Fatalf("ClientURL: got %q", url)
		}
		purl, err := s.ProducerURL()
		if err != nil {
			t.Fatalf("ProducerURL: %v", err)
		}
		nc, err := nats.Connect(purl)
		if err != nil {
			t.Fatalf("connect with the producer URL: %v", err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		if _, err := js.Publish(testCtx(t), subjStarted, envelope("p2", "interaction.started"), jetstream.WithMsgID("p2")); err != nil {
			t.Fatal(err)
		}
		// A second store pointed at it by URL, with the ledger's credentials as user
		// information, starts no server and sees the same streams.
		creds, err := eventstore.LoadCredentials(filepath.Join(dir, eventstore.CredentialsFileName))
		if err != nil {
			t.Fatal(err)
		}
		ledgerURL := strings.Replace(url, "nats://", "nats://"+creds.Ledger.Name+":"+creds.Ledger.Password+"@", 1)
		s2, err := eventstore.Open(testCtx(t), eventstore.Config{URL: ledgerURL}, nil)
		if err != nil {
			t.Fatalf("Open by URL: %v", err)
		}
		defer s2.Close()
		if got := s2.ClientURL(); got != url {
			t.Errorf("ClientURL by URL: got %q, want %q (no credentials in it)", got, url)
		}
		res := mustAppend(t, s2, []eventstore.Message{{ID: "p2", Subject: subjStarted, Data: []byte("x")}})
		if !res[0].Duplicate || res[0].Seq != 1 {
			t.Errorf("append through the URL store: got %+v, want a duplicate of 1", res[0])
		}
	})
}

// TestReadsLeaveNoConsumer: a Read or a ReadFiltered deletes its ordered consumer when it
// returns. Left to the library they stayed five minutes: every message stored signals
// each of them, and the server refuses a stream's 1,001st consumer.
func TestReadsLeaveNoConsumer(t *testing.T) {
	s := storetest.Open(t, "")
	ctx := testCtx(t)
	mustAppend(t, s, msgs("r", 20, subjStarted))
	for range 5 {
		if err := s.Read(ctx, eventstore.StreamEvents, 1, 7, func(context.Context, []eventstore.Delivery) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.ReadFiltered(ctx, eventstore.StreamEvents, subjStarted, 0, 5); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Consumers != 0 {
		t.Errorf("%s keeps %d consumers after the reads, want none", st[0].Name, st[0].Consumers)
	}
}
