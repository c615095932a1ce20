package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/projections"
)

// ViewStatus is one view's position and file.
type ViewStatus struct {
	Name       string                       `json:"name"`
	Stream     string                       `json:"stream"`
	Checkpoint uint64                       `json:"checkpoint"`
	LagEvents  uint64                       `json:"lag_events"`
	LagSeconds float64                      `json:"lag_seconds"`
	FileBytes  int64                        `json:"file_bytes"`
	Rebuild    *projections.RebuildProgress `json:"rebuild,omitempty"`
	// Trouble is the last corruption or divergence found and repaired, if any.
	Trouble string `json:"trouble,omitempty"`
}

// Status is what `ledger status` and GET /v1/admin/status report.
type Status struct {
	At          time.Time                `json:"at"`
	Streams     []eventstore.StreamStats `json:"streams"`
	Views       []ViewStatus             `json:"views"`
	LastSweep   *time.Time               `json:"last_sweep"`
	DeadLetters uint64                   `json:"dead_letters"`
	// Node is this node's id; Nodes every node's view consumers on the cluster (each
	// node's lag), Replicas the streams' replicas and leaders. Cluster only.
	Node     string                    `json:"node,omitempty"`
	Nodes    []NodeLag                 `json:"nodes,omitempty"`
	Replicas []eventstore.StreamHealth `json:"replicas,omitempty"`
	// Warnings are what the event store found wrong at start (replicas, sync policy).
	Warnings []string `json:"warnings,omitempty"`
}

// Status reads the streams and every view's checkpoint, and checks each view against its
// stream.
func (n *Node) Status(ctx context.Context) (Status, error) { return n.status(ctx, true) }

// status reads the report; verify also checks each view against its stream (a request
// per view: what `ledger status` and the admin endpoint show, not what the lag gauges
// need every 2 s — the periodic check runs every 10 s on its own).
func (n *Node) status(ctx context.Context, verify bool) (Status, error) {
	rep := Status{At: n.cfg.Now().UTC(), LastSweep: n.lastSweep.Load()}
	stats, err := n.store.Stats(ctx)
	if err != nil {
		return rep, fmt.Errorf("stream stats: %w", err)
	}
	rep.Streams = stats
	byName := map[string]eventstore.StreamStats{}
	for _, s := range stats {
		byName[s.Name] = s
		if s.Name == eventstore.StreamDead {
			rep.DeadLetters = s.Messages
		}
	}
	rep.Warnings = n.store.Warnings()
	if n.cfg.clustered() {
		rep.Node = n.cfg.NodeID
		last := map[string]uint64{}
		for _, s := range stats {
			last[s.Name] = s.LastSeq
		}
		if rep.Nodes, err = n.nodeLags(ctx, last); err != nil {
			return rep, fmt.Errorf("nodes' consumers: %w", err)
		}
		if rep.Replicas, err = n.store.Streams(ctx); err != nil {
			return rep, fmt.Errorf("streams' replicas: %w", err)
		}
	}
	for _, v := range n.views {
		db := v.DB()
		cp, err := db.Checkpoint()
		if err != nil {
			// A view file that cannot be read is reported, never a reason to fail the
			// report (the runner rebuilds it).
			// Its lag is unknown: report the whole stream, never "caught up".
			rep.Views = append(rep.Views, ViewStatus{Name: v.Name(), Stream: v.Stream(), FileBytes: db.Size(),
				LagEvents: byName[v.Stream()].LastSeq, Trouble: err.Error()})
			continue
		}
		vs := ViewStatus{Name: v.Name(), Stream: v.Stream(), Checkpoint: cp, FileBytes: db.Size(), Rebuild: v.Progress(), Trouble: v.Trouble()}
		if verify {
			if err := v.Verify(ctx); err != nil {
				vs.Trouble = err.Error()
			}
		}
		if s := byName[v.Stream()]; s.LastSeq > cp {
			vs.LagEvents = s.LastSeq - cp
			if t, err := db.CheckpointTime(); err == nil && !t.IsZero() {
				vs.LagSeconds = s.LastTime.Sub(t).Seconds()
			} else {
				vs.LagSeconds = s.LastTime.Sub(s.FirstTime).Seconds()
			}
		}
		rep.Views = append(rep.Views, vs)
	}
	return rep, nil
}

