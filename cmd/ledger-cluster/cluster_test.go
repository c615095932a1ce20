package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/node"
	"github.com/interaction-ledger/ledger/adapters/node/nodetest"
	"github.com/interaction-ledger/ledger/cmd/ledger-cluster/cluster"
	"github.com/interaction-ledger/ledger/eventstore"
)

// startCluster builds the binaries and starts three nats-servers and two ledger nodes
// under a temporary directory; every process is stopped, and its log printed if the
// test failed, at cleanup.
func startCluster(t *testing.T) *cluster.Cluster {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns, led, err := cluster.Build(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cluster.New(dir, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	c.NATSServer, c.Ledger, c.Env = ns, led, []string{"LEDGER_AUTH_SECRET=" + nodetest.Secret}
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			for _, n := range c.Nodes {
				t.Logf("--- node %s log:\n%s", n.ID, tail(n.Log(), 8000))
			}
		}
	})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	return c
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// producers post batches of interactions through every node in turn and keep the ids
// of every batch answered 200: the acknowledged events.
type producers struct {
	mu    sync.Mutex
	acked []string
	codes map[int]int // answers by status code (0: no answer)
	stop  chan struct{}
	wg    sync.WaitGroup
}

func startProducers(t *testing.T, nodes []*cluster.Node, workers, batch int) *producers {
	t.Helper()
	tok := nodetest.Token(t, "svc", auth.ScopeIngest)
	p := &producers{stop: make(chan struct{}), codes: map[int]int{}}
	client := &http.Client{Timeout: 30 * time.Second}
	for w := range workers {
		p.wg.Go(func() {
			for i := w; ; i++ {
				select {
				case <-p.stop:
					return
				default:
				}
				n := nodes[i%len(nodes)]
				var evs []map[string]any
				var ids []string
				for range batch {
					id := "c-" + uuid.NewString()
					ids = append(ids, id)
					evs = append(evs, nodetest.Ev("interaction.started", "cus-c", 5, map[string]any{"interaction_id": id,
						"flow": "voice", "direction": "incoming", "routing": "direct", "agent_id": "ann"}))
				}
				code := post(client, n.Base(), tok, evs)
				p.mu.Lock()
				p.codes[code]++
				if code == http.StatusOK {
					p.acked = append(p.acked, ids...)
				}
				p.mu.Unlock()
				if code != http.StatusOK {
					time.Sleep(100 * time.Millisecond) // a node or the stream is down: pace the retries
				}
			}
		})
	}
	return p
}

func post(client *http.Client, base, tok string, evs []map[string]any) int {
	b, err := json.Marshal(evs)
	if err != nil {
		return 0
	}
	req, err := http.NewRequest("POST", base+"/v1/events", bytes.NewReader(b))
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (p *producers) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acked)
}

// waitMore waits until n more events were acknowledged than when it was called.
func (p *producers) waitMore(t *testing.T, n int) {
	t.Helper()
	want := p.count() + n
	nodetest.Eventually(t, fmt.Sprintf("%d acknowledged events", want), func() (bool, string) {
		got := p.count()
		return got >= want, fmt.Sprintf("%d acknowledged", got)
	})
}

func (p *producers) halt() ([]string, map[int]int) {
	close(p.stop)
	p.wg.Wait()
	return p.acked, maps.Clone(p.codes)
}

// status asks node n for its status.
func status(t *testing.T, n *cluster.Node) (node.Status, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return node.RemoteStatus(ctx, http.DefaultClient, n.Base(), nodetest.Secret)
}

// eventsHealth is StreamEvents' replicas as node n reports them.
func eventsHealth(t *testing.T, n *cluster.Node) (eventstore.StreamHealth, error) {
	t.Helper()
	st, err := status(t, n)
	if err != nil {
		return eventstore.StreamHealth{}, err
	}
	for _, r := range st.Replicas {
		if r.Name == eventstore.StreamEvents {
			return r, nil
		}
	}
	return eventstore.StreamHealth{}, fmt.Errorf("no %s in the status", eventstore.StreamEvents)
}

// waitReplicasCurrent waits until StreamEvents has a leader and every replica is current;
// it returns how long that took.
func waitReplicasCurrent(t *testing.T, via *cluster.Node) time.Duration {
	t.Helper()
	start := time.Now()
	nodetest.Eventually(t, "every replica of the event stream is current", func() (bool, string) {
		h, err := eventsHealth(t, via)
		if err != nil {
			return false, err.Error()
		}
		return h.Leader != "" && h.Current == h.Replicas && h.Replicas == 3, fmt.Sprintf("%+v", h)
	})
	return time.Since(start)
}

