package erasure

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/eventstore/storetest"
)

// BenchmarkScanEvents measures the full read of StreamEvents that finds one customer's
// messages among 1000 customers' ~520-byte envelopes; one op is one message scanned.
func BenchmarkScanEvents(b *testing.B) {
	s := storetest.Open(b, "")
	total := max(b.N, 100_000)
	pad := strings.Repeat("x", 230)
	at := time.Now().UTC().Format(time.RFC3339)
	var last uint64
	for i := 0; i < total; i += 1000 {
		msgs := make([]eventstore.Message, 0, 1000)
		for j := i; j < min(i+1000, total); j++ {
			id := uuid.NewString()
			data := fmt.Sprintf(`{"id":%q,"type":"note.added","occurred_at":%q,"customer_id":"tel:+1415555%04d","source":"bench","data":{"note_id":%q,"text":%q,"author_id":"agent-1"}}`,
				id, at, j%1000, uuid.NewString(), pad)
			msgs = append(msgs, eventstore.Message{ID: id, Subject: "ledger.events.note.added", Data: []byte(data)})
		}
		res, err := s.Append(context.Background(), msgs)
		if err != nil {
			b.Fatal(err)
		}
		last = res[len(res)-1].Seq
	}
	b.SetBytes(520)
	b.ResetTimer()
	start := time.Now()
	f, err := scanEvents(context.Background(), s, DefaultReadBatch, last, "tel:+14155550042")
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if want := total / 1000; len(f.seqs) != want {
		b.Fatalf("found %d messages, want %d", len(f.seqs), want)
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "msg/s")
}
