package projections_test

import (
	"context"
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
	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/adapters/viewsource"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/eventstore/storetest"
	"github.com/interaction-ledger/ledger/projections"
)

// seqView is a small view that stores the stream sequence of every event it applies and
// refuses to apply one twice, so that a test sees exactly what the projector handed over.
// An event whose note text is "fail" makes Apply fail after it stored the others.
type seqView struct{}

var bApplied = []byte("applied")

func (seqView) Name() string   { return "seqs" }
func (seqView) Stream() string { return eventstore.StreamEvents }
func (seqView) Init(tx *bolt.Tx) error {
	_, err := tx.CreateBucketIfNotExists(bApplied)
	return err
}
func (seqView) Apply(tx *bolt.Tx, batch []projections.Applied) error {
	b := tx.Bucket(bApplied)
	for _, a := range batch {
		k := fmt.Appendf(nil, "%020d", a.Seq)
		if b.Get(k) != nil {
			return fmt.Errorf("seq %d applied twice", a.Seq)
		}
		if err := b.Put(k, []byte(a.Event.ID)); err != nil {
			return err
		}
		if n, ok := a.Event.Payload.(*domain.NoteData); ok && n.Text == "fail" {
			return errors.New("seqView: refused")
		}
	}
	return nil
}

// appliedSeqs reads what seqView stored.
func appliedSeqs(t *testing.T, db *projections.DB) []uint64 {
	t.Helper()
	var out []uint64
	if err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bApplied).ForEach(func(k, _ []byte) error {
			var s uint64
			if _, err := fmt.Sscanf(string(k), "%d", &s); err != nil {
				return err
			}
			out = append(out, s)
			return nil
		})
	}); err != nil {
		t.Fatalf("read applied: %v", err)
	}
	return out
}

// deadRecorder is a DeadLetters that records what it was given.
type deadRecorder struct {
	mu      sync.Mutex
	seqs    []uint64
	reasons []string
}

func (d *deadRecorder) DeadLetter(_ context.Context, m projections.Message, _, reason string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seqs = append(d.seqs, m.Seq)
	d.reasons = append(d.reasons, reason)
	return nil
}

