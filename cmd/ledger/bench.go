package main

import (
	"context"
	"errors"
	"io"
)

// cmdBench measures the ledger against the raw limits (work in progress).
func cmdBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return errors.New("bench: not implemented yet")
}