// waitApplied waits until node n's history view applied seq; it returns how long that
// took.
func waitApplied(t *testing.T, n *cluster.Node, seq uint64) time.Duration {
	t.Helper()
	start := time.Now()
	// Every view of the event stream, not only the history: each has a consumer of its
	// own, and after a leader change one may resume later than another (its pull
	// requests are renewed after the consumer's heartbeats are missed).
	deadline := start.Add(90 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		st, err := status(t, n)
		if err != nil {
			last = err.Error()
		} else {
			behind := []string{}
			for _, v := range st.Views {
				if v.Stream == eventstore.StreamEvents && v.Checkpoint < seq {
					behind = append(behind, fmt.Sprintf("%s at %d", v.Name, v.Checkpoint))
				}
			}
			if len(behind) == 0 {
				return time.Since(start)
			}
			last = strings.Join(behind, ", ")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("node %s did not apply seq %d within 90s: %s", n.ID, seq, last)
	return 0
}

// events is the event stream's figures as node n reports them.
func events(t *testing.T, n *cluster.Node) eventstore.StreamStats {
	t.Helper()
	st, err := status(t, n)
	if err != nil {
		t.Fatalf("status of %s: %v", n.ID, err)
	}
	for _, s := range st.Streams {
		if s.Name == eventstore.StreamEvents {
			return s
		}
	}
	t.Fatalf("status of %s: no %s", n.ID, eventstore.StreamEvents)
	return eventstore.StreamStats{}
}

// TestClusterFailures: three nats-servers (R3), two ledger nodes, producers writing
// through both while (a) the stream leader is SIGKILLed and restarted, (b) a ledger node
// is SIGKILLed and restarted, (c) one server's storage is wiped and it rejoins. At the
// end every acknowledged event is in both nodes' views exactly once and the nodes answer
// the same.
func TestClusterFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three nats-servers and two ledger processes")
	}
	c := startCluster(t)
	n1, n2 := c.Nodes[0], c.Nodes[1]
	if h, err := eventsHealth(t, n1); err != nil || h.Replicas != 3 {
		t.Fatalf("event stream: %+v, %v: want 3 replicas", h, err)
	}

	dirTok := nodetest.Token(t, "svc", auth.ScopeDirectoryWrite)
	setup := []map[string]any{
		nodetest.Ev("directory.profile", "", 60, map[string]any{"profile_id": "p", "queues": []string{"q"}, "flows": []string{"voice"}, "history_access": true}),
		nodetest.Ev("directory.agent", "", 60, map[string]any{"agent_id": "ann", "role": "collaborator", "active_profile_id": "p"}),
	}
	if code := post(http.DefaultClient, n1.Base(), dirTok, setup); code != http.StatusOK {
		t.Fatalf("directory: %d", code)
	}
	ann := nodetest.Token(t, "ann", auth.ScopeHistoryRead)
	for _, n := range c.Nodes {
		nodetest.Eventually(t, "ann is in node "+n.ID+"'s directory", func() (bool, string) {
			req, _ := http.NewRequest("GET", n.Base()+"/v1/interactions", nil)
			req.Header.Set("Authorization", "Bearer "+ann)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return false, err.Error()
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK, resp.Status
		})
	}

	prod := startProducers(t, c.Nodes, 4, 20)
	defer func() {
		select {
		case <-prod.stop:
		default:
			prod.halt()
		}
	}()
	prod.waitMore(t, 400)

	// (a) The stream leader, SIGKILLed; writes go on through the other two; it restarts.
	h, err := eventsHealth(t, n1)
	if err != nil {
		t.Fatal(err)
	}
	var leader *cluster.Server
	for _, s := range c.Servers {
		if s.Name == h.Leader {
			leader = s
		}
	}
	if leader == nil {
		t.Fatalf("no server named %q (the leader)", h.Leader)
	}
	leader.Kill()
	prod.waitMore(t, 400)
	if err := c.StartServer(leader); err != nil {
		t.Fatal(err)
	}
	catchLeader := waitReplicasCurrent(t, n1)
	t.Logf("(a) stream leader %s killed and restarted: replicas current %s after the restart", leader.Name, catchLeader.Round(time.Millisecond))

	// (b) A ledger node, SIGKILLed mid-write; the other keeps serving; it restarts from
	// its checkpoints with its own consumers.
	n2.Kill()
	prod.waitMore(t, 400)
	target := events(t, n1).LastSeq
	restart := time.Now()
	if err := c.StartNode(n2); err != nil {
		t.Fatal(err)
	}
	if err := n2.Ready(cluster.ReadyWithin); err != nil {
		t.Fatalf("node %s not ready after restart: %v", n2.ID, err)
	}
	waitApplied(t, n2, target)
	catchNode := time.Since(restart)
	t.Logf("(b) node %s killed and restarted: applied the %d events of the stream at its restart %s after it", n2.ID, target, catchNode.Round(time.Millisecond))

	// (c) One server (not the leader) loses its storage and rejoins empty.
	if h, err = eventsHealth(t, n1); err != nil {
		t.Fatal(err)
	}
	var victim *cluster.Server
	for _, s := range c.Servers {
		if s.Name != h.Leader {
			victim = s
			break
		}
	}
	if err := c.WipeServer(victim); err != nil {
		t.Fatal(err)
	}
	prod.waitMore(t, 200)
	if err := c.StartServer(victim); err != nil {
		t.Fatal(err)
	}
	catchWipe := waitReplicasCurrent(t, n1)
	t.Logf("(c) server %s wiped and restarted: replicas current %s after the restart", victim.Name, catchWipe.Round(time.Millisecond))

	acked, codes := prod.halt()
	final := events(t, n1).LastSeq
	start := time.Now()
	for _, n := range c.Nodes {
		waitApplied(t, n, final)
	}
	t.Logf("after the producers stopped: both nodes at seq %d within %s", final, time.Since(start).Round(time.Millisecond))

	seen1, seen2 := nodetest.ListAll(n1.Base(), ann), nodetest.ListAll(n2.Base(), ann)
	lost := 0
	for _, id := range acked {
		if seen1[id] != 1 || seen2[id] != 1 {
			lost++
			if lost <= 10 {
				t.Errorf("acknowledged %s: listed %d times on %s, %d on %s; want once on each", id, seen1[id], n1.ID, seen2[id], n2.ID)
			}
		}
	}
	if !maps.Equal(seen1, seen2) {
		t.Errorf("the nodes list different interactions: %d on %s, %d on %s", len(seen1), n1.ID, len(seen2), n2.ID)
	}
	for _, path := range []string{"/v1/customers/cus-c/card", "/v1/customers/cus-c/timeline?limit=200"} {
		b1, b2 := get(t, n1.Base()+path, ann), get(t, n2.Base()+path, ann)
		if !bytes.Equal(b1, b2) {
			t.Errorf("GET %s: the nodes answer differently:\n%s: %s\n%s: %s", path, n1.ID, tail(string(b1), 300), n2.ID, tail(string(b2), 300))
		}
	}
	t.Logf("acknowledged %d events, lost %d; %d listed on each node (the rest: answered 503, outcome unknown, stored or not); answers by code %v",
		len(acked), lost, len(seen1), codes)

	eraseOnCluster(t, c, final)
}

