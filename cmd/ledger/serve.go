package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/httpapi"
	"github.com/interaction-ledger/ledger/adapters/webhooks"
)

// shutdownGrace bounds the drain of HTTP requests at shutdown; projectors finish the
// batch they hold (one bbolt transaction) and stop.
const shutdownGrace = 7 * time.Second

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg config
	if _, err := cfg.parse("serve", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&cfg.Demo, "demo", false, "load a day of demo data when the stream is empty, and print how to query it")
	}); err != nil {
		return err
	}
	if err := cfg.validate(true); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	return serve(ctx, cfg, log, stdout, nil)
}

// serve runs the ledger until ctx ends. When started is not nil it receives the HTTP
// address once the ledger is ready (tests).
func serve(ctx context.Context, cfg config, log *slog.Logger, stdout io.Writer, started chan<- string) error {
	verifier, err := auth.NewVerifier(cfg.AuthSecret)
	if err != nil {
		return err
	}
	l, err := openLedger(ctx, cfg, log, openOptions{listen: true})
	if err != nil {
		return err
	}
	defer func() {
		if err := l.close(); err != nil {
			log.Error("close", "err", err)
		}
	}()
	providers, err := webhookProviders(cfg)
	if err != nil {
		return err
	}
	var ready atomic.Bool
	ops := &opsService{l: l}
	hooks := webhooks.NewHandler(l.ingest, log, providers...)
	hooks.Observe = func(provider string, code int) {
		l.metrics.WebhookResults.WithLabelValues(provider, strconv.Itoa(code)).Inc()
	}
	api := httpapi.New(httpapi.Config{
		Verifier: verifier, Ingest: l.ingest, Directory: l.dir, History: l.hist, Timeline: l.tl,
		TimelineDB: l.view("timeline").db, Webhooks: hooks,
		Ops: ops, Metrics: l.metrics, Ready: ready.Load, Logger: log,
	})
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	// Projectors and background loops stop only after the HTTP server has drained, so
	// that a request in flight (a task command waiting for its event) can finish.
	bgCtx, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	g, gctx := errgroup.WithContext(ctx)
	var bg sync.WaitGroup
	bg.Add(3)
	go func() { defer bg.Done(); l.runProjectors(bgCtx) }()
	go func() { defer bg.Done(); l.runSweeper(bgCtx) }()
	go func() { defer bg.Done(); l.runLag(bgCtx) }()
	eraser, err := l.newEraser()
	if err != nil {
		return err
	}
	bg.Add(1)
	go func() {
		defer bg.Done()
		if err := eraser.Run(bgCtx); err != nil {
			log.Error("eraser stopped", "err", err)
		}
	}()
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down: draining HTTP requests")
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	if cfg.Demo {
		if err := loadDemo(ctx, l, cfg, stdout); err != nil {
			log.Error("demo data", "err", err)
		}
	}
	ready.Store(true)
	log.Info("ledger ready", "http", ln.Addr().String(), "nats", l.store.ClientURL(), "data", cfg.DataDir)
	if started != nil {
		started <- ln.Addr().String()
	}
	err = g.Wait()
	ready.Store(false)
	stopBG()
	bg.Wait()
	ops.wait()
	log.Info("ledger stopped")
	return err
}
