package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/interaction-ledger/ledger/adapters/auth"
)

// cmdToken mints a JWT: ledger token [-scope "history:read"] [-ttl 12h] AGENT_ID
func cmdToken(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg config
	scope := auth.ScopeHistoryRead
	ttl := tokenTTL
	rest, err := cfg.parse("token", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&scope, "scope", scope, "space-separated scopes: history:read ingest tasks:write ops")
		fs.DurationVar(&ttl, "ttl", ttl, "validity")
	})
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("usage: ledger token [-scope S] [-ttl D] AGENT_ID")
	}
	if err := cfg.validate(true); err != nil {
		return err
	}
	tok, err := auth.Mint(cfg.AuthSecret, rest[0], strings.Fields(scope), time.Now(), ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
