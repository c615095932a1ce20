package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/node/nodetest"
)

// proc is `ledger serve` as a child process.
type proc struct {
	cmd  *exec.Cmd
	base string
	log  *bytes.Buffer
}

func buildLedger(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ledger")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func startProc(t *testing.T, bin, dataDir string) *proc {
	t.Helper()
	httpAddr := nodetest.FreeAddr(t)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "LEDGER_DATA="+dataDir, "LEDGER_HTTP_ADDR="+httpAddr,
		"LEDGER_NATS_ADDR="+nodetest.FreeAddr(t), "LEDGER_AUTH_SECRET="+nodetest.Secret, "LEDGER_NATS_URL=")
	p := &proc{cmd: cmd, base: "http://" + httpAddr, log: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(p.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("ledger serve not ready within 30s; log:\n%s", p.log)
	return nil
}

func postJSON(base, tok string, body any) (int, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", base+"/v1/events", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestKillUnderLoadLosesNothing kills `ledger serve` with SIGKILL while batches are being
// posted; after a restart, every interaction whose batch was acknowledged is in the view,
// once.
func TestKillUnderLoadLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a subprocess")
	}
	bin := buildLedger(t)
	dir := t.TempDir()
	p := startProc(t, bin, dir)
	ing := nodetest.Token(t, "svc", auth.ScopeIngest, auth.ScopeDirectoryWrite)
	setup := []map[string]any{
		nodetest.Ev("directory.profile", "", 60, map[string]any{"profile_id": "p", "queues": []string{"q"}, "flows": []string{"voice"}, "history_access": true}),
		nodetest.Ev("directory.agent", "", 60, map[string]any{"agent_id": "ann", "role": "collaborator", "active_profile_id": "p"}),
	}
	if code, err := postJSON(p.base, ing, setup); err != nil || code != 200 {
		t.Fatalf("setup: %d %v", code, err)
	}

	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var batch []map[string]any
				var ids []string
				for i := 0; i < 50; i++ {
					id := "k-" + uuid.NewString()
					ids = append(ids, id)
					batch = append(batch, nodetest.Ev("interaction.started", "cus-k", 5, map[string]any{"interaction_id": id,
						"flow": "voice", "direction": "incoming", "routing": "direct", "agent_id": "ann"}))
				}
				code, err := postJSON(p.base, ing, batch)
				if err != nil {
					return // the process is gone
				}
				if code == 200 {
					mu.Lock()
					acked = append(acked, ids...)
					mu.Unlock()
				}
			}
		}()
	}
	// Kill once a good number of batches were acknowledged.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 2000 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatalf("no batch was acknowledged before the kill; log:\n%s", p.log)
	}

	p = startProc(t, bin, dir)
	want := map[string]bool{}
	for _, id := range acked {
		want[id] = true
	}
	tok := nodetest.Token(t, "ann", auth.ScopeHistoryRead)
	var seen map[string]int
	nodetest.Eventually(t, "every acknowledged interaction is in the history after the restart", func() (bool, string) {
		seen = nodetest.ListAll(p.base, tok)
		missing := 0
		for id := range want {
			if seen[id] == 0 {
				missing++
			}
		}
		return missing == 0, fmt.Sprintf("%d of %d acknowledged missing", missing, len(want))
	})
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s listed %d times", id, n)
		}
	}
	t.Logf("acknowledged %d interactions before SIGKILL; all present after restart (%d listed)", len(want), len(seen))

	// SIGTERM: drains and exits cleanly within 10 s.
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v; log:\n%s", err, p.log)
		}
		t.Logf("SIGTERM to exit: %s", time.Since(start).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatalf("ledger did not stop within 10s of SIGTERM")
	}
}
