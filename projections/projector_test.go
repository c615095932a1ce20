package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/eventstore/storetest"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/directory"
	"github.com/interaction-ledger/ledger/projections/history"
	"github.com/interaction-ledger/ledger/projections/timeline"
)

// storeDead sets messages aside in the real event store, as cmd/ledger does.
type storeDead struct{ s *eventstore.Store }

func (d storeDead) DeadLetter(ctx context.Context, m projections.Message, view, reason string) error {
	return d.s.DeadLetter(ctx, eventstore.Delivery{Stream: m.Stream, Seq: m.Seq, Subject: m.Subject, Data: m.Data, Published: m.Published}, view, reason)
}

// project reads the view's whole stream through a projector on a fresh file.
func project(t *testing.T, s *eventstore.Store, v func(*projections.DB) projections.View) {
	t.Helper()
	db, err := projections.OpenDB(filepath.Join(t.TempDir(), "view.db"), projections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	view := v(db)
	p, err := projections.NewProjector(projections.ProjectorConfig{View: view, DB: db, DeadLetters: storeDead{s},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Read(context.Background(), view.Stream(), 1, 100, func(ctx context.Context, ds []eventstore.Delivery) error {
		ms := make([]projections.Message, len(ds))
		for i, d := range ds {
			ms[i] = projections.Message{Stream: d.Stream, Seq: d.Seq, Subject: d.Subject, Data: d.Data, Published: d.Published}
		}
		return p.Handle(ctx, ms)
	})
	if err != nil {
		t.Fatalf("project %s: %v", view.Name(), err)
	}
}

// stored is a valid envelope and the subject it is published on.
type stored struct {
	name    string // what the test calls it
	subject string // "" : the event store's own subject for it
	typ     string
	cust    string
	data    map[string]any
}

func (e stored) message(t *testing.T, at time.Time) eventstore.Message {
	t.Helper()
	env := map[string]any{"id": uuid.Must(uuid.NewV7()).String(), "type": e.typ, "occurred_at": at.Format(time.RFC3339),
		"source": "test", "data": e.data}
	if e.cust != "" {
		env["customer_id"] = e.cust
	}
	raw, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := domain.DecodeStored(raw, time.Now())
	if err != nil {
		t.Fatalf("%s: invalid test envelope: %v", e.name, err)
	}
	subject := e.subject
	if subject == "" {
		subject = eventstore.Subject(ev)
	}
	return eventstore.Message{ID: ev.ID, Subject: subject, Data: raw}
}

// TestSubjectMustMatchType: a message whose subject lies about its type is set aside by
// every view that reads it and applied by none; messages on their own subject (a task
// event on its per-task subject too) are applied.
func TestSubjectMustMatchType(t *testing.T) {
	s := storetest.Open(t, "")
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	call := func(id string) map[string]any {
		return map[string]any{"interaction_id": id, "flow": "voice", "direction": "incoming", "routing": "direct", "agent_id": "agent-ok"}
	}
	agent := func(id string) map[string]any { return map[string]any{"agent_id": id, "role": "manager"} }
	task := map[string]any{"task_id": "t-1", "title": "call back"}
	events := []stored{
		{name: "call", typ: "interaction.started", cust: "cust-ok", data: call("i-ok")},
		{name: "agent", typ: "directory.agent", data: agent("agent-ok")},
		{name: "keyed task", typ: "task.created", cust: "cust-ok", data: task},
		{name: "plain task", subject: "ledger.events.task.created", typ: "task.created", cust: "cust-ok", data: map[string]any{"task_id": "t-2", "title": "x"}},
		{name: "call on a directory subject", subject: "ledger.events.directory.agent", typ: "interaction.started", cust: "cust-liar", data: call("i-liar")},
		{name: "agent on an interaction subject", subject: "ledger.events.interaction.started", typ: "directory.agent", data: agent("agent-liar")},
		{name: "call on another type's subject", subject: "ledger.events.note.added", typ: "interaction.started", cust: "cust-liar", data: call("i-liar-2")},
		{name: "call with a token too many", subject: "ledger.events.interaction.started.x", typ: "interaction.started", cust: "cust-liar", data: call("i-liar-3")},
		{name: "task with two tokens too many", subject: "ledger.events.task.created.k1.k2", typ: "task.created", cust: "cust-liar", data: task},
	}
	var msgs []eventstore.Message
	names := map[string]string{} // subject+data -> name
	for _, e := range events {
		m := e.message(t, at)
		msgs = append(msgs, m)
		names[m.Subject+string(m.Data)] = e.name
	}
	if _, err := s.Append(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}

	// LEDGER_DIRECTORY sources LEDGER asynchronously: wait for its two messages.
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := s.LastSeq(context.Background(), eventstore.StreamDirectory)
		if err != nil {
			t.Fatal(err)
		}
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d messages after 10s, want 2", eventstore.StreamDirectory, n)
		}
		time.Sleep(10 * time.Millisecond)
	}

	var dir *directory.View
	var hist *history.View
	var tl *timeline.View
	project(t, s, func(db *projections.DB) projections.View { hist = history.New(db, history.Options{}); return hist })
	project(t, s, func(db *projections.DB) projections.View { tl = timeline.New(db); return tl })
	project(t, s, func(db *projections.DB) projections.View { dir = directory.New(db); return dir })

	page, err := s.DeadLetters(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, dl := range page.Items {
		if !strings.Contains(dl.Reason, "does not match") {
			t.Errorf("dead letter %s of %s: reason %q, want a subject mismatch", names[dl.Subject+string(dl.Data)], dl.View, dl.Reason)
		}
		got[dl.View] = append(got[dl.View], names[dl.Subject+string(dl.Data)])
	}
	liars := []string{"call on a directory subject", "agent on an interaction subject", "call on another type's subject",
		"call with a token too many", "task with two tokens too many"}
	want := map[string][]string{
		history.Name:  liars,
		timeline.Name: liars,
		// LEDGER_DIRECTORY copies every directory subject: the lie reaches it too.
		directory.Name: {"call on a directory subject"},
	}
	for view, w := range want {
		if !slices.Equal(got[view], w) {
			t.Errorf("dead letters of %s:\n got %q\nwant %q", view, got[view], w)
		}
	}

	t.Run("not applied", func(t *testing.T) {
		if _, ok, err := dir.Agent("agent-liar"); err != nil || ok {
			t.Errorf("directory has agent-liar: %v, %v", ok, err)
		}
		if _, ok, err := dir.Agent("agent-ok"); err != nil || !ok {
			t.Errorf("directory lacks agent-ok: %v, %v", ok, err)
		}
		if st, err := hist.Stats(); err != nil || st.Interactions != 1 {
			t.Errorf("history: got %d interactions (%v), want 1 (i-ok)", st.Interactions, err)
		}
		for cust, want := range map[string]int{"cust-liar": 0, "cust-ok": 3} {
			p, err := tl.Timeline(cust, nil, 50, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Items) != want {
				t.Errorf("timeline of %s: got %d items, want %d: %s", cust, len(p.Items), want, fmt.Sprint(p.Items))
			}
		}
	})
}
