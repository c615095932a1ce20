package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/interaction-ledger/ledger/adapters/erasure"
	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/history"
	"github.com/interaction-ledger/ledger/projections/timeline"
)

// Names of the erasers' durables on a cluster. WARNING: renaming them re-consumes every
// customer.erased still in the stream (each erasure is idempotent, but costs a full scan).
const (
	// streamEraser is shared by every node through a deliver group of the same name: the
	// stream deletions of an erasure run once per cluster.
	streamEraser = "erasure-stream"
	// viewsEraserPrefix + node id is each node's own eraser of its views.
	viewsEraserPrefix = "erasure-views-"
	// nodeConsumerIdle is how long the server keeps a node's own eraser durable with no
	// subscriber: a node gone for good stops holding erasures back after this long.
	nodeConsumerIdle = 7 * 24 * time.Hour
)

// defaultNodeID is the host name, made fit for a consumer name ('.' and the other
// characters a NATS name cannot hold become '_').
func defaultNodeID() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "node"
	}
	return sanitizeNodeID(h)
}

func sanitizeNodeID(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			return r
		}
		return '_'
	}, s)
}

// validNodeID: the node id is part of consumer names.
func validNodeID(s string) bool { return s != "" && len(s) <= 64 && sanitizeNodeID(s) == s }

// clustered: the node shares an external NATS cluster with other ledger nodes.
func (c Config) clustered() bool { return c.NATSURL != "" }

// Start-up back-off while the cluster is unreachable.
const (
	openRetryMin = 500 * time.Millisecond
	openRetryMax = 15 * time.Second
)

// openStore opens the event store; on a cluster it keeps trying with a bounded back-off
// while the cluster is unreachable (the node is not serving, so not ready, meanwhile),
// until ctx ends. A configuration error ends it at once.
func openStore(ctx context.Context, cfg Config, listen bool, log *slog.Logger) (*eventstore.Store, error) {
	wait := openRetryMin
	for {
		store, err := eventstore.Open(ctx, cfg.StoreConfig(listen), log)
		if err == nil || !cfg.clustered() || !errors.Is(err, eventstore.ErrUnavailable) {
			return store, err
		}
		log.Warn("NATS cluster unreachable; trying again", "err", err, "after", wait)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (gave up: %w)", err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, openRetryMax)
	}
}

// newErasers are the node's erasers (see adapters/erasure). A single node runs one that
// does everything. On a cluster each node runs its own eraser of its views and compacts
// their files (a durable of its own), and joins the one stream eraser that all nodes
// share through a deliver group; that one deletes from the streams only once every node
// has erased its views (Peers).
func (n *Node) newErasers() ([]*erasure.Eraser, error) {
	var views []erasure.View
	for _, name := range []string{history.Name, timeline.Name} {
		views = append(views, n.View(name))
	}
	if !n.cfg.clustered() {
		e, err := erasure.New(erasure.Config{Store: n.store, Views: views, Maintenance: &n.maint, Logger: n.log})
		return []*erasure.Eraser{e}, err
	}
	own, err := erasure.New(erasure.Config{Store: n.store, Views: views, Maintenance: &n.maint, Logger: n.log,
		Steps: erasure.StepViews, Durable: viewsEraserPrefix + n.cfg.NodeID, InactiveThreshold: nodeConsumerIdle})
	if err != nil {
		return nil, err
	}
	shared, err := erasure.New(erasure.Config{Store: n.store, Logger: n.log,
		Steps: erasure.StepStream, Durable: streamEraser, Group: streamEraser, Peers: n.viewsErased})
	if err != nil {
		return nil, err
	}
	return []*erasure.Eraser{own, shared}, nil
}

// viewsErased returns once every node's own eraser has acknowledged the erase event at
// seq (it does so after its views applied it and their files were compacted), or fails
// when ctx ends.
func (n *Node) viewsErased(ctx context.Context, seq uint64) error {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		cs, err := n.store.Consumers(ctx, eventstore.StreamEvents, viewsEraserPrefix)
		if err != nil {
			return err
		}
		var behind []string
		for _, c := range cs {
			if c.AckFloor < seq {
				behind = append(behind, strings.TrimPrefix(c.Name, viewsEraserPrefix))
			}
		}
		if len(cs) > 0 && len(behind) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nodes still to erase their views: %s: %w", strings.Join(behind, ", "), ctx.Err())
		case <-t.C:
		}
	}
}

// NodeLag is how far one node's projector of a view stands behind its stream, as the
// cluster sees it (the node's durable consumer).
type NodeLag struct {
	Node      string `json:"node"`
	View      string `json:"view"`
	AckFloor  uint64 `json:"ack_floor"`
	LagEvents uint64 `json:"lag_events"`
}

// nodeLags reads every node's view consumers: "view-<view>-<node>".
func (n *Node) nodeLags(ctx context.Context, last map[string]uint64) ([]NodeLag, error) {
	var out []NodeLag
	for _, v := range n.views {
		prefix := projections.DurableName(v.Name(), "") + "-"
		cs, err := n.store.Consumers(ctx, v.Stream(), prefix)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			l := NodeLag{Node: strings.TrimPrefix(c.Name, prefix), View: v.Name(), AckFloor: c.AckFloor}
			if ls := last[v.Stream()]; ls > c.AckFloor {
				l.LagEvents = ls - c.AckFloor
			}
			out = append(out, l)
		}
	}
	return out, nil
}
