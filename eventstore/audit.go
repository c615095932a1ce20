package eventstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// AuditSubject is the subject of one read audit record in StreamAudit:
// "ledger.audit.<agent key>.<customer key>", each key a hash of the id (ids may hold dots
// and wildcards), "none" for a read that returned no customer's data. Putting both in the
// subject makes an access log, by customer or by agent, a filtered read of the stream.
func AuditSubject(agentID, customerID string) string {
	c := "none"
	if customerID != "" {
		c = auditKey("customer", customerID)
	}
	return subjectAudit + "." + auditKey("agent", agentID) + "." + c
}

// AuditReadsSubject is the subject of the read audit's read records in StreamAudit: the
// records of a batch of reads (who, when, what, from where), each stored once, that the
// per-agent-and-customer messages under AuditSubject refer to by sequence. It has one
// token fewer than AuditSubject, so neither access-log filter matches it.
func AuditReadsSubject() string { return subjectAudit + ".reads" }

// AuditCustomerFilter is the subject filter of every read of customerID's data.
func AuditCustomerFilter(customerID string) string {
	return subjectAudit + ".*." + AuditCustomerKey(customerID)
}

// AuditAgentFilter is the subject filter of every read by agentID.
func AuditAgentFilter(agentID string) string {
	return subjectAudit + "." + AuditAgentKey(agentID) + ".*"
}

// AuditCustomerKey is customerID's token in AuditSubject (its fourth).
func AuditCustomerKey(customerID string) string { return auditKey("customer", customerID) }

// AuditAgentKey is agentID's token in AuditSubject (its third).
func AuditAgentKey(agentID string) string { return auditKey("agent", agentID) }

// auditKey is a letter and the first 32 hex digits of sha256(kind NUL id).
func auditKey(kind, id string) string {
	h := sha256.New()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return kind[:1] + hex.EncodeToString(h.Sum(nil))[:32]
}

// ReadFiltered returns up to limit messages of stream on subjects matching filter with
// a sequence after afterSeq, in order, and whether more remain. It is for paged reads of
// a few subjects (an access log), not for replays (Read).
func (s *Store) ReadFiltered(ctx context.Context, stream, filter string, afterSeq uint64, limit int) ([]Delivery, bool, error) {
	if limit <= 0 {
		return nil, false, errors.New("eventstore: read filtered: limit must be at least 1")
	}
	st, err := s.js.Stream(ctx, stream)
	if err != nil {
		return nil, false, fmt.Errorf("eventstore: read %s: %w", stream, err)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{filter},
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       afterSeq + 1,
		InactiveThreshold: orderedInactive,
	})
	if err != nil {
		return nil, false, fmt.Errorf("eventstore: read %s %s: ordered consumer: %w", stream, filter, err)
	}
	defer s.dropOrdered(stream, cons)
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("eventstore: read %s %s: consumer info: %w", stream, filter, err)
	}
	pending := info.NumPending
	var out []Delivery
	for pending > 0 && len(out) < limit {
		batch, err := cons.Fetch(min(limit-len(out), int(min(pending, 1000))), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, false, fmt.Errorf("eventstore: read %s %s: %w", stream, filter, err)
		}
		n := 0
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				return nil, false, fmt.Errorf("eventstore: read %s: metadata: %w", stream, err)
			}
			out = append(out, Delivery{Stream: stream, Seq: md.Sequence.Stream, Subject: m.Subject(), Data: m.Data(), Published: md.Timestamp})
			pending = md.NumPending
			n++
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, false, fmt.Errorf("eventstore: read %s %s: %w", stream, filter, err)
		}
		if n == 0 {
			break // deleted or expired since the count: nothing left
		}
	}
	return out, pending > 0, nil
}
