package eventstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/eventstore/storetest"
)

// BenchmarkAppend appends ~520-byte envelopes in batches of 1000; one op is one message.
func BenchmarkAppend(b *testing.B) {
	for _, tr := range transports {
		b.Run(tr.name, func(b *testing.B) { benchmarkAppend(b, tr.open(b)) })
	}
}

// transports: the store's own connection in process (a net.Pipe, as in tests) or over TCP
// loopback (as `ledger serve` runs, listening for producers).
var transports = []struct {
	name string
	open func(testing.TB) *eventstore.Store
}{
	{"inprocess", func(tb testing.TB) *eventstore.Store { return storetest.Open(tb, "") }},
	{"loopback", func(tb testing.TB) *eventstore.Store {
		s, err := eventstore.Open(context.Background(), eventstore.Config{DataDir: tb.TempDir(), ListenAddr: "127.0.0.1:0"}, nil)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = s.Close() })
		return s
	}},
}

func benchmarkAppend(b *testing.B, s *eventstore.Store) {
	ctx := context.Background()
	const batch = 1000
	ms := msgs("warm", batch, subjStarted)
	b.SetBytes(int64(len(ms[0].Data)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for n := 0; n < b.N; {
		k := min(batch, b.N-n)
		for i := range k {
			ms[i].ID = fmt.Sprintf("bench-%d", n+i)
		}
		res, err := s.Append(ctx, ms[:k])
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil || r.Duplicate {
				b.Fatalf("append: %+v", r)
			}
		}
		n += k
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
}

// BenchmarkConsume consumes ~520-byte envelopes in batches of 1000 through a durable;
// one op is one message.
func BenchmarkConsume(b *testing.B) {
	benchmarkDrain(b, func(s *eventstore.Store, ctx context.Context, handle func(context.Context, []eventstore.Delivery) error) error {
		return s.Consume(ctx, eventstore.ConsumeConfig{Stream: eventstore.StreamEvents, Durable: "bench"}, handle)
	})
}

// BenchmarkRead reads ~520-byte envelopes in batches of 1000 (ordered consumer); one op
// is one message.
func BenchmarkRead(b *testing.B) {
	benchmarkDrain(b, func(s *eventstore.Store, ctx context.Context, handle func(context.Context, []eventstore.Delivery) error) error {
		return s.Read(ctx, eventstore.StreamEvents, 0, 1000, handle)
	})
}

func benchmarkDrain(b *testing.B, run func(*eventstore.Store, context.Context, func(context.Context, []eventstore.Delivery) error) error) {
	for _, tr := range transports {
		b.Run(tr.name, func(b *testing.B) { benchmarkDrainOn(b, tr.open(b), run) })
	}
}

func benchmarkDrainOn(b *testing.B, s *eventstore.Store, run func(*eventstore.Store, context.Context, func(context.Context, []eventstore.Delivery) error) error) {
	total := max(b.N, 1000)
	for i := 0; i < total; i += 1000 {
		ms := msgs(fmt.Sprintf("pre-%d", i), min(1000, total-i), subjStarted)
		if _, err := s.Append(context.Background(), ms); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := 0
	b.SetBytes(int64(len(envelope("pre-0", "interaction.started"))))
	b.ResetTimer()
	start := time.Now()
	err := run(s, ctx, func(_ context.Context, batch []eventstore.Delivery) error {
		got += len(batch)
		if got >= total {
			cancel()
		}
		return nil
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if got != total {
		b.Fatalf("got %d, want %d", got, total)
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "msg/s")
}
