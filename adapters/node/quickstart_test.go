package node

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/httpapi/apitest"
	"github.com/interaction-ledger/ledger/adapters/node/nodetest"
)

// readmeBlocks returns the fenced blocks of the repository's README whose info string is
// tag ("sh quickstart"), in order.
func readmeBlocks(t *testing.T, tag string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	var cur *strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == "```"+tag:
			cur = &strings.Builder{}
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return blocks
}

// TestReadmeQuickStart runs the README's quick start as an integrator would: `ledger serve`
// as its block starts it, then each producer, host application and operator block in
// bash against it, each of which must succeed (curl -f: any 4xx or 5xx fails it). The
// `nats` CLI is not installed here: its block runs with a `nats` shell function that hands
// the arguments, expanded by bash, to this test, which publishes them with nats.go over
// the URL and credentials that `ledger producer-url` printed, as the CLI would.
func TestReadmeQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the ledger binary")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	serve, nats, blocks := readmeBlocks(t, "sh quickstart-serve"), readmeBlocks(t, "sh quickstart-nats"), readmeBlocks(t, "sh quickstart")
	if len(serve) != 1 || len(nats) != 1 || len(blocks) < 3 {
		t.Fatalf("README: %d serve, %d nats and %d quickstart blocks, want 1, 1 and 3 or more", len(serve), len(nats), len(blocks))
	}
	work := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(work, "bin", "ledger"), "../../cmd/ledger").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	httpAddr := nodetest.FreeAddr(t)
	base := "http://" + httpAddr
	env := append(os.Environ(), "LEDGER_DATA="+filepath.Join(work, "data"), "LEDGER_HTTP_ADDR="+httpAddr,
		"LEDGER_NATS_ADDR="+nodetest.FreeAddr(t), "LEDGER_AUTH_SECRET="+testSecret, "LEDGER_NATS_URL=", "LEDGER="+base)
	bash := func(script string) *exec.Cmd {
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir, cmd.Env = work, env
		return cmd
	}

	srv := bash(serve[0])
	var srvLog bytes.Buffer
	srv.Stdout, srv.Stderr = &srvLog, &srvLog
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // bash and the ledger it starts, stopped together
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-srv.Process.Pid, syscall.SIGTERM)
		_ = srv.Wait()
		if t.Failed() {
			t.Logf("ledger serve:\n%s", srvLog.String())
		}
	})
	eventually(t, "ledger serve ready", func() (bool, string) {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})

	run := func(name, script string) string {
		t.Helper()
		out, err := bash(script).CombinedOutput()
		if err != nil {
			t.Fatalf("%s block failed: %v\n--- block\n%s--- output\n%s", name, err, script, out)
		}
		return string(out)
	}
	run("producer", blocks[0])

	// The nats block, its CLI replaced by a function that records its arguments.
	argsFile := filepath.Join(work, "nats-args")
	run("nats", `nats() { printf '%s\0' "$@" > `+argsFile+`; }`+"\n"+nats[0])
	raw, err := os.ReadFile(argsFile)
	if err != nil {
		t.Fatalf("the nats block never called nats: %v", err)
	}
	publishLikeNatsCLI(t, strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00"))

	// Read as ann through the OpenAPI validator, like every other HTTP test here.
	in := &instance{t: t, base: base, client: apitest.NewValidator(t).HTTPClient(t)}
	tok := token(t, "ann", auth.ScopeHistoryRead)
	eventually(t, "call-1 ended through NATS, as ann sees it", func() (bool, string) {
		var list listPage
		code := in.do("GET", "/v1/interactions?id=call-1", tok, nil, &list)
		return code == 200 && len(list.Items) == 1 && list.Items[0].Status == "processed", string(mustJSON(t, list))
	})

	host := run("host application", blocks[1])
	if !strings.Contains(host, base+"/signin#token=") || !strings.Contains(host, `"interaction_id":"call-1"`) {
		t.Errorf("host application block printed no sign-in link or no call-1:\n%s", host)
	}
	for i, b := range blocks[2:] {
		out := run("operator", b)
		if i == 0 && !strings.Contains(out, `"status":"started"`) {
			t.Errorf("operator block started no rebuild:\n%s", out)
		}
	}
}

// publishLikeNatsCLI publishes what `nats --server URL pub SUBJECT -H "K:V" BODY` would.
func publishLikeNatsCLI(t *testing.T, args []string) {
	t.Helper()
	var server, subject, body string
	hdr := nats.Header{}
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--server" && i+1 < len(args):
			i++
			server = args[i]
		case a == "-H" && i+1 < len(args):
			i++
			k, v, _ := strings.Cut(args[i], ":")
			hdr.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		case a == "pub":
		case subject == "":
			subject = a
		default:
			body = a
		}
	}
	if server == "" || subject == "" || body == "" || hdr.Get(nats.MsgIdHdr) == "" {
		t.Fatalf("nats block: want --server, pub SUBJECT, -H Nats-Msg-Id and a body; got %q", args)
	}
	nc, err := nats.Connect(server)
	if err != nil {
		t.Fatalf("connect with the producer URL: %v", err)
	}
	defer nc.Close()
	if err := nc.PublishMsg(&nats.Msg{Subject: subject, Header: hdr, Data: []byte(body)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := nc.FlushWithContext(ctx); err != nil {
		t.Fatal(err)
	}
}
