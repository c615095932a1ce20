package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/interaction-ledger/ledger/domain/scenario"
	"github.com/interaction-ledger/ledger/projections/directory"
	"github.com/interaction-ledger/ledger/projections/history"
	"github.com/interaction-ledger/ledger/projections/timeline"
)

// benchConfig is what `ledger bench` is asked to measure.
type benchConfig struct {
	Interactions int    // --interactions, default 200,000 (make bench ends in < 10 min on 2 cores)
	Seed         uint64 // --seed, default 1
	Dir          string // --dir, default a temp dir, removed at the end
	JSON         string // --json: the rows as JSON, for comparing runs
	Queries      int    // --queries: requests per query kind, default 300
	CPUProfile   string // --cpuprofile: pprof CPU profile of the ingest and replay phases
	MemProfile   string // --memprofile: heap profile once the HTTP ingest is acked (views catching up)
	Clients      int    // --clients: concurrent HTTP ingest clients, default 4
	Batch        int    // --batch: envelopes per POST, default 1000
	Peer         bool   // --peer: also run the PostgreSQL peer (pgpeer), default true
	RandomIDs    bool   // --random-ids: UUIDv4 interaction ids (scenario.Config.RandomIDs)
	// Cluster: also ingest through two ledger nodes on a three-server R3 NATS cluster
	// (--cluster, default true; needs the go command to build nats-server and the ledger).
	Cluster bool
	// ClusterSync is the servers' fsync policy in that phase (--cluster-sync): "always"
	// (the default, as the deployment guide asks) or "periodic" (nats-server's default,
	// every 2 minutes), to see what the fsync costs.
	ClusterSync string
}

// benchE2EFig is the single embedded node's end-to-end ingest: the row the peer and the
// cluster are compared with.
const benchE2EFig = "ingest end to end, HTTP NDJSON (POST until every view caught up)"

// rawJSFig is the yardstick the end-to-end ingest rows are a ratio of.
const rawJSFig = "raw JetStream async publish (no ledger code)"

// The other figures the targets name (ledger-bench summarize reads them by these).
const (
	benchE2ENATSFig = "ingest end to end, direct NATS publish (until every view caught up)"
	benchReplayFig  = "replay, all views from one read of each stream (as ledger replay)"
	benchAnonFig    = "peak RssAnon, ledger phases (ingest, replay, queries)"
	// peerPrefix starts every row of the PostgreSQL peer but its COPY's.
	peerPrefix       = "PostgreSQL peer: "
	benchPeerIngest  = peerPrefix + "ingest to queryable, HTTP NDJSON upserts"
	benchPeerCopyFig = "PostgreSQL COPY of the unique events into the indexed events table"
)

// The scale the targets are set for (the issues): 2 million interactions on 2 cores.
const benchTargetScale = 2_000_000

// benchRow is one line of the table.
type benchRow struct {
	Figure  string   `json:"figure"`
	Value   float64  `json:"value"`
	Unit    string   `json:"unit"`
	Ratio   *float64 `json:"ratio,omitempty"`    // to the raw limit named by RatioTo
	RatioTo string   `json:"ratio_to,omitempty"` // the raw limit's figure
	Target  string   `json:"target,omitempty"`
	Holds   *bool    `json:"holds,omitempty"`
	Note    string   `json:"note,omitempty"`
}

// benchReport is what --json writes.
type benchReport struct {
	Command  string       `json:"command"`
	Started  time.Time    `json:"started"`
	Took     string       `json:"took"`
	Machine  benchMachine `json:"machine"`
	Scale    benchScale   `json:"scale"`
	Rows     []benchRow   `json:"rows"`
	Warnings []string     `json:"warnings,omitempty"`
}

type benchScale struct {
	Interactions   int    `json:"interactions"`
	Events         int    `json:"events"`        // envelopes sent, duplicates included
	UniqueEvents   int    `json:"unique_events"` // what the stream holds
	EnvelopeBytes  int64  `json:"envelope_bytes"`
	Agents         int    `json:"agents"`
	Teams          int    `json:"teams"`
	Queues         int    `json:"queues"`
	Customers      int    `json:"customers"`
	Days           int    `json:"days"`
	Seed           uint64 `json:"seed"`
	Busiest        string `json:"busiest_customer"`
	BusiestEvents  int    `json:"busiest_customer_events"`
	TargetScale    int    `json:"target_scale_interactions"`
	GenerationTook string `json:"generation_took"`
}

