// Package cluster runs nats-servers clustered on loopback (JetStream, file store, R3) and
// ledger nodes pointed at them, each a child process with a directory of its own: what
// `make cluster` starts, what the failure tests break and what the bench's cluster phase
// measures. Nothing listens beyond loopback.
package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Cluster is nats-server and ledger processes on loopback, each with its own directory
// under Dir: what `make cluster` runs and what the failure tests break.
type Cluster struct {
	Dir     string
	Servers []*Server
	Nodes   []*Node
	// NATSServer and Ledger are the binaries.
	NATSServer, Ledger string
	// Env is added to every ledger node's environment (LEDGER_AUTH_SECRET, ...).
	Env []string
	// Out, if set, receives every process's output, each line prefixed with its name.
	Out io.Writer
	// ReadyTimeout bounds Start's wait for each node's /readyz; default ReadyWithin. A loaded
	// machine needs more: R3 stream creation is a round of the servers' meta group.
	ReadyTimeout time.Duration
	// PeriodicSync leaves the servers on nats-server's default fsync interval (2 min)
	// instead of `sync_interval: always`: faster, but a coordinated power failure can
	// lose acknowledged events (README, Deployment guide). For measuring what the fsync
	// costs; set it before the servers start.
	PeriodicSync bool
}

// Server is one nats-server of the cluster.
type Server struct {
	Name                  string
	ClientAddr, RouteAddr string
	StoreDir, ConfigFile  string
	proc
}

// Node is one ledger node.
type Node struct {
	ID       string
	HTTPAddr string
	DataDir  string
	proc
}

// proc is a child process and its output.
type proc struct {
	mu  sync.Mutex
	cmd *exec.Cmd
	log bytes.Buffer
}

// Log is what the process wrote so far (all its runs).
func (p *proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

type lockedWriter struct {
	p   *proc
	out io.Writer
	tag string
}

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	w.p.log.Write(b)
	w.p.mu.Unlock()
	if w.out != nil {
		for _, l := range strings.SplitAfter(string(b), "\n") {
			if l != "" {
				fmt.Fprintf(w.out, "%-4s| %s", w.tag, l)
			}
		}
	}
	return len(b), nil
}

func (p *proc) start(name string, out io.Writer, env []string, bin string, args ...string) error {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	w := lockedWriter{p: p, out: out, tag: name}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	p.mu.Lock()
	p.cmd = cmd
	p.mu.Unlock()
	return nil
}

// Pid is the running process's id, 0 when it does not run.
func (p *proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Kill sends SIGKILL and waits for the process to end.
func (p *proc) Kill() { p.signal(syscall.SIGKILL) }

// Stop sends SIGTERM and waits for the process to end.
func (p *proc) Stop() { p.signal(syscall.SIGTERM) }

func (p *proc) signal(sig syscall.Signal) {
	p.mu.Lock()
	cmd := p.cmd
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	_ = cmd.Wait()
}

// Build builds nats-server (from the module in go.mod) and the ledger into dir.
func Build(ctx context.Context, dir string) (natsServer, ledger string, err error) {
	natsServer, ledger = filepath.Join(dir, "nats-server"), filepath.Join(dir, "ledger")
	for _, b := range [][2]string{{natsServer, "github.com/nats-io/nats-server/v2"}, {ledger, "github.com/interaction-ledger/ledger/cmd/ledger"}} {
		out, err := exec.CommandContext(ctx, "go", "build", "-o", b[0], b[1]).CombinedOutput()
		if err != nil {
			return "", "", fmt.Errorf("go build %s: %w\n%s", b[1], err, out)
		}
	}
	return natsServer, ledger, nil
}

// addrs hands out loopback addresses with ports free now. It keeps every port it handed
// out bound until close, so the kernel cannot give one port twice to the same cluster (a
// node's HTTP address that was also a server's client address: the node never got ready,
// its readyz answered by nats-server).
type addrs struct{ held []net.Listener }

func (a *addrs) next() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	a.held = append(a.held, ln)
	return ln.Addr().String(), nil
}

func (a *addrs) close() {
	for _, ln := range a.held {
		ln.Close()
	}
}

// New lays out servers nats-servers and nodes ledger nodes under dir (nothing
// runs yet).
func New(dir string, servers, nodes int) (*Cluster, error) {
	c := &Cluster{Dir: dir}
	var free addrs
	defer free.close()
	for i := range servers {
		ca, err := free.next()
		if err != nil {
			return nil, err
		}
		ra, err := free.next()
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("s%d", i+1)
		c.Servers = append(c.Servers, &Server{Name: name, ClientAddr: ca, RouteAddr: ra,
			StoreDir: filepath.Join(dir, name, "jetstream"), ConfigFile: filepath.Join(dir, name, "nats.conf")})
	}
	for i := range nodes {
		ha, err := free.next()
		if err != nil {
			return nil, err
		}
		id := fmt.Sprintf("n%d", i+1)
		c.Nodes = append(c.Nodes, &Node{ID: id, HTTPAddr: ha, DataDir: filepath.Join(dir, id)})
	}
	return c, nil
}

