package history

import (
	"bytes"
	"encoding/binary"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
)

// The commands on an interaction (assign or unassign a CRM record or case, create a
// payment) append with an expected last sequence on the interaction's keyed subject
// (eventstore.InteractionSubjectFilter). That sequence is kept here, per interaction and
// per envelope customer_id, like the timeline's task sequences:
//
//	actionseqs  id | 0x00 | customer_id -> seq(8)
//	            The highest stream sequence among the interaction's events stored on its
//	            keyed subject with that customer_id. A command expects the greatest over
//	            the customers. Per customer because erasing a customer removes its
//	            messages from the stream: the subject's last sequence is then the greatest
//	            of the others', which a refold keeps by dropping the erased customers' keys.
//
// A duplicate event (same id, stored again after the dedupe window) changes nothing in
// the fold, but it is the subject's last message all the same: its sequence counts.
var bActionSeqs = []byte("actionseqs")

// actionsPrefix is the start of interaction id's keys in bActionSeqs.
func actionsPrefix(id string) []byte {
	p := make([]byte, 0, len(id)+1+36)
	return append(append(p, id...), 0)
}

// keyed reports whether a was stored on its interaction's keyed subject: the projector
// accepted its subject, so anything after "ledger.events.<type>" is the key.
func keyed(a projections.Applied) bool {
	return a.Event.Type.IsAction() && len(a.Subject) > len("ledger.events.")+len(a.Event.Type.String())
}

// noteSeq remembers, for the next flush, that interaction id's keyed subject reached seq
// with an event of customer.
func (w *writer) noteSeq(id, customer string, seq uint64) {
	if w.seqs == nil {
		w.seqs = map[string]uint64{}
	}
	k := string(append(actionsPrefix(id), customer...))
	w.seqs[k] = max(w.seqs[k], seq)
}

// flushSeqs writes the sequences noted since the last flush, in key order.
func (w *writer) flushSeqs() error {
	if len(w.seqs) == 0 {
		return nil
	}
	b := w.tx.Bucket(bActionSeqs)
	keys := make([]string, 0, len(w.seqs))
	for k := range w.seqs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		seq := w.seqs[k]
		if v := b.Get([]byte(k)); len(v) == 8 && binary.BigEndian.Uint64(v) >= seq {
			continue
		}
		if err := b.Put([]byte(k), binary.BigEndian.AppendUint64(nil, seq)); err != nil {
			return err
		}
	}
	clear(w.seqs)
	return nil
}

// dropSeqs removes the sequences of interaction id's events of the erased customers.
func (w *writer) dropSeqs(id string, erased map[string]bool) error {
	b := w.tx.Bucket(bActionSeqs)
	p := actionsPrefix(id)
	var gone [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		if erased[string(k[len(p):])] {
			gone = append(gone, slices.Clone(k))
		}
	}
	return deleteSorted(b, gone)
}

// ActionTarget is what a command on an interaction decides by.
type ActionTarget struct {
	// CustomerID is the interaction's customer after merges: the command's event's.
	CustomerID string
	State      domain.ActionState
	// LastSeq is the stream sequence the command's append expects on the interaction's
	// keyed subject (0: no event there yet).
	LastSeq uint64
}

// ActionTarget returns the state the commands on interaction id decide by, or ErrNotFound
// when it does not exist or r may not see it (the command answers 404, as the detail).
func (v *View) ActionTarget(r domain.Reader, id string) (ActionTarget, error) {
	var t ActionTarget
	err := v.db.View(func(tx *bolt.Tx) error {
		in, _, err := visibleDetail(tx, r, id)
		if err != nil {
			return err
		}
		t.CustomerID = resolve(tx.Bucket(bMerges), in.CustomerID)
		t.State = domain.ActionState{CRMRecord: in.CRMRecord, Case: in.Case, Invoices: nonNil(in.Invoices)}
		if b := tx.Bucket(bActionSeqs); b != nil {
			p := actionsPrefix(id)
			c := b.Cursor()
			for k, val := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, val = c.Next() {
				if len(val) == 8 {
					t.LastSeq = max(t.LastSeq, binary.BigEndian.Uint64(val))
				}
			}
		}
		return nil
	})
	return t, err
}

// ButtonValues returns the values of a detail that fill the My buttons' placeholders.
func (d *Detail) ButtonValues() domain.ButtonValues {
	return domain.ButtonValues{InteractionID: d.InteractionID, Contact: d.Contact, CustomerID: d.CustomerID,
		CRMRecord: d.CRMRecord, Case: d.Case, AgentID: d.AgentID, QueueID: d.QueueID}
}
