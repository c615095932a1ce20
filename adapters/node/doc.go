// Package node is one running ledger node, assembled: the event store (embedded NATS
// JetStream or a cluster), a runner per view, ingest, the retention sweeper, the lag
// observer, the eraser, the online rebuilds and the HTTP server, owned by one errgroup and
// stopped in a fixed order within a bound. Each subcommand of cmd/ledger is one call here
// (Run, Replay, Status), so the whole system can be started and tested in process.
//
// It lives under adapters because it is the outermost ring of the design: it plugs the
// adapters (HTTP, webhooks, ingest, erasure, metrics) onto the ports of the projections and
// the event store, and imports everything below it; cmd only turns flags into a Config.
//
// # Shutdown
//
// When Run's context ends: (1) the node reports not ready and the HTTP server drains the
// requests in flight (Config.ShutdownGrace, default 7 s), so that a command waiting for its
// event can answer; (2) the background workers are cancelled — the retention sweeper, the
// lag observer, the eraser and any online rebuild (abandoned: the old file keeps serving)
// — and the projectors finish the batch they hold (one bbolt transaction); Run waits for
// them at most Config.StopBound (default 10 s); (3) the view files close, then the event
// store (which drains its publishes and stops the embedded server).
package node
