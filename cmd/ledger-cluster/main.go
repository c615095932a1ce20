// Command ledger-cluster runs three nats-servers clustered on loopback (JetStream, file
// store, R3) and two ledger nodes pointed at them, for a demo of scale-out (`make
// cluster`); its tests break that cluster (servers and nodes killed, storage wiped) and
// check that no acknowledged event is lost. Everything lives under one directory
// (-dir); nothing listens beyond loopback.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/interaction-ledger/ledger/cmd/ledger-cluster/cluster"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ledger-cluster:", err)
		os.Exit(1)
	}
}

// run builds the binaries, starts the cluster, prints where it answers and stops it when
// ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ledger-cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "data/cluster", "directory of the servers' and nodes' data (kept between runs)")
	servers := fs.Int("servers", 3, "nats-servers in the cluster")
	nodes := fs.Int("nodes", 2, "ledger nodes")
	quiet := fs.Bool("quiet", false, "do not print the processes' logs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *servers < 1 || *nodes < 1 {
		return fmt.Errorf("-servers %d, -nodes %d: need at least one of each", *servers, *nodes)
	}
	secret := getenv("LEDGER_AUTH_SECRET")
	if secret == "" {
		return fmt.Errorf("LEDGER_AUTH_SECRET is empty (make cluster sets a development one)")
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	bin := filepath.Join(abs, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "building nats-server and ledger into", bin)
	natsServer, ledger, err := cluster.Build(ctx, bin)
	if err != nil {
		return err
	}
	// Ports are picked afresh each run; the servers' stores and the nodes' views are kept.
	c, err := cluster.New(abs, *servers, *nodes)
	if err != nil {
		return err
	}
	c.NATSServer, c.Ledger, c.Env = natsServer, ledger, []string{"LEDGER_AUTH_SECRET=" + secret}
	if !*quiet {
		c.Out = stdout
	}
	defer c.Stop()
	if err := c.Start(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nNATS cluster: %s\n", c.NATSURL())
	for _, n := range c.Nodes {
		fmt.Fprintf(stdout, "ledger node %s: %s (data %s)\n", n.ID, n.Base(), n.DataDir)
	}
	fmt.Fprintf(stdout, "a token: LEDGER_AUTH_SECRET=... %s token -scope history:read AGENT_ID\nCtrl-C stops everything.\n", ledger)
	<-ctx.Done()
	return nil
}
