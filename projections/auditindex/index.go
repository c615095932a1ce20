// Package auditindex holds the index of the read audit: for each agent and each customer,
// the sequences of the audit stream's messages about them, so that an access log is a
// range read of a bbolt file and a fetch of its messages by sequence, not a filtered read
// of the whole audit stream.
//
// Why an index: the audit's subjects name an agent and a customer (one subject per pair,
// eventstore.AuditSubject), and nats-server uses its subject index for a wildcard filter
// only while a stream holds fewer than 65,536 subjects. Past that, every page of an access
// log read every block of the stream after its cursor: 140 to 170 ms a page over two
// million records, and growing with the stream, whose records are kept 400 days.
//
// The index is a view of LEDGER_AUDIT (a projections.RawView: its messages are not
// envelopes): its runner keeps it up to date, rebuilds it when its file is corrupt, of
// another layout or diverged from the stream, and `ledger replay` rebuilds it with the
// others. It reads nothing but the subjects. Its checkpoint says how far it has read: an
// access log reads whatever came after it straight from the stream (adapters/audit).
//
// # Caveats
//
// Entries of messages the stream no longer holds (expired after LEDGER_AUDIT_MAX_AGE) stay
// until Prune, which walks the whole index (the node runs it once a day); a read skips
// them meanwhile.
package auditindex

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/projections"
)

// Name is the view's name: its file is audit.db. WARNING: renaming it re-reads the whole
// audit stream into a new file.
const Name = "audit"

// stream is the audit stream's name; the event store owns it (eventstore.StreamAudit),
// and this package may not import it.
const stream = "LEDGER_AUDIT"

// subjectPrefix starts every audit subject: "ledger.audit.<agent key>.<customer key>"
// (eventstore.AuditSubject). The reads messages ("ledger.audit.reads") have one token
// fewer and are not indexed.
const subjectPrefix = "ledger.audit."

// noCustomer is the customer token of a read that returned no customer's data.
const noCustomer = "none"

// layoutVersion is the version of the key layout (projections.InitLayout).
const layoutVersion = 1

// Kind says whose log is read: an agent's or a customer's.
type Kind int

// The two access logs.
const (
	ByAgent Kind = iota
	ByCustomer
)

var (
	bAgent    = []byte("agent")    // key(agent token, seq) -> nothing
	bCustomer = []byte("customer") // key(customer token, seq) -> nothing
)

func (k Kind) bucket() []byte {
	if k == ByCustomer {
		return bCustomer
	}
	return bAgent
}

// keyLen is a key's length: the token's 16 bytes, then the sequence.
const keyLen = 16 + 8

// View is the index over its file.
type View struct{ db *projections.DB }

var _ projections.RawView = (*View)(nil)

// New returns the index on db.
func New(db *projections.DB) *View { return &View{db: db} }

// Name implements projections.View.
func (v *View) Name() string { return Name }

// Stream implements projections.View.
func (v *View) Stream() string { return stream }

// Init implements projections.View.
func (v *View) Init(tx *bolt.Tx) error {
	if err := projections.InitLayout(tx, layoutVersion, bAgent); err != nil {
		return err
	}
	for _, b := range [][]byte{bAgent, bCustomer} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	return nil
}

// errNotEnvelopes: the projector hands this view's messages to ApplyRaw.
var errNotEnvelopes = errors.New("auditindex: the audit stream holds no envelopes: ApplyRaw applies it")

// Apply implements projections.View; it is never called on a RawView.
func (v *View) Apply(*bolt.Tx, []projections.Applied) error { return errNotEnvelopes }

// ApplyRaw indexes each message under its agent's and its customer's token. Messages of
// other subjects (the reads messages) are skipped; so is a token not of the event store's
// form, which no log could ask for. The batch's keys are put in key order: a customer's
// keys land on random pages of a tree larger than the cache, and in order each page is
// found near the one before (a rebuild over two million records took 45 s instead of 51).
func (v *View) ApplyRaw(tx *bolt.Tx, msgs []projections.Message) error {
	agents, customers := make([][keyLen]byte, 0, len(msgs)), make([][keyLen]byte, 0, len(msgs))
	var k [keyLen]byte
	for _, m := range msgs {
		agent, customer, ok := parseSubject(m.Subject)
		if !ok {
			continue
		}
		if key(&k, agent, m.Seq) {
			agents = append(agents, k)
		}
		if customer != noCustomer && key(&k, customer, m.Seq) {
			customers = append(customers, k)
		}
	}
	for _, b := range []struct {
		name []byte
		keys [][keyLen]byte
	}{{bAgent, agents}, {bCustomer, customers}} {
		slices.SortFunc(b.keys, func(x, y [keyLen]byte) int { return bytes.Compare(x[:], y[:]) })
		bucket := tx.Bucket(b.name)
		for i := range b.keys {
			if err := bucket.Put(b.keys[i][:], nil); err != nil {
				return fmt.Errorf("index audit message %d in %s: %w", seqOf(b.keys[i][:]), b.name, err)
			}
		}
	}
	return nil
}

