package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/cmd/ledger-bench/pgpeer"
	"github.com/interaction-ledger/ledger/domain"
)

// benchPeerResult is what the PostgreSQL peer measured.
type benchPeerResult struct {
	queryable time.Duration // every batch committed (a committed row is queryable)
	copyTook  time.Duration // COPY of the same events into a fresh indexed events table
	copied    int64
	queries   []benchQueryResult
}

// benchRunPeer runs the PostgreSQL peer on the same data: a throwaway cluster, the peer's
// HTTP layer on loopback, the same ingest client and the same query cases.
func benchRunPeer(ctx context.Context, data *benchData, secret string, clients, batch, perKind int, progress io.Writer) (res benchPeerResult, err error) {
	cl, err := pgpeer.StartCluster(ctx)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, cl.Stop()) }()
	pool, err := pgpeer.CreateDatabase(ctx, cl, "peer")
	if err != nil {
		return res, err
	}
	defer pool.Close()
	ver, err := auth.NewVerifier(secret)
	if err != nil {
		return res, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	srv := &http.Server{Handler: pgpeer.Handler(pgpeer.NewStore(pool, "US"), ver), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	bl := &benchLedger{base: "http://" + ln.Addr().String(),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients + 2, MaxConnsPerHost: clients + 2, DisableCompression: true}}}
	defer bl.client.CloseIdleConnections()

	tok, err := auth.Mint(secret, "bench-producer", []string{auth.ScopeIngest}, time.Now(), 24*time.Hour)
	if err != nil {
		return res, err
	}
	start := time.Now()
	if err := benchPostAll(ctx, []*benchLedger{bl}, data, tok, clients, batch); err != nil {
		return res, fmt.Errorf("peer: %w", err)
	}
	res.queryable = time.Since(start)
	fmt.Fprintf(progress, "bench: PostgreSQL peer ingest committed in %s\n", res.queryable.Round(time.Millisecond))
	// Statistics for the planner, as an operator would after a bulk load.
	if _, err := pool.Exec(ctx, "ANALYZE"); err != nil {
		return res, fmt.Errorf("peer: analyze: %w", err)
	}
	if res.queries, err = benchRunQueries(ctx, bl, data, secret, perKind, progress); err != nil {
		return res, fmt.Errorf("peer: %w", err)
	}
	res.copyTook, res.copied, err = benchPeerCopy(ctx, cl, data)
	return res, err
}

// benchPeerCopy loads the envelopes into a fresh database's events table (its indexes
// present) with COPY: PostgreSQL's fastest write path, the lower bound of what a peer
// could ingest (no fold into interaction rows). The time includes decoding.
func benchPeerCopy(ctx context.Context, cl *pgpeer.Cluster, data *benchData) (time.Duration, int64, error) {
	pool, err := pgpeer.CreateDatabase(ctx, cl, "copyload")
	if err != nil {
		return 0, 0, err
	}
	defer pool.Close()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Release()
	start := time.Now()
	// Unique ids only: COPY has no ON CONFLICT (the duplicates a producer resends are
	// the upsert path's job).
	seen := map[string]struct{}{}
	var rows [][]any
	now := time.Now()
	err = data.each(false, func(_, id string, raw []byte) error {
		if _, dup := seen[id]; dup {
			return nil
		}
		seen[id] = struct{}{}
		ev, err := domain.DecodeIncoming(raw, now)
		if err != nil {
			return err
		}
		var iid *string
		if ref, ok := ev.Payload.(domain.InteractionRef); ok {
			s := ref.InteractionKey()
			iid = &s
		}
		rows = append(rows, []any{ev.ID, ev.Type.String(), ev.OccurredAt, ev.CustomerID, iid, ev.Source, string(ev.Data)})
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("peer copy: %w", err)
	}
	n, err := conn.Conn().CopyFrom(ctx, pgx.Identifier{"events"},
		[]string{"id", "type", "occurred_at", "customer_id", "interaction_id", "source", "data"}, pgx.CopyFromRows(rows))
	if err != nil {
		return 0, 0, fmt.Errorf("peer copy: %w", err)
	}
	return time.Since(start), n, nil
}