// CaughtUp reports whether every view has applied its stream to the end.
func (s Status) CaughtUp() bool {
	for _, v := range s.Views {
		if v.LagEvents > 0 {
			return false
		}
	}
	return true
}

// RemoteStatus asks a running ledger at httpAddr (GET /v1/admin/status) with a
// short-lived ops token minted from secret.
func RemoteStatus(ctx context.Context, client *http.Client, baseURL, secret string) (Status, error) {
	var rep Status
	if len(secret) < auth.MinSecretBytes {
		return rep, fmt.Errorf("no LEDGER_AUTH_SECRET to ask a running ledger")
	}
	tok, err := auth.Mint(secret, "ledger-status", []string{auth.ScopeOps}, time.Now(), time.Minute)
	if err != nil {
		return rep, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/v1/admin/status", nil)
	if err != nil {
		return rep, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil {
		return rep, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return rep, fmt.Errorf("status endpoint answered %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		return rep, fmt.Errorf("decode status: %w", err)
	}
	return rep, nil
}

// PrintStatus asks the ledger running at cfg.HTTPAddr and, when none answers, opens the
// data directory itself; it prints the report as a table or as JSON.
func PrintStatus(ctx context.Context, cfg Config, asJSON bool, stdout io.Writer, log *slog.Logger) error {
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	rep, err := RemoteStatus(rctx, http.DefaultClient, "http://"+cfg.HTTPAddr, cfg.AuthSecret)
	cancel()
	if err != nil {
		n, oerr := Open(ctx, cfg, log, Options{})
		if oerr != nil {
			return fmt.Errorf("no ledger answered at %s (%v) and the data directory cannot be opened: %w", cfg.HTTPAddr, err, oerr)
		}
		defer n.Close()
		if rep, err = n.Status(ctx); err != nil {
			return err
		}
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.WriteText(stdout)
	return nil
}

// WriteText prints the report as tables.
func (s Status) WriteText(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "STREAM\tMESSAGES\tBYTES\tFIRST SEQ\tLAST SEQ\tFIRST TIME\tLAST TIME\n")
	for _, st := range s.Streams {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\n", st.Name, st.Messages, st.Bytes, st.FirstSeq, st.LastSeq, fmtTime(st.FirstTime), fmtTime(st.LastTime))
	}
	fmt.Fprintf(tw, "\nVIEW\tSTREAM\tCHECKPOINT\tLAG EVENTS\tLAG SECONDS\tFILE BYTES\tREBUILD\n")
	for _, v := range s.Views {
		rb := "-"
		if v.Rebuild != nil {
			rb = fmt.Sprintf("%d/%d", v.Rebuild.Done, v.Rebuild.Total)
			if !v.Rebuild.Finished.IsZero() {
				rb += " done"
			}
			if v.Rebuild.Error != "" {
				rb += " failed: " + v.Rebuild.Error
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f\t%d\t%s\n", v.Name, v.Stream, v.Checkpoint, v.LagEvents, v.LagSeconds, v.FileBytes, rb)
	}
	tw.Flush()
	for _, v := range s.Views {
		if v.Trouble != "" {
			fmt.Fprintf(w, "\nview %s: %s\n", v.Name, v.Trouble)
		}
	}
	if len(s.Nodes) > 0 {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "\nNODE\tVIEW\tACK FLOOR\tLAG EVENTS\n")
		for _, l := range s.Nodes {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", l.Node, l.View, l.AckFloor, l.LagEvents)
		}
		fmt.Fprintf(tw, "\nSTREAM\tREPLICAS\tWANTED\tCURRENT\tLEADER\n")
		for _, r := range s.Replicas {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", r.Name, r.Replicas, r.Wanted, r.Current, r.Leader)
		}
		tw.Flush()
	}
	for _, m := range s.Warnings {
		fmt.Fprintf(w, "\nwarning: %s\n", m)
	}
	sweep := "never (this process)"
	if s.LastSweep != nil {
		sweep = fmtTime(*s.LastSweep)
	}
	fmt.Fprintf(w, "\nlast retention sweep: %s\ndead-lettered envelopes: %d\n", sweep, s.DeadLetters)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