// seqOf is a key's sequence.
func seqOf(k []byte) uint64 { return binary.BigEndian.Uint64(k[16:]) }

// parseSubject splits "ledger.audit.<agent>.<customer>" into its two tokens.
func parseSubject(subject string) (agent, customer string, ok bool) {
	rest, ok := strings.CutPrefix(subject, subjectPrefix)
	if !ok {
		return "", "", false
	}
	agent, customer, ok = strings.Cut(rest, ".")
	if !ok || agent == "" || customer == "" || strings.Contains(customer, ".") {
		return "", "", false
	}
	return agent, customer, true
}

// key writes token's key at seq into k: the token is a letter and 32 hex digits
// (eventstore's audit keys), kept as the 16 bytes they spell. False for any other token.
func key(k *[keyLen]byte, token string, seq uint64) bool {
	if len(token) != 33 {
		return false
	}
	if _, err := hex.Decode(k[:16], []byte(token[1:])); err != nil {
		return false
	}
	binary.BigEndian.PutUint64(k[16:], seq)
	return true
}

// Seqs returns, in order, up to limit sequences after after of the messages under token
// (eventstore.AuditAgentKey or AuditCustomerKey of an id), and the index's checkpoint in
// the same reading: every such message up to it is indexed, the ones after it are not yet.
func (v *View) Seqs(kind Kind, token string, after uint64, limit int) (seqs []uint64, through uint64, err error) {
	if after == ^uint64(0) {
		return nil, 0, errors.New("auditindex: no message after the last sequence")
	}
	var from [keyLen]byte
	if !key(&from, token, after+1) {
		return nil, 0, fmt.Errorf("auditindex: %q is not an audit key", token)
	}
	err = v.db.View(func(tx *bolt.Tx) error {
		through = projections.ReadCheckpoint(tx)
		b := tx.Bucket(kind.bucket())
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, _ := c.Seek(from[:]); k != nil && len(seqs) < limit && bytes.HasPrefix(k, from[:16]); k, _ = c.Next() {
			if len(k) == keyLen {
				seqs = append(seqs, seqOf(k))
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("auditindex: read %s: %w", kind.bucket(), err)
	}
	return seqs, through, nil
}

// pruneBatch bounds the keys one transaction of Prune deletes.
const pruneBatch = 10_000

// Prune removes the entries of messages before first (the stream's first sequence: the
// older ones expired) and returns how many. It walks the whole index, a transaction of
// reading then one of deleting per pruneBatch keys, so that the live projector is held
// up for one batch at a time.
func (v *View) Prune(ctx context.Context, first uint64) (int, error) {
	removed := 0
	for _, name := range [][]byte{bAgent, bCustomer} {
		var after []byte
		for {
			if err := ctx.Err(); err != nil {
				return removed, err
			}
			var old [][]byte
			var end bool
			err := v.db.View(func(tx *bolt.Tx) error {
				b := tx.Bucket(name)
				if b == nil {
					end = true
					return nil
				}
				c := b.Cursor()
				k, _ := c.First()
				if after != nil {
					if k, _ = c.Seek(after); k != nil && bytes.Equal(k, after) {
						k, _ = c.Next()
					}
				}
				scanned := 0
				for ; k != nil && len(old) < pruneBatch && scanned < 16*pruneBatch; k, _ = c.Next() {
					scanned++
					if len(k) == keyLen && seqOf(k) < first {
						old = append(old, slices.Clone(k))
					}
					after = append(after[:0], k...)
				}
				end = k == nil
				return nil
			})
			if err != nil {
				return removed, fmt.Errorf("auditindex: prune %s: %w", name, err)
			}
			if len(old) > 0 {
				err = v.db.Update(func(tx *bolt.Tx) error {
					b := tx.Bucket(name)
					for _, k := range old {
						if err := b.Delete(k); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					return removed, fmt.Errorf("auditindex: prune %s: %w", name, err)
				}
				removed += len(old)
			}
			if end {
				break
			}
		}
	}
	return removed, nil
}
