package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/interaction-ledger/ledger/adapters/node/nodetest"
)

// TestCommands runs the commands that need no running ledger as a user would: their
// flags, environment and answers.
func TestCommands(t *testing.T) {
	dir := t.TempDir()
	env := func(k string) string {
		return map[string]string{"LEDGER_DATA": dir, "LEDGER_AUTH_SECRET": nodetest.Secret, "LEDGER_HTTP_ADDR": "127.0.0.1:1"}[k]
	}
	for _, tc := range []struct {
		name    string
		args    []string
		wantOut string
		wantErr string
	}{
		{"no command", nil, "", "no command given"},
		{"unknown command", []string{"nope"}, "", `unknown command "nope"`},
		{"help", []string{"help"}, "producer-url", ""},
		{"token", []string{"token", "-scope", "history:read", "ann"}, "ey", ""},
		{"token without agent", []string{"token"}, "", "usage: ledger token"},
		{"producer url", []string{"producer-url"}, "nats://producer:", ""},
		{"producer url on a cluster", []string{"producer-url", "-nats-url", "nats://a:4222"}, "", "cluster's operator"},
		{"creds without cluster", []string{"serve", "-nats-creds", "x.creds"}, "", "LEDGER_NATS_CREDS is for LEDGER_NATS_URL"},
		{"status of an empty data directory", []string{"status"}, "VIEW", ""},
		{"replay of an unknown view", []string{"replay", "--view", "nope"}, "", `unknown view "nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(context.Background(), tc.args, env, &out, &errb)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to say %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v\n%s", err, errb.String())
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("output %q lacks %q", out.String(), tc.wantOut)
			}
		})
	}
	st, err := os.Stat(filepath.Join(dir, "nats-credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %v, want 0600", st.Mode().Perm())
	}
}
