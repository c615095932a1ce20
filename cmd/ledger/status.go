package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/eventstore"
)

type viewStatus struct {
	Name       string           `json:"name"`
	Stream     string           `json:"stream"`
	Checkpoint uint64           `json:"checkpoint"`
	LagEvents  uint64           `json:"lag_events"`
	LagSeconds float64          `json:"lag_seconds"`
	FileBytes  int64            `json:"file_bytes"`
	Rebuild    *rebuildProgress `json:"rebuild,omitempty"`
}

type statusReport struct {
	At          time.Time                `json:"at"`
	Streams     []eventstore.StreamStats `json:"streams"`
	Views       []viewStatus             `json:"views"`
	LastSweep   *time.Time               `json:"last_sweep"`
	DeadLetters uint64                   `json:"dead_letters"`
}

func (l *ledger) status(ctx context.Context) (statusReport, error) {
	rep := statusReport{At: l.now().UTC(), LastSweep: l.lastSweep.Load()}
	stats, err := l.store.Stats(ctx)
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
	for _, v := range l.views {
		cp, err := v.db.Checkpoint()
		if err != nil {
			return rep, err
		}
		vs := viewStatus{Name: v.name, Stream: v.stream, Checkpoint: cp, FileBytes: v.db.Size(), Rebuild: v.rebuild.Load()}
		if s := byName[v.stream]; s.LastSeq > cp {
			vs.LagEvents = s.LastSeq - cp
			if t, err := v.db.CheckpointTime(); err == nil && !t.IsZero() {
				vs.LagSeconds = s.LastTime.Sub(t).Seconds()
			} else {
				vs.LagSeconds = s.LastTime.Sub(s.FirstTime).Seconds()
			}
		}
		rep.Views = append(rep.Views, vs)
	}
	return rep, nil
}

// cmdStatus asks a running ledger (GET /v1/admin/status) and, when none answers, opens
// the data directory itself.
func cmdStatus(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg config
	asJSON := false
	if _, err := cfg.parse("status", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	}); err != nil {
		return err
	}
	if err := cfg.validate(false); err != nil {
		return err
	}
	rep, err := remoteStatus(ctx, cfg)
	if err != nil {
		l, oerr := openLedger(ctx, cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), openOptions{})
		if oerr != nil {
			return fmt.Errorf("no ledger answered at %s (%v) and the data directory cannot be opened: %w", cfg.HTTPAddr, err, oerr)
		}
		defer l.close()
		if rep, err = l.status(ctx); err != nil {
			return err
		}
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printStatus(stdout, rep)
	return nil
}

func remoteStatus(ctx context.Context, cfg config) (statusReport, error) {
	var rep statusReport
	if len(cfg.AuthSecret) < auth.MinSecretBytes {
		return rep, fmt.Errorf("no LEDGER_AUTH_SECRET to ask a running ledger")
	}
	tok, err := auth.Mint(cfg.AuthSecret, "ledger-status", []string{auth.ScopeOps}, time.Now(), time.Minute)
	if err != nil {
		return rep, err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+cfg.HTTPAddr+"/v1/admin/status", nil)
	if err != nil {
		return rep, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rep, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return rep, fmt.Errorf("status endpoint answered %s", resp.Status)
	}
	return rep, json.NewDecoder(resp.Body).Decode(&rep)
}

func printStatus(w io.Writer, rep statusReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "STREAM\tMESSAGES\tBYTES\tFIRST SEQ\tLAST SEQ\tFIRST TIME\tLAST TIME\n")
	for _, s := range rep.Streams {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\n", s.Name, s.Messages, s.Bytes, s.FirstSeq, s.LastSeq, fmtTime(s.FirstTime), fmtTime(s.LastTime))
	}
	fmt.Fprintf(tw, "\nVIEW\tSTREAM\tCHECKPOINT\tLAG EVENTS\tLAG SECONDS\tFILE BYTES\tREBUILD\n")
	for _, v := range rep.Views {
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
	sweep := "never (this process)"
	if rep.LastSweep != nil {
		sweep = fmtTime(*rep.LastSweep)
	}
	fmt.Fprintf(w, "\nlast retention sweep: %s\ndead-lettered envelopes: %d\n", sweep, rep.DeadLetters)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
