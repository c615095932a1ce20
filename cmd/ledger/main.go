// Command ledger runs the interaction ledger: `ledger serve` (embedded NATS JetStream,
// projectors, HTTP API), `ledger replay` (rebuild views from the stream), `ledger status`
// (stream, views, lag), `ledger token` (mint a JWT for an agent) and `ledger bench`.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ledger:", err)
		os.Exit(1)
	}
}

// tuneGC collects less often than Go's default unless the operator set GOGC or
// GOMEMLIMIT: projectors allocate per event, and with GOGC=100 the collector took about
// a third of the CPU under load (pprof, ledger bench). The soft memory limit keeps the
// heap, and so RssAnon, within budget when collecting less often.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(300)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(400 << 20)
	}
}

const usage = `usage: ledger <command> [flags]

commands:
  serve    run the ledger: embedded NATS JetStream (or LEDGER_NATS_URL), projectors, HTTP API
  replay   rebuild views from the stream into fresh files, then swap them in (offline)
  status   stream, views, checkpoints, lag, dead letters
  token    mint a JWT for an agent
  bench    generate a realistic contact centre and measure the ledger against the raw limits

Run 'ledger <command> -h' for the flags of a command.
`

// run is main without the process: testable, with its environment passed in.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given")
	}
	switch args[0] {
	case "serve":
		return cmdServe(ctx, args[1:], getenv, stdout, stderr)
	case "replay":
		return cmdReplay(ctx, args[1:], getenv, stdout, stderr)
	case "status":
		return cmdStatus(ctx, args[1:], getenv, stdout, stderr)
	case "token":
		return cmdToken(args[1:], getenv, stdout, stderr)
	case "bench":
		return cmdBench(ctx, args[1:], getenv, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
