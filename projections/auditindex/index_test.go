package auditindex

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/projections"
)

// token is a key of the event store's form: a letter and 32 hex digits (this package
// may not import eventstore.AuditAgentKey, which makes them).
func token(letter, id string) string {
	h := sha256.Sum256([]byte(id))
	return letter + hex.EncodeToString(h[:])[:32]
}

func subject(agent, customer string) string {
	c := noCustomer
	if customer != "" {
		c = token("c", customer)
	}
	return subjectPrefix + token("a", agent) + "." + c
}

// open is the index on a fresh file, fed msgs by a projector (which moves the checkpoint).
func open(t *testing.T, msgs []projections.Message) (*View, *projections.DB) {
	t.Helper()
	db, err := projections.OpenDB(filepath.Join(t.TempDir(), Name+".db"), projections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	v := New(db)
	p, err := projections.NewProjector(projections.ProjectorConfig{View: v, DB: db, DeadLetters: noDead{t}})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) > 0 {
		if err := p.Handle(context.Background(), msgs); err != nil {
			t.Fatal(err)
		}
	}
	return v, db
}

type noDead struct{ t *testing.T }

func (n noDead) DeadLetter(_ context.Context, m projections.Message, _, reason string) error {
	n.t.Errorf("message %d set aside: %s", m.Seq, reason)
	return nil
}

// sample is ann's and bob's reads of c1 and c2, a reads message between them, a read
// of no customer's data, and subjects the index must pass over.
func sample() []projections.Message {
	subjects := []string{
		subjectPrefix + "reads",
		subject("ann", "c1"),
		subject("bob", "c1"),
		subject("ann", "c2"),
		subjectPrefix + "reads",
		subject("ann", ""),
		subject("ann", "c1"),
		subjectPrefix + "a.b",                          // tokens not of the store's form
		subjectPrefix + token("a", "ann") + ".c1.more", // one token too many
		"ledger.events.call.started",
		subject("bob", "c2"),
	}
	out := make([]projections.Message, len(subjects))
	for i, s := range subjects {
		out[i] = projections.Message{Stream: stream, Seq: uint64(i + 1), Subject: s, Data: []byte("{}")}
	}
	return out
}

// TestSeqs: each log holds the sequences of its subjects, in order, page by page, with
// the checkpoint read beside them.
func TestSeqs(t *testing.T) {
	v, _ := open(t, sample())
	tests := []struct {
		kind Kind
		id   string
		want []uint64
	}{
		{ByAgent, "ann", []uint64{2, 4, 6, 7}},
		{ByAgent, "bob", []uint64{3, 11}},
		{ByAgent, "eve", nil},
		{ByCustomer, "c1", []uint64{2, 3, 7}},
		{ByCustomer, "c2", []uint64{4, 11}},
	}
	for _, tc := range tests {
		tok := token("a", tc.id)
		if tc.kind == ByCustomer {
			tok = token("c", tc.id)
		}
		for _, size := range []int{1, 2, 10} {
			var got []uint64
			after := uint64(0)
			for range 20 {
				seqs, through, err := v.Seqs(tc.kind, tok, after, size)
				if err != nil || through != 11 || len(seqs) > size {
					t.Fatalf("%s after %d: %v through %d, %v", tc.id, after, seqs, through, err)
				}
				got = append(got, seqs...)
				if len(seqs) < size {
					break
				}
				after = seqs[len(seqs)-1]
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s's log in pages of %d = %v, want %v", tc.id, size, got, tc.want)
			}
		}
	}
	if _, _, err := v.Seqs(ByAgent, "ann", 0, 10); err == nil {
		t.Error("a key not of the event store's form was read")
	}
	if _, _, err := v.Seqs(ByAgent, token("a", "ann"), ^uint64(0), 10); err == nil {
		t.Error("a read after the last possible sequence was answered")
	}
}

// TestPrune: the entries of messages before the stream's first sequence go, the others
// stay, over several transactions.
func TestPrune(t *testing.T) {
	var msgs []projections.Message
	for i := range 3 * pruneBatch {
		msgs = append(msgs, projections.Message{Stream: stream, Seq: uint64(i + 1), Subject: subject("ann", "c"+string(rune('a'+i%7)))})
	}
	v, db := open(t, msgs)
	first := uint64(2*pruneBatch + 10)
	removed, err := v.Prune(context.Background(), first)
	if want := 2 * int(first-1); err != nil || removed != want {
		t.Fatalf("prune = %d, %v; want %d entries of agent and customer removed", removed, err, want)
	}
	err = db.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bAgent, bCustomer} {
			n := 0
			c := tx.Bucket(b).Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				if seqOf(k) < first {
					t.Errorf("%s: entry of seq %d left", b, seqOf(k))
				}
				n++
			}
			if want := len(msgs) - int(first-1); n != want {
				t.Errorf("%s: %d entries left, want %d", b, n, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seqs, _, err := v.Seqs(ByAgent, token("a", "ann"), 0, 1); err != nil || len(seqs) != 1 || seqs[0] != first {
		t.Errorf("ann's first entry after the prune = %v, %v; want %d", seqs, err, first)
	}
}

// TestApplyIsNotCalled: the view reads no envelopes; a caller that hands it some is told.
func TestApplyIsNotCalled(t *testing.T) {
	v, db := open(t, nil)
	if err := projections.Apply(db, v, []projections.Applied{{Seq: 1}}); err == nil {
		t.Error("Apply took envelopes")
	}
}

func FuzzParseSubject(f *testing.F) {
	for _, m := range sample() {
		f.Add(m.Subject)
	}
	f.Fuzz(func(t *testing.T, s string) {
		agent, customer, ok := parseSubject(s)
		if !ok {
			return
		}
		if s != subjectPrefix+agent+"."+customer || agent == "" || customer == "" {
			t.Errorf("parseSubject(%q) = %q, %q", s, agent, customer)
		}
		var k [keyLen]byte
		if key(&k, agent, 7) && seqOf(k[:]) != 7 {
			t.Errorf("key of %q lost its sequence", agent)
		}
	})
}