// rows collects the table, with targets.
type benchRows struct{ rows []benchRow }

func (r *benchRows) add(figure string, value float64, unit string) *benchRow {
	r.rows = append(r.rows, benchRow{Figure: figure, Value: value, Unit: unit})
	return &r.rows[len(r.rows)-1]
}

// ratio sets the row's ratio to the raw limit row named to.
func (b *benchRow) ratio(to string, raw float64) *benchRow {
	if raw > 0 {
		v := b.Value / raw
		b.Ratio, b.RatioTo = &v, to
	}
	return b
}

// atLeast and atMost set the row's target and whether it holds.
func (b *benchRow) atLeast(v float64, show string) *benchRow {
	h := b.Value >= v
	b.Target, b.Holds = "≥ "+show, &h
	return b
}

func (b *benchRow) atMost(v float64, show string) *benchRow {
	h := b.Value <= v
	b.Target, b.Holds = "≤ "+show, &h
	return b
}

func (b *benchRow) note(s string) *benchRow { b.Note = s; return b }

func cmdBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	bc := benchConfig{}
	fs := flag.NewFlagSet("ledger bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&bc.Interactions, "interactions", 200_000, "interactions to simulate over 90 days (the targets are set for 2,000,000)")
	fs.Uint64Var(&bc.Seed, "seed", 1, "scenario seed")
	fs.StringVar(&bc.Dir, "dir", "", "working directory, kept (default: a temp dir, removed)")
	fs.StringVar(&bc.JSON, "json", "", "also write the rows as JSON to this file")
	fs.IntVar(&bc.Queries, "queries", 300, "requests per query kind")
	fs.StringVar(&bc.CPUProfile, "cpuprofile", "", "write a CPU profile of the ingest and replay phases to this file")
	fs.StringVar(&bc.MemProfile, "memprofile", "", "write a heap profile to this file once the HTTP ingest is acked by the stream, while the views catch up (after a forced collection)")
	fs.IntVar(&bc.Clients, "clients", 4, "concurrent HTTP ingest clients")
	fs.IntVar(&bc.Batch, "batch", 1000, "envelopes per POST /v1/events")
	fs.BoolVar(&bc.RandomIDs, "random-ids", false, "random interaction ids (UUIDv4, as a PBX or a provider's webhook assigns them) instead of UUIDv7 ids that sort by time")
	fs.BoolVar(&bc.Peer, "peer", true, "also run the PostgreSQL peer (needs the postgresql package) on the same data")
	fs.BoolVar(&bc.Cluster, "cluster", true, "also ingest through two ledger nodes on a three-server R3 NATS cluster (builds nats-server and the ledger with the go command)")
	fs.StringVar(&bc.ClusterSync, "cluster-sync", "always", "the cluster's fsync policy: always (each message before its ack) or periodic (nats-server's default)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var errs []error
	if bc.Interactions < 1 {
		errs = append(errs, fmt.Errorf("--interactions must be positive, got %d", bc.Interactions))
	}
	if bc.Queries < 1 {
		errs = append(errs, fmt.Errorf("--queries must be positive, got %d", bc.Queries))
	}
	if bc.Clients < 1 {
		errs = append(errs, fmt.Errorf("--clients must be positive, got %d", bc.Clients))
	}
	if bc.Batch < 1 || bc.Batch > 10000 {
		errs = append(errs, fmt.Errorf("--batch must be 1 to 10000, got %d", bc.Batch))
	}
	if bc.ClusterSync != "always" && bc.ClusterSync != "periodic" {
		errs = append(errs, fmt.Errorf("--cluster-sync must be always or periodic, got %q", bc.ClusterSync))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	rep, err := runBench(ctx, bc, stderr)
	if rep == nil {
		return err
	}
	rep.Command = "ledger bench " + strings.Join(args, " ")
	printBench(stdout, rep)
	if bc.JSON != "" {
		b, jerr := json.MarshalIndent(rep, "", "  ")
		if jerr == nil {
			jerr = os.WriteFile(bc.JSON, append(b, '\n'), 0o644)
		}
		err = errors.Join(err, jerr)
	}
	return err
}

// runBench runs every phase in order and returns the report; on an error it returns what
// it measured so far with the error.
func runBench(ctx context.Context, bc benchConfig, stderr io.Writer) (*benchReport, error) {
	started := time.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(stderr, "bench %s: %s\n", time.Since(started).Round(100*time.Millisecond), fmt.Sprintf(format, args...))
	}
	dir := bc.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "ledger-bench-")
		if err != nil {
			return nil, err
		}
		dir = d
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	dir, _ = filepath.Abs(dir)
	mem := startBenchMemSampler(50 * time.Millisecond)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	secretRaw := make([]byte, 32)
	rand.Read(secretRaw)
	secret := hex.EncodeToString(secretRaw)

	rep := &benchReport{Started: started.UTC(), Machine: benchReadMachine()}
	var rows benchRows
	finish := func(err error) (*benchReport, error) {
		hwm := mem.close()
		if hwm > 0 {
			rows.add("peak RSS (VmHWM), whole run", mib(hwm), "MiB").note("bench client and both ledgers in one process")
		}
		rep.Rows = rows.rows
		rep.Took = time.Since(started).Round(time.Second).String()
		return rep, err
	}

	// Generation (not measured).
	say("generating %d interactions", bc.Interactions)
	sc, err := scenario.New(scenario.Config{Seed: bc.Seed, Now: time.Now(), Days: scenario.DefaultDays, Interactions: bc.Interactions, RandomIDs: bc.RandomIDs})
	if err != nil {
		return nil, err
	}
	data, err := generateBenchData(sc, dir)
	if err != nil {
		return nil, err
	}
	scfg := sc.Config()
	rep.Scale = benchScale{Interactions: scfg.Interactions, Events: data.events, UniqueEvents: data.unique, EnvelopeBytes: data.bytes,
		Agents: scfg.Agents, Teams: scfg.Teams, Queues: scfg.Queues, Customers: scfg.Customers, Days: scfg.Days, Seed: scfg.Seed,
		Busiest: data.busiest, BusiestEvents: data.busiestEvents, TargetScale: benchTargetScale,
		GenerationTook: data.generated.Round(time.Millisecond).String()}
	say("%d envelopes (%d unique, %.0f bytes each on average) in %s", data.events, data.unique, float64(data.bytes)/float64(max(1, data.events)), data.generated.Round(time.Millisecond))

	// 1. Raw limits.
	mem.enter("raw")
	say("raw JetStream async publish")
	rawJS, rawStored, err := benchRawPublish(ctx, data, filepath.Join(dir, "raw-nats"))
	benchRemoveAll(filepath.Join(dir, "raw-nats"))
	if err != nil {
		return finish(fmt.Errorf("raw publish: %w", err))
	}
	rows.add(rawJSFig, rawJS, "events/s").note(fmt.Sprintf("%d in flight, Nats-Msg-Id, %d stored", benchInFlight, rawStored))
	say("raw bbolt inserts")
	boltPath := filepath.Join(dir, "raw.db")
	rawUnsorted, err := benchRawBolt(data, boltPath, benchArrivalOrder, false)
	if err != nil {
		return finish(fmt.Errorf("raw bbolt: %w", err))
	}
	rawSorted, err := benchRawBolt(data, boltPath, benchSortedBatch, false)
	if err != nil {
		return finish(fmt.Errorf("raw bbolt: %w", err))
	}
	rawSortedNoSync, err := benchRawBolt(data, boltPath, benchSortedBatch, true)
	if err != nil {
		return finish(fmt.Errorf("raw bbolt: %w", err))
	}
	rows.add("raw bbolt insert, interaction ids unsorted, 1000/tx", rawUnsorted, "events/s").note("200-byte values, fsync per tx")
	rows.add("raw bbolt insert, interaction ids sorted per tx, 1000/tx", rawSorted, "events/s").note("200-byte values, fsync per tx")
	const rawBoltFig = "raw bbolt insert, sorted per tx, 1000/tx, NoSync"
	rows.add(rawBoltFig, rawSortedNoSync, "events/s").note("as a rebuild writes")
	data.interactionIDs = benchIDList{} // the bench's memory is not the ledger's

	// The profile covers both ingests and the replay.
	stopProfile := func() {}
	if bc.CPUProfile != "" {
		f, err := os.Create(bc.CPUProfile)
		if err != nil {
			return finish(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return finish(err)
		}
		var once sync.Once
		stopProfile = func() { once.Do(func() { pprof.StopCPUProfile(); f.Close() }) }
		defer stopProfile()
	}

	// 2. End-to-end ingest over HTTP.
	mem.enter("ingest-http")
	httpDir := filepath.Join(dir, "ledger-http")
	say("HTTP ingest: %d clients, NDJSON batches of %d", bc.Clients, bc.Batch)
	bl, err := startBenchLedger(ctx, httpDir, secret, log, bc.Clients)
	if err != nil {
		stopProfile()
		return finish(err)
	}
	hres, err := benchHTTPIngest(ctx, bl, data, secret, bc.Clients, bc.Batch, bc.MemProfile, stderr)
	if serr := bl.stop(); err == nil && serr != nil {
		err = serr
	}
	if err != nil {
		stopProfile()
		return finish(err)
	}
	ingestRate := float64(data.events) / hres.settled.Seconds()
	rows.add(benchE2EFig, ingestRate, "events/s").
		ratio(rawJSFig, rawJS).atLeast(30_000, "30,000 (aim: 50% of raw publish)").
		note(fmt.Sprintf("%d clients × %d/batch", bc.Clients, bc.Batch))
	const ackedFig = "ingest, HTTP NDJSON, until acked by the stream"
	ackedRate := float64(data.events) / hres.acked.Seconds()
	rows.add(ackedFig, ackedRate, "events/s").ratio(rawJSFig, rawJS)
	anonHTTP, _ := mem.peak("ingest-http")

	// ... and through two ledger nodes on an R3 cluster, each its own process: the
	// scale-out of README "Several nodes on a NATS cluster", next to the embedded node.
	if bc.Cluster {
		mem.enter("cluster")
		clusterDir := filepath.Join(dir, "cluster")
		say("cluster ingest: %d nats-servers (R3), %d ledger nodes, %d clients through both", benchClusterServers, benchClusterNodes, bc.Clients)
		periodic := bc.ClusterSync == "periodic"
		cres, err := benchClusterIngest(ctx, clusterDir, data, secret, bc.Clients, bc.Batch, periodic, stderr)
		benchRemoveAll(clusterDir)
		if err != nil {
			stopProfile()
			return finish(fmt.Errorf("cluster ingest: %w", err))
		}
		sync := "sync_interval: always"
		if periodic {
			sync = "periodic fsync, every 2 min"
		}
		shape := fmt.Sprintf("%d nats-servers (%s) and %d ledger processes on this machine; the embedded node fsyncs every 1 s", benchClusterServers, sync, benchClusterNodes)
		rows.add(fmt.Sprintf("ingest end to end, %d nodes on an R3 cluster, HTTP NDJSON (until every view on each caught up)", benchClusterNodes),
			float64(data.events)/cres.settled.Seconds(), "events/s").ratio(benchE2EFig, ingestRate).
			note(fmt.Sprintf("ratio: cluster / embedded node; %d clients × %d/batch; ", bc.Clients, bc.Batch) + shape)
		rows.add(fmt.Sprintf("ingest, %d nodes on an R3 cluster, HTTP NDJSON, until acked by the stream", benchClusterNodes),
			float64(data.events)/cres.acked.Seconds(), "events/s").ratio(ackedFig, ackedRate).note("ratio: cluster / embedded node")
		// CPU per event of every process: on one machine the phase is bound by the cores
		// it gets divided by this; on separate machines, by the stream leader's share and
		// each node's apply rate. The machine's own busy share says whether other jobs
		// took the rest.
		cpu := cres.cpu
		total := cpu.servers + cpu.nodes + cpu.client
		rows.add("cluster ingest: CPU per event, 3 servers + 2 nodes + client", float64(total.Microseconds())/float64(max(1, data.events)), "µs/event").
			note(fmt.Sprintf("%.1f CPU s in %.1f s: servers %.1f s, ledger nodes %.1f s, bench client %.1f s; the machine was %.0f%% busy (every job on it), these processes %.0f%% of its %d cores",
				total.Seconds(), cres.settled.Seconds(), cpu.servers.Seconds(), cpu.nodes.Seconds(), cpu.client.Seconds(),
				100*cres.machineBusy, 100*total.Seconds()/cres.settled.Seconds()/float64(max(1, rep.Machine.Cores)), rep.Machine.Cores))
	}

	// ... and through direct NATS publish into a second fresh ledger.
	mem.enter("ingest-nats")
	natsDir := filepath.Join(dir, "ledger-nats")
	say("NATS ingest: publish to ledger.events.<type> over TCP")
	nres, err := benchNATSIngest(ctx, natsDir, data, log, stderr)
	if err != nil {
		stopProfile()
		return finish(err)
	}
	rows.add(benchE2ENATSFig, float64(data.events)/nres.settled.Seconds(), "events/s").
		ratio(rawJSFig, rawJS).atLeast(30_000, "30,000")
	rows.add("ingest, direct NATS publish, until acked by the stream", float64(data.events)/nres.acked.Seconds(), "events/s").ratio(rawJSFig, rawJS)
	anonNATS, _ := mem.peak("ingest-nats")
	benchRemoveAll(natsDir)

	// 3. Replay every view of the HTTP ledger from its stream.
	mem.enter("replay")
	say("replay: rebuild every view from the stream")
	rres, replayTook, err := benchReplayAll(ctx, httpDir, log)
	stopProfile()
	if err != nil {
		return finish(err)
	}
	rows.add(benchReplayFig, float64(hres.stored)/replayTook.Seconds(), "events/s").
		ratio(rawBoltFig, rawSortedNoSync).atLeast(100_000, "100,000").note(fmt.Sprintf("%d events in %s", hres.stored, replayTook.Round(time.Millisecond)))
	for _, r := range rres {
		rows.add("replay, "+r.view+" view (its own time, beside the others)", float64(r.messages)/r.took.Seconds(), "events/s").
			ratio(rawBoltFig, rawSortedNoSync).note(fmt.Sprintf("%d messages in %s", r.messages, r.took.Round(time.Millisecond)))
	}
	anonReplay, _ := mem.peak("replay")

	// 4. Queries, on the HTTP ledger started again over its data.
	mem.enter("queries")
	say("queries: %d per kind", bc.Queries)
	startAt := time.Now()
	bl, err = startBenchLedger(ctx, httpDir, secret, log, 1)
	if err != nil {
		return finish(err)
	}
	// An operator restarts over files of this size: what the start costs grows with them
	// wherever it reads them whole.
	var viewBytes int64
	for _, r := range rres {
		viewBytes += r.bytes
	}
	rows.add("start over the data, until the ledger serves (after the replay)", time.Since(startAt).Seconds(), "s").
		note(fmt.Sprintf("view files %.0f MiB, stream %d events", mib(viewBytes), hres.stored))
	qres, err := benchRunQueries(ctx, bl, data, secret, bc.Queries, stderr)
	if serr := bl.stop(); err == nil && serr != nil {
		err = serr
	}
	for _, q := range qres {
		note := fmt.Sprintf("p50 %s, max %s, n=%d; first answer: %d items, %d bytes", fmtMS(q.p50), fmtMS(q.max), q.n, q.items, q.bytes)
		if q.about != "" {
			note += "; " + q.about
		}
		r := rows.add(q.figure+", p99", ms(q.p99), "ms").note(note)
		if q.targetMS > 0 {
			r.atMost(q.targetMS, strconv.FormatFloat(q.targetMS, 'f', -1, 64)+" ms")
		}
	}
	if err != nil {
		return finish(err)
	}
	anonQueries, _ := mem.peak("queries")

	// 5. The yardstick: PostgreSQL behind the same thin HTTP layer, same data, same queries.
	if bc.Peer {
		mem.enter("peer")
		say("PostgreSQL peer: ingest over HTTP, then the same queries")
		pres, err := benchRunPeer(ctx, data, secret, bc.Clients, bc.Batch, bc.Queries, stderr)
		if err != nil {
			return finish(fmt.Errorf("postgres peer: %w", err))
		}
		rows.add(benchPeerIngest, float64(data.events)/pres.queryable.Seconds(), "events/s").
			ratio(benchE2EFig, ingestRate).note(fmt.Sprintf("ratio: peer / ledger; %d clients × %d/batch, one transaction per batch", bc.Clients, bc.Batch))
		rows.add(benchPeerCopyFig, float64(pres.copied)/pres.copyTook.Seconds(), "events/s").
			ratio(benchE2EFig, ingestRate).note(fmt.Sprintf("%d rows in %s, decoding included; no fold", pres.copied, pres.copyTook.Round(time.Millisecond)))
		for _, pq := range pres.queries {
			r := rows.add(peerPrefix+pq.figure+", p99", ms(pq.p99), "ms").
				note(fmt.Sprintf("p50 %s, max %s, n=%d; first answer: %d items, %d bytes", fmtMS(pq.p50), fmtMS(pq.max), pq.n, pq.items, pq.bytes))
			for _, lq := range qres {
				if lq.figure == pq.figure && pq.p99 > 0 {
					v := ms(lq.p99) / ms(pq.p99)
					r.Ratio, r.RatioTo = &v, lq.figure+", p99"
					if lq.items != pq.items {
						rep.Warnings = append(rep.Warnings, fmt.Sprintf("peer answers differ: %s: the ledger's first answer has %d items, the peer's %d", pq.figure, lq.items, pq.items))
					}
					r.Note = fmt.Sprintf("ratio: ledger / peer p99 (ledger p50 %s, p99 %s); ", fmtMS(lq.p50), fmtMS(lq.p99)) + r.Note
				}
			}
		}
	}

	// 6. Memory and disk.
	anon := max(anonHTTP, anonNATS, anonReplay, anonQueries)
	rows.add(benchAnonFig, mib(anon), "MiB").atMost(512, "512 MiB").
		note(fmt.Sprintf("HTTP ingest %.0f, NATS ingest %.0f, replay %.0f, queries %.0f MiB; includes the bench client", mib(anonHTTP), mib(anonNATS), mib(anonReplay), mib(anonQueries)))
	anonRaw, _ := mem.peak("raw")
	rows.add("peak RssAnon, raw limits phase", mib(anonRaw), "MiB")
	stored := float64(max(1, hres.stored))
	rows.add("disk: stream (data/nats) per event", float64(benchDirSize(filepath.Join(httpDir, "nats")))/stored, "bytes/event").
		note(fmt.Sprintf("%.0f MiB for %d events; envelopes average %.0f bytes", mib(benchDirSize(filepath.Join(httpDir, "nats"))), hres.stored, float64(data.bytes)/float64(max(1, data.events))))
	for _, name := range []string{directory.Name, history.Name, timeline.Name} {
		size := benchFileSize(filepath.Join(httpDir, "views", name+".db"))
		r := rows.add("disk: "+name+" view file (live) per event", float64(size)/stored, "bytes/event").note(fmt.Sprintf("%.1f MiB", mib(size)))
		for _, rr := range rres {
			if rr.view == name {
				r.Note += fmt.Sprintf("; rebuilt: %.1f MiB (%.0f bytes/event)", mib(rr.bytes), float64(rr.bytes)/stored)
			}
		}
	}
	say("done")
	return finish(nil)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fmtMS(d time.Duration) string { return strconv.FormatFloat(ms(d), 'f', 2, 64) + " ms" }

// printBench prints the machine, the scale and ONE table.
func printBench(w io.Writer, rep *benchReport) {
	m, s := rep.Machine, rep.Scale
	fmt.Fprintf(w, "machine: %d cores, GOMAXPROCS %d, %s, %s, %s, memory %s\n", m.Cores, m.GOMAXPROCS, m.GoVersion, m.OS, m.CPU, m.MemTotal)
	fmt.Fprintf(w, "scale: %d interactions over %d days, %d envelopes (%d unique), %d agents, %d teams, %d queues, %d customers, seed %d; busiest customer %s (%d events)\n",
		s.Interactions, s.Days, s.Events, s.UniqueEvents, s.Agents, s.Teams, s.Queues, s.Customers, s.Seed, s.Busiest, s.BusiestEvents)
	fmt.Fprintf(w, "targets are set for %d interactions on 2 cores; printed, never asserted. took %s\n\n", s.TargetScale, rep.Took)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "FIGURE\tVALUE\tUNIT\tRATIO TO RAW\tTARGET\tHOLDS\tNOTE\n")
	for _, r := range rep.Rows {
		ratio := "-"
		if r.Ratio != nil {
			ratio = fmt.Sprintf("%.0f%%", 100**r.Ratio)
		}
		target, holds := "-", "-"
		if r.Target != "" {
			target = r.Target
		}
		if r.Holds != nil {
			holds = map[bool]string{true: "yes", false: "NO"}[*r.Holds]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Figure, fmtValue(r.Value, r.Unit), r.Unit, ratio, target, holds, r.Note)
	}
	tw.Flush()
	for _, warn := range rep.Warnings {
		fmt.Fprintln(w, "warning:", warn)
	}
}

func fmtValue(v float64, unit string) string {
	switch unit {
	case "ms", "s":
		return strconv.FormatFloat(v, 'f', 2, 64)
	case "MiB":
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return thousands(int64(v + 0.5))
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
