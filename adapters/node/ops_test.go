package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/interaction-ledger/ledger/adapters/auth"
)

// answers collects what every reader sees: lists, details and the customer cards.
func answers(t *testing.T, in *instance) map[string]any {
	t.Helper()
	// Every view, not only the list, must have applied everything before a snapshot.
	eventually(t, "every view caught up", func() (bool, string) {
		var st Status
		if code := in.do("GET", "/v1/admin/status", token(t, "op", auth.ScopeOps), nil, &st); code != 200 {
			return false, fmt.Sprint("status ", code)
		}
		return st.CaughtUp(), fmt.Sprint(st.Views)
	})
	out := map[string]any{}
	for agent := range wantVisible {
		var p any
		in.do("GET", "/v1/interactions?"+window(), token(t, agent, auth.ScopeHistoryRead), nil, &p)
		out["list/"+agent] = p
		for _, id := range []string{"call-1", "call-2", "call-3", "mail-1", "chat-1"} {
			var d any
			code := in.do("GET", "/v1/interactions/"+id, token(t, agent, auth.ScopeHistoryRead), nil, &d)
			out["detail/"+agent+"/"+id] = []any{code, d}
		}
	}
	for _, c := range []string{"cus-1", "cus-2", "cus-3", "cus-4"} {
		for _, path := range []string{"timeline", "chats", "tasks", "visits", "segments", "card"} {
			var p any
			in.do("GET", "/v1/customers/"+c+"/"+path, token(t, "ann", auth.ScopeHistoryRead), nil, &p)
			out[path+"/"+c] = p
		}
	}
	return out
}

func TestOnlineRebuildAnswersTheSame(t *testing.T) {
	in := startLedger(t, "")
	postFixture(t, in)
	waitVisible(t, in)
	before := answers(t, in)
	ops := token(t, "operator", auth.ScopeOps)
	for _, view := range []string{"directory", "history", "timeline"} {
		var res map[string]any
		if code := in.do("POST", "/v1/admin/views/"+view+"/rebuild", ops, nil, &res); code != 202 {
			t.Fatalf("rebuild %s = %d %v", view, code, res)
		}
		eventually(t, "rebuild of "+view+" finished", func() (bool, string) {
			var st Status
			in.do("GET", "/v1/admin/status", ops, nil, &st)
			for _, v := range st.Views {
				if v.Name == view && v.Rebuild != nil && !v.Rebuild.Finished.IsZero() {
					if v.Rebuild.Error != "" {
						t.Fatalf("rebuild of %s failed: %s", view, v.Rebuild.Error)
					}
					return true, ""
				}
			}
			return false, "running"
		})
	}
	if after := answers(t, in); !reflect.DeepEqual(before, after) {
		for k := range before {
			if !reflect.DeepEqual(before[k], after[k]) {
				t.Errorf("%s differs after the rebuild:\nbefore %v\nafter  %v", k, before[k], after[k])
			}
		}
	}
	if code := in.do("POST", "/v1/admin/views/nope/rebuild", ops, nil, nil); code != 400 {
		t.Errorf("rebuild of an unknown view = %d, want 400", code)
	}
	if code := in.do("GET", "/v1/admin/status", token(t, "ann", auth.ScopeHistoryRead), nil, nil); code != 403 {
		t.Errorf("status without ops scope = %d, want 403", code)
	}
}

func TestMetricsExposeWhatOperatorsGraph(t *testing.T) {
	in := startLedger(t, "")
	postFixture(t, in)
	waitVisible(t, in)
	var st Status
	if code := in.do("GET", "/v1/admin/status", token(t, "ops", auth.ScopeOps), nil, &st); code != 200 || len(st.Streams) == 0 {
		t.Fatalf("status = %d %+v", code, st)
	}
	want := fmt.Sprintf("ledger_stream_messages{stream=%q} %d", st.Streams[0].Name, st.Streams[0].Messages)
	var body []byte
	// The stream gauges are set by the lag loop, every two seconds.
	eventually(t, "the stream gauges", func() (bool, string) {
		resp, err := in.client.Get(in.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return bytes.Contains(body, []byte(want)), "no " + want
	})
	for _, m := range []string{
		`ledger_ingest_events_total{outcome="accepted",type="interaction.started"}`,
		"ledger_append_duration_seconds_bucket", "ledger_projector_batch_events_bucket",
		"ledger_projector_apply_duration_seconds_bucket", `ledger_projector_checkpoint_seq{view="history"}`,
		`ledger_http_request_duration_seconds_count{code="200",endpoint="GET /v1/interactions"}`,
		"process_resident_memory_bytes", `ledger_stream_consumers{stream="LEDGER"}`, `ledger_stream_bytes{stream="LEDGER_AUDIT"}`,
	} {
		if !bytes.Contains(body, []byte(m)) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

// TestReplayAndStatusCommands runs `ledger replay` and `ledger status` as a user would,
// over a data directory a stopped ledger left.
func TestReplayAndStatusCommands(t *testing.T) {
	dir := t.TempDir()
	in := startLedger(t, dir)
	postFixture(t, in)
	waitVisible(t, in)
	before := answers(t, in)
	in.stop()

	cfg := Config{DataDir: dir, HTTPAddr: "127.0.0.1:1", AuthSecret: testSecret}
	var out, errb bytes.Buffer
	quiet := slog.New(slog.NewTextHandler(&errb, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := Replay(context.Background(), cfg, "", &out, quiet); err != nil {
		t.Fatalf("ledger replay: %v\n%s", err, errb.String())
	}
	for _, v := range []string{"replay directory: done", "replay history: done", "replay timeline: done", "replay audit: done"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("replay output lacks %q:\n%s", v, out.String())
		}
	}
	out.Reset()
	if err := PrintStatus(context.Background(), cfg, true, &out, quiet); err != nil {
		t.Fatalf("ledger status: %v\n%s", err, errb.String())
	}
	var st Status
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatalf("status -json: %v\n%s", err, out.String())
	}
	if len(st.Streams) != 4 || len(st.Views) != 4 {
		t.Fatalf("status = %+v", st)
	}
	for _, v := range st.Views {
		if v.LagEvents != 0 || v.Checkpoint == 0 || v.FileBytes == 0 {
			t.Errorf("view after replay: %+v", v)
		}
	}
	if err := Replay(context.Background(), cfg, "nope", &out, quiet); err == nil {
		t.Errorf("replay of an unknown view succeeded")
	}

	in = startLedger(t, dir)
	waitVisible(t, in)
	if after := answers(t, in); !reflect.DeepEqual(before, after) {
		t.Errorf("answers differ after an offline replay")
	}
}