// eraseOnCluster: a customer.erased posted to one node leaves the customer in neither
// node's views, and the stream loses the customer's events and the erase event, once;
// both nodes stay ready, their erasers never stopped.
func eraseOnCluster(t *testing.T, c *cluster.Cluster, last uint64) {
	t.Helper()
	n1, n2 := c.Nodes[0], c.Nodes[1]
	ing := nodetest.Token(t, "svc", auth.ScopeIngest, auth.ScopeErase)
	ann := nodetest.Token(t, "ann", auth.ScopeHistoryRead)
	var evs []map[string]any
	var ids []string
	for range 3 {
		id := "gone-" + uuid.NewString()
		ids = append(ids, id)
		evs = append(evs, nodetest.Ev("interaction.started", "cus-gone", 3, map[string]any{"interaction_id": id,
			"flow": "voice", "direction": "incoming", "routing": "direct", "agent_id": "ann"}))
	}
	if code := post(http.DefaultClient, n1.Base(), ing, evs); code != http.StatusOK {
		t.Fatalf("post the customer's interactions: %d", code)
	}
	for _, n := range c.Nodes {
		waitApplied(t, n, last+3)
	}
	before := events(t, n1).Messages
	if code := post(http.DefaultClient, n2.Base(), ing, []map[string]any{nodetest.Ev("customer.erased", "cus-gone", 0, map[string]any{})}); code != http.StatusOK {
		t.Fatalf("post customer.erased: %d", code)
	}
	for _, n := range c.Nodes {
		nodetest.Eventually(t, "node "+n.ID+" lists none of the erased customer's interactions", func() (bool, string) {
			seen := nodetest.ListAll(n.Base(), ann)
			for _, id := range ids {
				if seen[id] > 0 {
					return false, id + " still listed"
				}
			}
			return true, ""
		})
	}
	// The customer's 3 events and the erase event itself leave the stream.
	nodetest.Eventually(t, "the stream lost the customer's events and the erase event", func() (bool, string) {
		got := events(t, n1).Messages
		return got == before-3, fmt.Sprintf("%d messages, want %d (%d before the erase event)", got, before-3, before)
	})
	for _, n := range c.Nodes {
		if err := n.Ready(5 * time.Second); err != nil {
			t.Errorf("node %s not ready after the erasure: %v", n.ID, err)
		}
		if strings.Contains(n.Log(), "eraser stopped") {
			t.Errorf("node %s: an eraser stopped:\n%s", n.ID, tail(n.Log(), 4000))
		}
	}
}

func get(t *testing.T, u, tok string) []byte {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", u, resp.Status, b)
	}
	return b
}
