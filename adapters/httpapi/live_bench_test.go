package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/projections/history"
)

// BenchmarkLiveLatency (issue 12, item 5): from the ingest acknowledgement of an
// interaction to its upsert on each of 200 open live lists, with 1,000 events/s of other
// interactions ingested in the background (the shared reader reads each batch once; each
// subscription matches it against its own query and writes). Reports the p50 and p99
// over every subscription and probe.
//
//	go test ./adapters/httpapi/ -run '^$' -bench LiveLatency -benchtime 20x
func BenchmarkLiveLatency(b *testing.B) {
	const subscribers, perSecond, batchEvery = 200, 1000, 50 * time.Millisecond
	a := startAPI(b)
	directoryFixtureAPI(b, a)
	a.caughtUp(b)
	now := time.Now().UTC()
	query := url.Values{"agent_id": {"ann"}, "from": {now.Add(-time.Hour).Format(time.RFC3339)}, "to": {now.Add(24 * time.Hour).Format(time.RFC3339)}}
	tok := token(b, "ann", auth.ScopeHistoryRead)
	type arrival struct {
		id string
		at time.Time
	}
	arrivals := make(chan arrival, subscribers*4)
	for range subscribers {
		events := a.openLive(b, query, tok, "")
		go func() {
			for e := range events {
				var it history.Item
				if json.Unmarshal([]byte(e.data), &it) == nil {
					arrivals <- arrival{it.InteractionID, time.Now()}
				}
			}
		}()
	}

	ctx, stop := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	bg.Go(func() {
		tick := time.NewTicker(batchEvery)
		defer tick.Stop()
		per := int(perSecond * batchEvery / time.Second)
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			evs := make([]map[string]any, per)
			for i := range evs {
				evs[i] = started(fmt.Sprintf("bg-%d-%d", n, i), "bob", "voice")
			}
			a.post(b, evs...)
		}
	})
	defer func() { stop(); bg.Wait() }()

	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprintf("probe-%d", i)
		a.post(b, started(id, "ann", "voice"))
		acked := time.Now()
		for got := 0; got < subscribers; {
			select {
			case ar := <-arrivals:
				if ar.id == id {
					lat = append(lat, ar.at.Sub(acked))
					got++
				}
			case <-time.After(30 * time.Second):
				b.Fatalf("probe %d: %d of %d subscriptions got it within 30 s", i, got, subscribers)
			}
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