// writeConfig writes s's configuration file: the cluster's routes and its sync policy.
func (c *Cluster) writeConfig(s *Server) error {
	var routes []string
	for _, o := range c.Servers {
		routes = append(routes, `"nats://`+o.RouteAddr+`"`)
	}
	// sync_interval: always: an acknowledged event survives even a power failure of
	// every server (see README, Deployment).
	sync := ", sync_interval: always"
	if c.PeriodicSync {
		sync = ""
	}
	conf := fmt.Sprintf(`server_name: %s
listen: %s
jetstream { store_dir: %q%s }
cluster { name: ledger, listen: %s, routes: [%s] }
`, s.Name, s.ClientAddr, s.StoreDir, sync, s.RouteAddr, strings.Join(routes, ", "))
	if err := os.MkdirAll(filepath.Dir(s.ConfigFile), 0o755); err != nil {
		return fmt.Errorf("server %s: %w", s.Name, err)
	}
	if err := os.WriteFile(s.ConfigFile, []byte(conf), 0o644); err != nil {
		return fmt.Errorf("server %s: %w", s.Name, err)
	}
	return nil
}

// NATSURL lists every server's client URL.
func (c *Cluster) NATSURL() string {
	var us []string
	for _, s := range c.Servers {
		us = append(us, "nats://"+s.ClientAddr)
	}
	return strings.Join(us, ",")
}

// StartServer starts (or restarts) s and waits until it accepts connections.
func (c *Cluster) StartServer(s *Server) error {
	if err := c.writeConfig(s); err != nil {
		return err
	}
	if err := s.start(s.Name, c.Out, os.Environ(), c.NATSServer, "-c", s.ConfigFile); err != nil {
		return err
	}
	return waitFor(30*time.Second, func() error {
		conn, err := net.DialTimeout("tcp", s.ClientAddr, time.Second)
		if err != nil {
			return err
		}
		return conn.Close()
	})
}

// WipeServer kills s and deletes its JetStream storage (it rejoins empty and catches up
// from its peers on the next StartServer).
func (c *Cluster) WipeServer(s *Server) error {
	s.Kill()
	return os.RemoveAll(s.StoreDir)
}

// StartNode starts (or restarts) the ledger node n; it does not wait (see Ready).
func (c *Cluster) StartNode(n *Node) error {
	env := append(os.Environ(), c.Env...)
	env = append(env, "LEDGER_DATA="+n.DataDir, "LEDGER_HTTP_ADDR="+n.HTTPAddr, "LEDGER_NATS_URL="+c.NATSURL(),
		"LEDGER_NODE_ID="+n.ID, "LEDGER_NATS_REPLICAS="+fmt.Sprint(min(3, len(c.Servers))))
	return n.start(n.ID, c.Out, env, c.Ledger, "serve")
}

// Base is the node's HTTP base URL.
func (n *Node) Base() string { return "http://" + n.HTTPAddr }

// Ready waits until the node answers /readyz with 200.
func (n *Node) Ready(timeout time.Duration) error {
	return waitFor(timeout, func() error {
		resp, err := http.Get(n.Base() + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: %s", resp.Status)
		}
		return nil
	})
}

// Start starts every server, then every node, and waits until the nodes are ready.
func (c *Cluster) Start() error {
	for _, s := range c.Servers {
		if err := c.StartServer(s); err != nil {
			return err
		}
	}
	for _, n := range c.Nodes {
		if err := c.StartNode(n); err != nil {
			return err
		}
	}
	timeout := c.ReadyTimeout
	if timeout <= 0 {
		timeout = ReadyWithin
	}
	for _, n := range c.Nodes {
		if err := n.Ready(timeout); err != nil {
			return fmt.Errorf("node %s not ready: %w\n%s", n.ID, err, n.Log())
		}
	}
	return nil
}

// Stop stops the nodes, then the servers.
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		n.Stop()
	}
	for _, s := range c.Servers {
		s.Stop()
	}
}

// ReadyWithin is the default of ReadyTimeout: the first start creates six R3 streams,
// slow when three servers, two nodes and a race-detector build share two cores.
const ReadyWithin = 5 * time.Minute

// waitFor polls check until it returns nil or timeout passes (its last error then).
func waitFor(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.Join(fmt.Errorf("not within %s", timeout), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