func openSeqDB(t *testing.T) *projections.DB {
	t.Helper()
	db, err := projections.OpenDB(filepath.Join(t.TempDir(), "seqs.db"), projections.Options{})
	if err != nil {
		t.Fatalf("open view file: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// note is a valid note.added envelope, as the stream stores it.
func note(t *testing.T, text string) []byte {
	t.Helper()
	ev, err := domain.NewEvent(uuid.Must(uuid.NewV7()).String(), domain.TypeNoteAdded, time.Now().Add(-time.Minute),
		"cust-1", "test", &domain.NoteData{NoteID: uuid.NewString(), Text: text}, time.Now())
	if err != nil {
		t.Fatalf("note event: %v", err)
	}
	b, err := ev.Encode()
	if err != nil {
		t.Fatalf("encode note: %v", err)
	}
	return b
}

// msgs builds the deliveries of seqs from..to, each a valid note unless bad holds it.
func msgs(t *testing.T, from, to uint64, data map[uint64][]byte) []projections.Message {
	t.Helper()
	var out []projections.Message
	for s := from; s <= to; s++ {
		d, ok := data[s]
		if !ok {
			t.Fatalf("no data for seq %d", s)
		}
		out = append(out, projections.Message{Stream: eventstore.StreamEvents, Seq: s, Subject: "ledger.events.note.added",
			Data: d, Published: time.Now()})
	}
	return out
}

// appendNotes appends envelopes to the real stream as note.added and returns the last
// sequence.
func appendNotes(t *testing.T, store *eventstore.Store, raws ...[]byte) uint64 {
	t.Helper()
	var ms []eventstore.Message
	for _, r := range raws {
		ms = append(ms, eventstore.Message{ID: uuid.NewString(), Subject: "ledger.events.note.added", Data: r})
	}
	res, err := store.Append(context.Background(), ms)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("append: %v", r.Err)
		}
	}
	return res[len(res)-1].Seq
}

// TestProjectorExactlyOnce drives Handle with the batches a consumer delivers, redeliveries
// included, against a real view file: each event is applied once, with its checkpoint.
func TestProjectorExactlyOnce(t *testing.T) {
	data := map[uint64][]byte{}
	for s := uint64(1); s <= 12; s++ {
		data[s] = note(t, fmt.Sprintf("note %d", s))
	}
	data[7] = []byte(`{"type":"note.added","occurred_at":"2026-01-01T00:00:00Z","customer_id":"c","data":{}}`) // no id
	data[10] = note(t, "fail")

	db := openSeqDB(t)
	dead := &deadRecorder{}
	p, err := projections.NewProjector(projections.ProjectorConfig{View: seqView{}, DB: db, DeadLetters: dead,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("new projector: %v", err)
	}
	seqs := func(from, to uint64) []uint64 {
		var out []uint64
		for s := from; s <= to; s++ {
			out = append(out, s)
		}
		return out
	}
	steps := []struct {
		name           string
		from, to       uint64
		wantErr        bool
		wantApplied    []uint64
		wantCheckpoint uint64
		wantDead       []uint64
	}{
		{name: "first batch applies and checkpoints", from: 1, to: 3, wantApplied: seqs(1, 3), wantCheckpoint: 3},
		{name: "overlapping redelivery is trimmed", from: 2, to: 5, wantApplied: seqs(1, 5), wantCheckpoint: 5},
		{name: "redelivery at or below the checkpoint changes nothing", from: 1, to: 5, wantApplied: seqs(1, 5), wantCheckpoint: 5},
		{name: "last message at the checkpoint changes nothing", from: 5, to: 5, wantApplied: seqs(1, 5), wantCheckpoint: 5},
		{name: "invalid envelope is set aside, the rest applied", from: 6, to: 8,
			wantApplied: []uint64{1, 2, 3, 4, 5, 6, 8}, wantCheckpoint: 8, wantDead: []uint64{7}},
		{name: "redelivered invalid envelope is not set aside again", from: 6, to: 9,
			wantApplied: []uint64{1, 2, 3, 4, 5, 6, 8, 9}, wantCheckpoint: 9, wantDead: []uint64{7}},
		{name: "failed apply stores nothing of the batch and keeps the checkpoint", from: 10, to: 11, wantErr: true,
			wantApplied: []uint64{1, 2, 3, 4, 5, 6, 8, 9}, wantCheckpoint: 9, wantDead: []uint64{7}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := p.Handle(context.Background(), msgs(t, st.from, st.to, data))
			if (err != nil) != st.wantErr {
				t.Fatalf("Handle: got err %v, want error %v", err, st.wantErr)
			}
			if got := appliedSeqs(t, db); !slices.Equal(got, st.wantApplied) {
				t.Errorf("applied: got %v, want %v", got, st.wantApplied)
			}
			cp, err := db.Checkpoint()
			if err != nil {
				t.Fatalf("checkpoint: %v", err)
			}
			if cp != st.wantCheckpoint {
				t.Errorf("checkpoint: got %d, want %d", cp, st.wantCheckpoint)
			}
			dead.mu.Lock()
			defer dead.mu.Unlock()
			if !slices.Equal(dead.seqs, st.wantDead) {
				t.Errorf("dead letters: got %v, want %v", dead.seqs, st.wantDead)
			}
			for _, r := range dead.reasons {
				if !strings.Contains(r, "id") {
					t.Errorf("dead letter reason %q does not name the field", r)
				}
			}
		})
	}
}

// TestProjectorConsumesJetStream runs a projector on a real stream: it applies every
// event once, a restart resumes after the checkpoint (nothing applied twice), and an
// invalid envelope lands in the dead letter stream.
func TestProjectorConsumesJetStream(t *testing.T) {
	store := storetest.Open(t, "")
	db := openSeqDB(t)
	src := viewsource.New(store, 0)
	appendNotes := func(t *testing.T, raws ...[]byte) uint64 { return appendNotes(t, store, raws...) }
	run := func(t *testing.T, upTo uint64) {
		t.Helper()
		p, err := projections.NewProjector(projections.ProjectorConfig{View: seqView{}, DB: db, Source: src, DeadLetters: src,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("new projector: %v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		werr := db.WaitCheckpoint(wctx, upTo)
		wcancel()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("projector: %v", err)
		}
		if werr != nil {
			t.Fatalf("checkpoint %d not reached: %v", upTo, werr)
		}
	}

	last := appendNotes(t, note(t, "a"), note(t, "b"), []byte(`{"type":"note.added"}`), note(t, "c"))
	run(t, last)
	if got, want := appliedSeqs(t, db), []uint64{1, 2, 4}; !slices.Equal(got, want) {
		t.Fatalf("applied after the first run: got %v, want %v", got, want)
	}
	last = appendNotes(t, note(t, "d"), note(t, "e"))
	run(t, last) // a second projector on the same file: resumes after its checkpoint
	if got, want := appliedSeqs(t, db), []uint64{1, 2, 4, 5, 6}; !slices.Equal(got, want) {
		t.Fatalf("applied after the restart: got %v, want %v", got, want)
	}
	page, err := store.DeadLetters(context.Background(), 0, 10)
	dls := page.Items
	if err != nil {
		t.Fatalf("dead letters: %v", err)
	}
	if len(dls) != 1 || dls[0].StreamSeq != 3 || dls[0].View != "seqs" {
		t.Fatalf("dead letters: got %+v, want one for seq 3 of view seqs", dls)
	}
}
