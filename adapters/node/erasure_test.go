package node

import (
	"bytes"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/interaction-ledger/ledger/adapters/auth"
)

// filesHolding lists the files under dir whose bytes contain any of needles.
func filesHolding(t *testing.T, dir string, needles ...string) []string {
	t.Helper()
	var hits []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		lower := bytes.ToLower(b)
		for _, n := range needles {
			if bytes.Contains(lower, []byte(strings.ToLower(n))) {
				hits = append(hits, fmt.Sprintf("%s holds %q", path, n))
			}
		}
		return nil
	})
	return hits
}

func TestErasureLeavesNoPersonalData(t *testing.T) {
	dir := t.TempDir()
	in := startLedger(t, dir)
	secret := []string{"+1 415 555 0142", "Secret.Person@example.com", "the-secret-note-text", "Zebulon Quackenbush"}
	kept := "the-kept-note-text"
	evs := []map[string]any{
		ev("interaction.started", "cus-gone", 30, map[string]any{"interaction_id": "gone-call", "flow": "voice", "direction": "incoming",
			"routing": "direct", "agent_id": "ann", "contact": map[string]any{"phone": secret[0]},
			"participants": []map[string]any{{"role": "customer", "name": secret[3]}}}),
		ev("interaction.started", "cus-gone", 20, map[string]any{"interaction_id": "gone-mail", "flow": "email", "direction": "outgoing",
			"routing": "direct", "agent_id": "ann", "contact": map[string]any{"email": secret[1]}}),
		ev("note.added", "cus-gone", 10, map[string]any{"note_id": "n-gone", "text": secret[2]}),
		ev("note.added", "cus-kept", 10, map[string]any{"note_id": "n-kept", "text": kept}),
	}
	ing := token(t, "svc", auth.ScopeIngest)
	if code := in.do("POST", "/v1/events", ing, evs, nil); code != 200 {
		t.Fatalf("post = %d", code)
	}
	eventually(t, "the card shows the note", func() (bool, string) {
		items := in.timeline(t, "cus-gone", "")
		return len(items) == 3, fmt.Sprint(items)
	})
	if code := in.do("POST", "/v1/events", ing, ev("customer.erased", "cus-gone", 0, map[string]any{}), nil); code != 202 {
		t.Fatalf("post erase = %d", code)
	}
	eventually(t, "no file under the data directory holds the erased person's data", func() (bool, string) {
		hits := filesHolding(t, dir, append(secret, "4155550142", "2410555514")...)
		return len(hits) == 0, strings.Join(hits, "; ")
	})
	if items := in.timeline(t, "cus-gone", ""); len(items) != 0 {
		t.Errorf("the erased card still shows %v", items)
	}
	if code := in.do("GET", "/v1/interactions/gone-call", token(t, "ann", auth.ScopeHistoryRead), nil, nil); code != 404 && code != 403 {
		t.Errorf("erased interaction answers %d", code)
	}
	in.stop()
	if hits := filesHolding(t, dir, secret...); len(hits) != 0 {
		t.Errorf("after shutdown: %v", hits)
	}
	if hits := filesHolding(t, dir, kept); len(hits) == 0 {
		t.Errorf("the other customer's note is nowhere: the search does not work")
	}
	// A replay does not bring them back.
	in = startLedger(t, dir)
	in.stop()
	var out, errb bytes.Buffer
	if err := Replay(t.Context(), Config{DataDir: dir}, "", &out, slog.New(slog.NewTextHandler(&errb, nil))); err != nil {
		t.Fatalf("replay: %v %s", err, errb.String())
	}
	if hits := filesHolding(t, dir, secret...); len(hits) != 0 {
		t.Errorf("after replay: %v", hits)
	}
}
