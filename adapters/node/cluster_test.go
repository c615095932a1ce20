package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/eventstore/storetest"
)

// TestClusterConfigDefaults: on a cluster the streams default to 3 replicas and the node
// id to a name fit for a consumer; bad values are refused naming the variable.
func TestClusterConfigDefaults(t *testing.T) {
	tests := []struct {
		name         string
		cfg          Config
		wantReplicas int
		wantErr      string
	}{
		{"embedded: one replica", Config{}, 1, ""},
		{"cluster: three replicas", Config{NATSURL: "nats://127.0.0.1:4222"}, 3, ""},
		{"cluster: replicas as set", Config{NATSURL: "nats://127.0.0.1:4222", Replicas: 5}, 5, ""},
		{"bad replicas", Config{NATSURL: "nats://127.0.0.1:4222", Replicas: -1}, -1, "LEDGER_NATS_REPLICAS"},
		{"bad node id", Config{NATSURL: "nats://127.0.0.1:4222", NodeID: "a.b"}, 3, "LEDGER_NODE_ID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			c.setDefaults()
			if c.Replicas != tc.wantReplicas {
				t.Errorf("Replicas: got %d, want %d", c.Replicas, tc.wantReplicas)
			}
			if !validNodeID(c.NodeID) && tc.wantErr == "" {
				t.Errorf("default NodeID %q is not a valid consumer name part", c.NodeID)
			}
			err := c.Validate(false)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Validate: got %v, want an error naming %s", err, tc.wantErr)
			}
		})
	}
	if got := sanitizeNodeID("web-1.example.com"); got != "web-1_example_com" {
		t.Errorf("sanitizeNodeID: got %q", got)
	}
}

// signalHandler is a slog handler that reports every record's message on a channel.
type signalHandler struct{ msgs chan<- string }

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.msgs <- r.Message:
	default:
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

// TestOpenWaitsForCluster: a node started while its NATS cluster is down keeps trying
// instead of exiting, and opens once the cluster answers.
func TestOpenWaitsForCluster(t *testing.T) {
	srv := storetest.RunServer(t)
	srv.Stop()
	msgs := make(chan string, 16)
	cfg := Config{DataDir: t.TempDir(), NATSURL: srv.URL(), Replicas: 1, NodeID: "a", Region: "US"}
	type result struct {
		n   *Node
		err error
	}
	done := make(chan result, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go func() {
		n, err := Open(ctx, cfg, slog.New(signalHandler{msgs}), Options{})
		done <- result{n, err}
	}()
	for m := range msgs {
		if strings.Contains(m, "unreachable") {
			break
		}
	}
	select {
	case r := <-done:
		t.Fatalf("Open returned while the cluster was down: %v", r.err)
	default:
	}
	srv.Start()
	r := <-done
	if r.err != nil {
		t.Fatalf("Open after the cluster came up: %v", r.err)
	}
	r.n.Close()

	// A configuration error is not retried.
	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ccancel()
	_, err := Open(cctx, Config{DataDir: t.TempDir(), NATSURL: srv.URL(), NATSCreds: "/nonexistent.creds", Replicas: 1, NodeID: "a", Region: "US"}, slog.New(slog.DiscardHandler), Options{})
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Open with a missing credentials file: got %v, want its error at once", err)
	}
}

// TestNodesProjectOwnCopies: two nodes on one JetStream each project every event into
// their own views (their durables carry the node id), where one shared durable would
// split the messages between them.
func TestNodesProjectOwnCopies(t *testing.T) {
	srv := storetest.RunServer(t)
	var nodes []*Node
	for _, id := range []string{"a", "b"} {
		cfg := Config{DataDir: t.TempDir(), NATSURL: srv.URL(), Replicas: 1, NodeID: id, Region: "US", AuthSecret: testSecret}
		n, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		nodes = append(nodes, n)
	}
	var envs []map[string]any
	for i := range 300 {
		envs = append(envs, ev("interaction.started", "cus-own", 5, map[string]any{"interaction_id": fmt.Sprintf("own-%d", i),
			"flow": "voice", "direction": "incoming", "routing": "direct", "agent_id": "ann"}))
	}
	appendFixture(t, nodes[0], envs)
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() { runUntilCaughtUp(t, n) })
	}
	wg.Wait()
	for _, n := range nodes {
		if got := len(everything(t, n)); got != len(envs) {
			t.Errorf("node %s lists %d interactions, want %d", n.cfg.NodeID, got, len(envs))
		}
		st, err := n.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		nodesSeen := map[string]bool{}
		for _, l := range st.Nodes {
			nodesSeen[l.Node] = true
		}
		if !nodesSeen["a"] || !nodesSeen["b"] {
			t.Errorf("node %s status: nodes %v, want a and b", n.cfg.NodeID, st.Nodes)
		}
	}
	cs, err := nodes[0].store.Consumers(context.Background(), eventstore.StreamEvents, "view-")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	if want := "view-history-a view-history-b view-timeline-a view-timeline-b"; strings.Join(names, " ") != want {
		t.Errorf("consumers: got %v, want %s", names, want)
	}
}
