// Command ledger-bench generates a realistic contact centre (domain/scenario), runs the
// ledger on it in process and measures it against the raw limits of its parts: ingest
// over HTTP and straight to NATS, replay, every query kind, memory and disk, beside a
// PostgreSQL peer. `ledger-bench summarize REPORT.json...` takes the medians of several
// runs' --json reports and judges the targets on them. `make bench` runs both; see
// README: Performance.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/interaction-ledger/ledger/adapters/node"
)

func main() {
	node.TuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ledger-bench:", err)
		os.Exit(1)
	}
}

// run is main without the process: testable, with its environment passed in.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "summarize" {
		return cmdSummarize(args[1:], stdout, stderr)
	}
	return cmdBench(ctx, args, getenv, stdout, stderr)
}
