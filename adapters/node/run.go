package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/net/netutil"
	"golang.org/x/sync/errgroup"

	"github.com/interaction-ledger/ledger/adapters/audit"
	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/httpapi"
	"github.com/interaction-ledger/ledger/adapters/pages"
	"github.com/interaction-ledger/ledger/adapters/seal"
	"github.com/interaction-ledger/ledger/adapters/webhooks"
	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/projections/history"
	"github.com/interaction-ledger/ledger/projections/savedviews"
	"github.com/interaction-ledger/ledger/projections/timeline"
)

// Serve opens the node, runs it until ctx ends and closes it: `ledger serve`. When
// started is not nil it receives the HTTP address once the node is ready (tests, bench).
func Serve(ctx context.Context, cfg Config, log *slog.Logger, stdout io.Writer, started chan<- string) error {
	if err := cfg.Validate(true); err != nil {
		return err
	}
	// The providers are built again by Run; building them here refuses a bad secret or
	// customer map before anything starts.
	if _, err := webhookProviders(cfg); err != nil {
		return err
	}
	n, err := Open(ctx, cfg, log, Options{Listen: true})
	if err != nil {
		return err
	}
	runErr := n.Run(ctx, stdout, started)
	if err := n.Close(); err != nil {
		n.log.Error("close", "err", err)
		return errors.Join(runErr, err)
	}
	return runErr
}

// maxHeaderBytes bounds a request's headers.
const maxHeaderBytes = 64 << 10

