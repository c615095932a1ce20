package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"github.com/interaction-ledger/ledger/adapters/node"
	"github.com/interaction-ledger/ledger/cmd/ledger-cluster/cluster"
)

// The cluster phase's shape: what `make cluster` runs and the README's deployment guide
// recommends (R3 needs three servers; two nodes are the least that shows scale-out).
const (
	benchClusterServers = 3
	benchClusterNodes   = 2
	// benchClusterReady bounds the nodes' start: on a loaded machine the servers' meta
	// group takes its time to elect a leader and create the R3 streams (not measured).
	benchClusterReady = 5 * time.Minute
)

// benchClusterIngest builds nats-server and the ledger into dir/bin (not timed), starts
// three nats-servers clustered on loopback (R3 streams, sync_interval: always unless
// periodicSync) and two
// ledger nodes as separate processes (cmd/ledger-cluster/cluster), then POSTs every
// envelope through both nodes (client c to node c mod 2) and waits until every view of
// BOTH nodes applied everything. Everything it started is stopped before it returns.
func benchClusterIngest(ctx context.Context, dir string, data *benchData, secret string, clients, batchSize int, periodicSync bool, progress io.Writer) (res benchIngestResult, err error) {
	setup := time.Now()
	natsServer, ledger, err := cluster.Build(ctx, filepath.Join(dir, "bin"))
	if err != nil {
		return res, fmt.Errorf("build the cluster's binaries (from the ledger's module: run it in the repository, as make bench does, or with --cluster=false): %w", err)
	}
	c, err := cluster.New(dir, benchClusterServers, benchClusterNodes)
	if err != nil {
		return res, fmt.Errorf("lay out the cluster: %w", err)
	}
	c.NATSServer, c.Ledger = natsServer, ledger
	c.Env = []string{"LEDGER_AUTH_SECRET=" + secret, "LEDGER_PHONE_REGION=US"}
	c.ReadyTimeout, c.PeriodicSync = benchClusterReady, periodicSync
	started := false
	defer func() {
		c.Stop()
		if err != nil && started { // Start's own error carries the log of the node that failed
			// The nodes' own words say why (a stream that lost its quorum, a view that failed).
			for _, n := range c.Nodes {
				err = fmt.Errorf("%w\n--- node %s log:\n%s", err, n.ID, benchTail(n.Log(), 2000))
			}
		}
	}()
	if err := c.Start(); err != nil {
		return res, fmt.Errorf("start the cluster: %w", err)
	}
	started = true
	fmt.Fprintf(progress, "bench: cluster built and up in %s (not measured): %d servers (%s), nodes", time.Since(setup).Round(time.Millisecond), len(c.Servers), c.NATSURL())
	for _, n := range c.Nodes {
		fmt.Fprintf(progress, " %s %s", n.ID, n.Base())
	}
	fmt.Fprintln(progress)

	ingestTok, opsTok, err := benchIngestTokens(secret)
	if err != nil {
		return res, err
	}
	// One transport for both nodes: its limits are per host.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients + 2, MaxConnsPerHost: clients + 2, DisableCompression: true}}
	defer client.CloseIdleConnections()
	targets := make([]*benchLedger, len(c.Nodes))
	for i, n := range c.Nodes {
		targets[i] = &benchLedger{base: n.Base(), client: client}
	}
	start := time.Now()
	if err := benchPostAll(ctx, targets, data, ingestTok, clients, batchSize); err != nil {
		return res, fmt.Errorf("cluster: %w", err)
	}
	res.acked = time.Since(start)
	fmt.Fprintf(progress, "bench: HTTP ingest through %d nodes acked by the R3 stream in %s\n", len(targets), res.acked.Round(time.Millisecond))
	// The phase ends when the slower node has applied everything: settle returns at once
	// for a node already there, so the last call's time is the later of the two.
	var errs []error
	for i, t := range targets {
		status := func(ctx context.Context) (node.Status, error) { return t.status(ctx, opsTok) }
		if err := res.settle(ctx, start, status, uint64(data.unique), progress); err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", c.Nodes[i].ID, err))
		}
	}
	return res, errors.Join(errs...)
}

// benchTail is the last n bytes of s.
func benchTail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
