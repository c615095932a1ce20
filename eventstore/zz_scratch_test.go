package eventstore_test

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/eventstore"
	)

func TestScratchConsume(t *testing.T) {
	s, _ := eventstore.Open(context.Background(), eventstore.Config{DataDir: t.TempDir(), ListenAddr: "127.0.0.1:0"}, nil)
	defer s.Close()
	total := 200000
	for i := 0; i < total; i += 1000 {
		s.Append(context.Background(), msgs(fmt.Sprintf("pre-%d", i), 1000, subjStarted))
	}
	f, _ := os.Create("/tmp/consume.prof")
	pprof.StartCPUProfile(f)
	ctx, cancel := context.WithCancel(context.Background())
	got, batches := 0, 0
	hist := map[int]int{}
	start := time.Now()
	s.Consume(ctx, eventstore.ConsumeConfig{Stream: eventstore.StreamEvents, Durable: "b"}, func(_ context.Context, b []eventstore.Delivery) error {
		got += len(b)
		batches++
		hist[len(b)/100*100]++
		if got >= total {
			cancel()
		}
		return nil
	})
	t.Logf("consume %d in %d batches, %s, %.0f msg/s hist %v", got, batches, time.Since(start), float64(got)/time.Since(start).Seconds(), hist)
	pprof.StopCPUProfile()
	got = 0
	start = time.Now()
	s.Read(context.Background(), eventstore.StreamEvents, 0, 1000, func(_ context.Context, b []eventstore.Delivery) error { got += len(b); return nil })
	t.Logf("read %d %s, %.0f msg/s", got, time.Since(start), float64(got)/time.Since(start).Seconds())
}