// httpServer is an HTTP server within the node's limits.
func (n *Node) httpServer(h http.Handler) *http.Server {
	l := n.cfg.HTTP
	// Streaming answers (the live list) end when the server shuts down, rather than
	// holding Shutdown for its whole grace: their requests' context is cancelled then.
	base, cancel := context.WithCancel(context.Background())
	srv := &http.Server{Handler: h,
		ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: l.ReadTimeout, WriteTimeout: l.WriteTimeout,
		IdleTimeout: l.IdleTimeout, MaxHeaderBytes: maxHeaderBytes,
		ErrorLog:    slog.NewLogLogger(n.log.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context { return base }}
	srv.RegisterOnShutdown(cancel)
	return srv
}

// metricsPolicy says who may read /metrics on the API's address.
func (n *Node) metricsPolicy() httpapi.MetricsPolicy {
	switch {
	case n.cfg.MetricsAddr != "":
		return httpapi.MetricsElsewhere
	case n.cfg.MetricsOps:
		return httpapi.MetricsOps
	}
	return httpapi.MetricsOpen
}

// Run serves the node until ctx ends; see the package doc for the shutdown order. The
// caller closes the node afterwards.
func (n *Node) Run(ctx context.Context, stdout io.Writer, started chan<- string) error {
	verifier, err := auth.New(n.cfg.AuthConfig())
	if err != nil {
		return err
	}
	providers, err := webhookProviders(n.cfg)
	if err != nil {
		return err
	}
	// The agents' saved views: a file of their own beside the views, never rebuilt.
	saved, err := savedviews.Open(filepath.Join(n.cfg.ViewsDir(), "savedviews.db"))
	if err != nil {
		return err
	}
	defer saved.Close()
	ln, err := net.Listen("tcp", n.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", n.cfg.HTTPAddr, err)
	}
	ln = netutil.LimitListener(ln, n.cfg.HTTP.MaxConns)
	var metricsLn net.Listener
	if n.cfg.MetricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", n.cfg.MetricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("listen on %s (metrics): %w", n.cfg.MetricsAddr, err)
		}
	}

	// Background workers run on bg, which the conductor cancels only after the HTTP
	// server has drained, so that a request in flight (a task command waiting for its
	// event) can finish.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	g, gctx := errgroup.WithContext(ctx)

	var serving, eraserUp atomic.Bool
	ready := func() bool { return serving.Load() && eraserUp.Load() }
	hooks := webhooks.NewHandler(n.ingest, n.log, providers...)
	hooks.Observe = func(provider string, code int) {
		n.metrics.WebhookResults.WithLabelValues(provider, strconv.Itoa(code)).Inc()
	}
	recorder, err := audit.NewRecorder(audit.Config{Store: n.store, Logger: n.log})
	if err != nil {
		return err
	}
	sealer, err := seal.New(seal.Config{Store: n.store, Interval: n.cfg.SealInterval, Logger: n.log})
	if err != nil {
		return err
	}
	api := httpapi.New(httpapi.Config{
		Verifier: verifier, Ingest: n.ingest, Directory: n.dir, History: n.hist, Timeline: n.tl,
		TimelineDB: n.View(timeline.Name).DB(), HistoryDB: n.View(history.Name).DB(), Webhooks: hooks,
		Ops:     ops{n: n, start: func(f func(context.Context) error) { g.Go(func() error { return f(bg) }) }},
		Metrics: n.metrics, MetricsPolicy: n.metricsPolicy(), Ready: ready, Logger: n.log,
		Audit: recorder, AccessLog: audit.NewLog(n.store, n.audit),
	})
	pagesCfg := httpapi.Config{Ingest: n.ingest, Timeline: n.tl, TimelineDB: n.View(timeline.Name).DB(), Logger: n.log,
		History: n.hist, HistoryDB: n.View(history.Name).DB(), Directory: n.dir}
	web, err := pages.New(pages.Config{Verifier: verifier, Directory: n.dir, History: n.hist, Timeline: n.tl,
		Tasks: pagesCfg.TaskCommands(), Actions: pagesCfg.InteractionCommands(), Buttons: pagesCfg.MyButtons(),
		SavedViews: saved, Live: api.Live(), WaitPosition: n.waitPosition, FrameAncestors: n.cfg.FrameAncestors,
		CRMRecordURL: n.cfg.CRMRecordURL, ClickToCallURL: n.cfg.ClickToCallURL, Logger: n.log, Audit: recorder})
	if err != nil {
		return err
	}
	// The API keeps its paths; everything else is the agents' pages.
	root := http.NewServeMux()
	root.Handle("/", web)
	for _, p := range []string{"/v1/", "/healthz", "/readyz", "/metrics", "/openapi.json"} {
		root.Handle(p, api)
	}
	srv := n.httpServer(root)
	servers := []struct {
		srv *http.Server
		ln  net.Listener
	}{{srv, ln}}
	if metricsLn != nil {
		servers = append(servers, struct {
			srv *http.Server
			ln  net.Listener
		}{n.httpServer(n.metrics.Handler()), metricsLn})
	}

	g.Go(func() error { return n.RunProjectors(bg) })
	g.Go(func() error { return n.runSweeper(bg) })
	g.Go(func() error { return n.runLag(bg) })
	g.Go(func() error { return n.runEraser(bg, eraserUp.Store) })
	// The recorder stops with the background workers, after the HTTP drain: every read
	// answered is recorded.
	g.Go(func() error { return recorder.Run(bg) })
	g.Go(func() error { return sealer.Run(bg) })
	for _, s := range servers {
		g.Go(func() error {
			if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http server on %s: %w", s.ln.Addr(), err)
			}
			return nil
		})
	}
	// The conductor: the shutdown order of the package doc.
	g.Go(func() error {
		<-gctx.Done()
		serving.Store(false)
		n.log.Info("shutting down: draining HTTP requests", "grace", n.cfg.ShutdownGrace)
		sctx, cancel := context.WithTimeout(context.Background(), n.cfg.ShutdownGrace)
		defer cancel()
		var errs []error
		for _, s := range servers {
			errs = append(errs, s.srv.Shutdown(sctx))
		}
		err := errors.Join(errs...)
		n.log.Info("shutting down: stopping projectors, eraser, sweeper and rebuilds")
		stopBG()
		if err != nil {
			return fmt.Errorf("drain HTTP: %w", err)
		}
		return nil
	})

	if n.cfg.Demo {
		if err := n.loadDemo(ctx, stdout); err != nil {
			n.log.Error("demo data", "err", err)
		}
	}
	serving.Store(gctx.Err() == nil)
	n.log.Info("ledger ready", "http", ln.Addr().String(), "nats", n.store.ClientURL(), "data", n.cfg.DataDir)
	if started != nil {
		started <- ln.Addr().String()
	}

	done := make(chan error, 1)
	go func() { done <- g.Wait() }() // a waiter, not a worker: it only reports g's end
	select {
	case err = <-done:
	case <-gctx.Done():
		select {
		case err = <-done:
		case <-time.After(n.cfg.ShutdownGrace + n.cfg.StopBound):
			return fmt.Errorf("shutdown: workers still running after %s; closing anyway", n.cfg.ShutdownGrace+n.cfg.StopBound)
		}
	}
	n.log.Info("ledger stopped")
	return err
}

// waitPosition waits until every view of the event stream on this node has applied seq
// (the pages' read-your-writes after a command), or ctx ends.
func (n *Node) waitPosition(ctx context.Context, seq uint64) error {
	for _, v := range n.views {
		if v.Stream() != eventstore.StreamEvents {
			continue
		}
		if err := v.WaitCheckpoint(ctx, seq); err != nil {
			return err
		}
	}
	return nil
}
