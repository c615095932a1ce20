package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
func benchClusterIngest(ctx context.Context, dir string, data *benchData, secret string, clients, batchSize int, periodicSync bool, progress io.Writer) (res benchClusterResult, err error) {
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
	before := benchClusterCPU(c)
	busyBefore, allBefore := benchMachineTicks()
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
	after := benchClusterCPU(c)
	busyAfter, allAfter := benchMachineTicks()
	if all := allAfter - allBefore; all > 0 {
		res.machineBusy = float64(busyAfter-busyBefore) / float64(all)
	}
	res.cpu = benchProcCPU{servers: after.servers - before.servers, nodes: after.nodes - before.nodes, client: after.client - before.client}
	return res, errors.Join(errs...)
}

// benchClusterResult is the cluster phase's ingest and the CPU each kind of process
// spent in it: what tells whether the phase waited on the cores or on round trips and
// fsyncs.
type benchClusterResult struct {
	benchIngestResult
	cpu         benchProcCPU
	machineBusy float64 // share of every core's time not idle (any process), 0 to 1
}

// benchProcCPU is user+system CPU time of the servers, the nodes and the bench (client).
type benchProcCPU struct{ servers, nodes, client time.Duration }

func benchClusterCPU(c *cluster.Cluster) benchProcCPU {
	var t benchProcCPU
	for _, s := range c.Servers {
		t.servers += benchCPUTime(strconv.Itoa(s.Pid()))
	}
	for _, n := range c.Nodes {
		t.nodes += benchCPUTime(strconv.Itoa(n.Pid()))
	}
	t.client = benchCPUTime("self")
	return t
}

// benchClockTick is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every Linux
// the bench runs on (the Go runtime has no sysconf).
const benchClockTick = 100

// benchCPUTime is utime+stime of /proc/<pid>/stat; 0 where it cannot be read (not Linux,
// the process gone).
func benchCPUTime(pid string) time.Duration {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count fields after its end.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	// Fields 14 and 15 of the file (utime, stime) are 11 and 12 after the name.
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(u+st) * time.Second / benchClockTick
}

// benchTail is the last n bytes of s.
func benchTail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// benchMachineTicks is the machine's busy and total CPU time from /proc/stat's "cpu"
// line (idle and iowait count as not busy); zeros where it cannot be read.
func benchMachineTicks() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0
	}
	// user nice system idle iowait irq softirq steal; guest time is already in user.
	for i, v := range f[1:min(9, len(f))] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}
