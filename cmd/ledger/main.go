// Command ledger runs the interaction ledger: `ledger serve` (embedded NATS JetStream,
// projectors, HTTP API), `ledger replay` (rebuild views from the stream), `ledger status`
// (stream, views, lag) and `ledger token` (mint a JWT for an agent). It only turns flags
// and LEDGER_* variables into a node.Config and calls the node (adapters/node); the
// benchmark is its own command, cmd/ledger-bench.
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
		fmt.Fprintln(os.Stderr, "ledger:", err)
		os.Exit(1)
	}
}

const usage = `usage: ledger <command> [flags]

commands:
  serve    run the ledger: embedded NATS JetStream (or LEDGER_NATS_URL), projectors, HTTP API
  replay   rebuild views from the stream into fresh files, then swap them in (offline)
  status   stream, views, checkpoints, lag, dead letters
  verify   check the event stream against its seals (exit 1 at the first tampered event)
  token    mint a JWT for an agent
  producer-url
           print a NATS URL with a producer's credentials (publish customer events only)

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
	case "verify":
		return cmdVerify(ctx, args[1:], getenv, stdout, stderr)
	case "token":
		return cmdToken(args[1:], getenv, stdout, stderr)
	case "producer-url":
		return cmdProducerURL(args[1:], getenv, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
