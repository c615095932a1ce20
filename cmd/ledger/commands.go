package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/node"
	"github.com/interaction-ledger/ledger/eventstore"
)

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var demo bool
	cfg, _, err := parse("serve", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&demo, "demo", false, "load a day of demo data when the stream is empty, and print how to query it")
	})
	if err != nil {
		return err
	}
	cfg.Demo = demo
	return node.Serve(ctx, cfg, slog.New(slog.NewJSONHandler(stderr, nil)), stdout, nil)
}

func cmdReplay(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var only string
	cfg, _, err := parse("replay", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&only, "view", "", "rebuild only this view (directory, history, timeline, audit)")
	})
	if err != nil {
		return err
	}
	return node.Replay(ctx, cfg, only, stdout, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

func cmdStatus(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var asJSON bool
	cfg, _, err := parse("status", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	})
	if err != nil {
		return err
	}
	return node.PrintStatus(ctx, cfg, asJSON, stdout, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// cmdVerify checks the stream against its seals: ledger verify.
func cmdVerify(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := parse("verify", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	return node.Verify(ctx, cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), stdout)
}

// tokenTTL is how long `ledger token` tokens live by default.
const tokenTTL = 12 * time.Hour

// cmdToken mints a JWT: ledger token [-scope "history:read"] [-ttl 12h] AGENT_ID
func cmdToken(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	scope := auth.ScopeHistoryRead
	ttl := tokenTTL
	cfg, rest, err := parse("token", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&scope, "scope", scope, "space-separated scopes: history:read ingest tasks:write ops")
		fs.DurationVar(&ttl, "ttl", ttl, "validity")
	})
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("usage: ledger token [-scope S] [-ttl D] AGENT_ID")
	}
	if err := cfg.Validate(true); err != nil {
		return err
	}
	v, err := auth.New(cfg.AuthConfig())
	if err != nil {
		return err
	}
	tok, err := v.Mint(rest[0], strings.Fields(scope), time.Now(), ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// cmdProducerURL prints a NATS URL with a producer's credentials (CONTRACT §4): it may
// publish customer events to ledger.events.<type> and nothing else.
func cmdProducerURL(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := parse("producer-url", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	if cfg.NATSURL != "" {
		return fmt.Errorf("with LEDGER_NATS_URL the cluster's operator issues producer credentials, not the ledger")
	}
	u, err := eventstore.ProducerURL(cfg.StoreConfig(true))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, u)
	return nil
}
