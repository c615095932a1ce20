package audit

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/adapters/viewsource"
	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/eventstore/storetest"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/auditindex"
)

// The access logs' benchmark data: -audit.records records (list reads of 50 customers
// each, by 500 agents, over -audit.customers customers), so that the stream holds more
// than the 65,536 agent and customer pairs past which nats-server stops using its subject
// index for the logs' wildcard filters. The size:
//
//	go test ./adapters/audit -run '^$' -bench AccessLog -args -audit.records=2000000
var (
	benchRecords   = flag.Int("audit.records", 200_000, "audit records of the access log benchmark")
	benchCustomers = flag.Int("audit.customers", 100_000, "customers of the access log benchmark")
)

const benchAgents = 500

// benchAudit records the data set through a Recorder into a real store and indexes it
// as the node's runner would (a rebuild: no fsync per commit).
func benchAudit(b *testing.B) (*eventstore.Store, *auditindex.View) {
	dir := b.TempDir()
	store := storetest.Open(b, dir)
	ctx := context.Background()
	start := time.Now()
	rec, err := NewRecorder(Config{Store: store})
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- rec.Run(rctx) }()
	n := 0
	for i := 0; n < *benchRecords; i++ {
		hits := make([]Hit, 0, 50)
		for range 50 {
			n++
			hits = append(hits, Hit{CustomerID: fmt.Sprint("cus-", (n*104729)%*benchCustomers), InteractionID: fmt.Sprint("in-", n)})
		}
		r := Record{At: time.Now(), AgentID: fmt.Sprint("ag-", (i*7919)%benchAgents), Role: "manager", Action: "list",
			Query: "/v1/interactions", Rows: 50, RequestID: fmt.Sprint("r-", i), ClientAddr: "127.0.0.1"}
		for rec.RecordRead(ctx, r, hits) != nil { // the buffer is full: the store catches up
		}
	}
	for rec.Recorded()+rec.Lost() < uint64(n) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	if rec.Lost() > 0 {
		b.Fatalf("%d records lost", rec.Lost())
	}
	recorded := time.Since(start)
	index, db, p := openIndex(b, dir)
	start = time.Now()
	if err := viewsource.New(store, 0).Read(ctx, eventstore.StreamAudit, 1, projections.RebuildBatch, p.Handle); err != nil {
		b.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "audit bench data: %d records recorded in %s, indexed in %s, index %d MiB\n",
		rec.Recorded(), recorded.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), db.Size()>>20)
	return store, index
}

// BenchmarkAccessLog: the first page (50) of a customer's and of an agent's access log,
// through the index and by a filtered read of the stream (the index left out).
func BenchmarkAccessLog(b *testing.B) {
	store, index := benchAudit(b)
	for _, way := range []struct {
		name string
		log  *Log
	}{{"index", NewLog(store, index)}, {"filtered", NewLog(store, nil)}} {
		for _, who := range []struct {
			name string
			get  func(context.Context, string, Cursor, int) (Page, error)
			id   func(i int) string
		}{
			{"customer", way.log.Customer, func(i int) string { return fmt.Sprint("cus-", (i*7)%*benchCustomers) }},
			{"agent", way.log.Agent, func(i int) string { return fmt.Sprint("ag-", (i*7)%benchAgents) }},
		} {
			b.Run(who.name+"/"+way.name, func(b *testing.B) {
				items, i := 0, 0
				for b.Loop() {
					p, err := who.get(context.Background(), who.id(i), Cursor{}, 50)
					if err != nil {
						b.Fatal(err)
					}
					items += len(p.Items)
					i++
				}
				b.ReportMetric(float64(items)/float64(i), "records/page")
			})
		}
	}
}
