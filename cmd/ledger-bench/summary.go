package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// `ledger-bench summarize` reads the --json reports of several runs and prints, per scale,
// each figure's median beside the PostgreSQL peer's, then judges issue 16's targets on
// those medians. On this shared machine a single figure moves by ±20 % from run to run:
// one run decides nothing, and the targets are set on medians of three.

// benchRuns are the reports of one scale (the same --interactions).
type benchRuns struct {
	interactions int
	reports      []*benchReport
}

// label names the scale by its envelopes, to two significant figures: "200k", "2M".
func (s *benchRuns) label() string {
	var events []float64
	for _, r := range s.reports {
		events = append(events, float64(r.Scale.UniqueEvents))
	}
	return roughCount(median(events)) + " envelopes"
}

func roughCount(n float64) string {
	if n < 100 {
		return strconv.FormatFloat(math.Round(n), 'f', -1, 64)
	}
	mag := math.Pow(10, math.Floor(math.Log10(n))-1)
	r := math.Round(n/mag) * mag
	if r >= 1e6 {
		return strconv.FormatFloat(r/1e6, 'f', -1, 64) + "M"
	}
	return strconv.FormatFloat(r/1e3, 'f', -1, 64) + "k"
}

// figureKey is a row's figure as runs of any seed and scale share it: reports written
// before the phone search's figure stopped naming its number ("q=phone (+3367…)") named
// it there.
func figureKey(fig string) string { return phoneInFigure.ReplaceAllString(fig, "q=phone") }

var phoneInFigure = regexp.MustCompile(`q=phone \([^)]*\)`)

// rows returns every run's row of figure (by figureKey).
func (s *benchRuns) rows(figure string) []benchRow {
	var out []benchRow
	for _, rep := range s.reports {
		for _, r := range rep.Rows {
			if figureKey(r.Figure) == figure {
				out = append(out, r)
			}
		}
	}
	return out
}

// value is the median of figure's values, ok false when no run has it.
func (s *benchRuns) value(figure string) (float64, bool) {
	rows := s.rows(figure)
	if len(rows) == 0 {
		return 0, false
	}
	vs := make([]float64, len(rows))
	for i, r := range rows {
		vs[i] = r.Value
	}
	return median(vs), true
}

// ratio is the median of figure's ratios to its raw limit (each measured in its own run).
func (s *benchRuns) ratio(figure string) (float64, bool) {
	var vs []float64
	for _, r := range s.rows(figure) {
		if r.Ratio != nil {
			vs = append(vs, *r.Ratio)
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	return median(vs), true
}

// p50 is the median of a query row's p50, which the bench writes at the head of its note
// ("p50 0.21 ms, ...").
func (s *benchRuns) p50(figure string) (float64, bool) {
	var vs []float64
	for _, r := range s.rows(figure) {
		if m := p50InNote.FindStringSubmatch(r.Note); m != nil {
			v, err := strconv.ParseFloat(m[1], 64)
			if err == nil {
				vs = append(vs, v)
			}
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	return median(vs), true
}

var p50InNote = regexp.MustCompile(`^p50 ([0-9.]+) ms`)

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// loadBenchRuns reads the reports and groups them by scale, smallest first.
func loadBenchRuns(paths []string) ([]*benchRuns, error) {
	if len(paths) == 0 {
		return nil, errors.New("summarize: name the --json reports of the runs")
	}
	by := map[int]*benchRuns{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("summarize: %w", err)
		}
		var rep benchReport
		if err := json.Unmarshal(raw, &rep); err != nil {
			return nil, fmt.Errorf("summarize: %s: not a ledger-bench --json report: %w", p, err)
		}
		if len(rep.Rows) == 0 || rep.Scale.Interactions <= 0 {
			return nil, fmt.Errorf("summarize: %s: a report without rows or scale (a run that failed before measuring?)", p)
		}
		s := by[rep.Scale.Interactions]
		if s == nil {
			s = &benchRuns{interactions: rep.Scale.Interactions}
			by[rep.Scale.Interactions] = s
		}
		s.reports = append(s.reports, &rep)
	}
	var out []*benchRuns
	for _, s := range by {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *benchRuns) int { return cmp.Compare(a.interactions, b.interactions) })
	return out, nil
}

// ledgerFigures lists the figures of the ledger's rows (not the peer's), in the order of the
// first report of the first scale that has them, then those only later ones have.
func ledgerFigures(scales []*benchRuns) (figs []string, units map[string]string) {
	units = map[string]string{}
	for _, s := range scales {
		for _, rep := range s.reports {
			for _, r := range rep.Rows {
				f := figureKey(r.Figure)
				if _, seen := units[f]; seen || isPeerFigure(f) {
					continue
				}
				units[f] = r.Unit
				figs = append(figs, f)
			}
		}
	}
	return figs, units
}

// isPeerFigure tells the peer's rows (its answers to the ledger's queries, its own ingest
// and COPY) from the ledger's.
func isPeerFigure(f string) bool {
	return strings.HasPrefix(f, peerPrefix) || f == benchPeerCopyFig
}

// summaryValue formats a median as the bench's table does, "-" when there is none.
func summaryValue(v float64, ok bool, unit string) string {
	if !ok {
		return "-"
	}
	if unit == "events/s" {
		return strconv.FormatFloat(v/1000, 'f', 1, 64) + "k"
	}
	return fmtValue(v, unit)
}

// writeSummaryTable writes each ledger figure's median per scale, the peer's beside it.
func writeSummaryTable(w io.Writer, scales []*benchRuns, markdown bool) {
	figs, units := ledgerFigures(scales)
	// The peer's own rows that have no ledger counterpart (its ingest, its COPY).
	var peerOnly []string
	seen := map[string]bool{}
	for _, s := range scales {
		for _, rep := range s.reports {
			for _, r := range rep.Rows {
				f := figureKey(r.Figure)
				if isPeerFigure(f) && units[strings.TrimPrefix(f, peerPrefix)] == "" && !seen[f] {
					seen[f] = true
					peerOnly = append(peerOnly, f)
					units[f] = r.Unit
				}
			}
		}
	}
	header := []string{"figure"}
	for _, s := range scales {
		runs := fmt.Sprintf("%d runs", len(s.reports))
		if len(s.reports) == 1 {
			runs = "1 run"
		}
		header = append(header, fmt.Sprintf("%s: ledger (%s)", s.label(), runs), "PostgreSQL")
	}
	var lines [][]string
	for _, f := range append(figs, peerOnly...) {
		cells := []string{fmt.Sprintf("%s (%s)", f, units[f])}
		for _, s := range scales {
			v, ok := s.value(f)
			cells = append(cells, summaryValue(v, ok, units[f]))
			pv, pok := s.value(peerPrefix + f)
			if !pok {
				cells = append(cells, "-")
			} else {
				cells = append(cells, summaryValue(pv, pok, units[f]))
			}
		}
		lines = append(lines, cells)
	}
	if markdown {
		fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat("---|", len(header)))
		for _, l := range lines {
			fmt.Fprintf(w, "| %s |\n", strings.Join(l, " | "))
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(header, "\t")))
	for _, l := range lines {
		fmt.Fprintln(tw, strings.Join(l, "\t"))
	}
	tw.Flush()
}

// benchCheck is one of issue 16's targets judged on the medians of a scale.
type benchCheck struct {
	scale  string
	target string
	holds  bool
	detail string
}

// p50Figures are the queries whose p50 has a target of its own: the lists of the day, the
// details and the timeline's newest 50.
var p50Figures = []string{"history list, default (today)", "history detail", "timeline newest 50"}

// benchChecks judges issue 16's targets (README: Performance) on the medians.
func benchChecks(scales []*benchRuns) []benchCheck {
	var out []benchCheck
	for _, s := range scales {
		sc := s.label()
		for _, f := range []string{benchE2EFig, benchE2ENATSFig} {
			if r, ok := s.ratio(f); ok {
				v, _ := s.value(f)
				out = append(out, benchCheck{sc, f + " ≥ 0.3 × raw JetStream publish", r >= 0.3,
					fmt.Sprintf("%.0f events/s = %.2f × raw", v, r)})
			}
		}
		if v, ok := s.value(benchE2EFig); ok {
			if pv, pok := s.value(benchPeerIngest); pok {
				out = append(out, benchCheck{sc, "end-to-end HTTP ingest ahead of the peer's ingest to queryable", v >= pv,
					fmt.Sprintf("%.0f vs %.0f events/s", v, pv)})
			}
		}
		if v, ok := s.value(benchReplayFig); ok {
			out = append(out, benchCheck{sc, "replay of all views ≥ 100,000 events/s", v >= 100_000, fmt.Sprintf("%.0f events/s", v)})
		}
		figs, _ := ledgerFigures([]*benchRuns{s})
		var slower, compared []string
		for _, f := range figs {
			v, ok := s.value(f)
			pv, pok := s.value(peerPrefix + f)
			if !ok || !pok || !strings.HasSuffix(f, ", p99") {
				continue
			}
			compared = append(compared, f)
			if v > pv {
				slower = append(slower, fmt.Sprintf("%s %.2f > %.2f ms", f, v, pv))
			}
		}
		if len(compared) > 0 {
			detail := fmt.Sprintf("%d queries compared", len(compared))
			if len(slower) > 0 {
				detail += "; above the peer: " + strings.Join(slower, "; ")
			}
			out = append(out, benchCheck{sc, "every query's p99 ≤ the peer's", len(slower) == 0, detail})
		}
		var over, met []string
		highest, highestAt := -1.0, ""
		for _, f := range figs {
			if !slices.ContainsFunc(p50Figures, func(p string) bool { return strings.HasPrefix(f, p) }) {
				continue
			}
			v, ok := s.p50(f)
			if !ok {
				continue
			}
			d := fmt.Sprintf("%s %.2f ms", strings.TrimSuffix(f, ", p99"), v)
			if v > highest {
				highest, highestAt = v, d
			}
			if v > 0.3 {
				over = append(over, d)
			} else {
				met = append(met, d)
			}
		}
		if len(over)+len(met) > 0 {
			detail := fmt.Sprintf("%d of %d at or under", len(met), len(met)+len(over))
			if len(over) > 0 {
				detail += "; over: " + strings.Join(over, "; ")
			} else {
				detail += "; highest: " + highestAt
			}
			out = append(out, benchCheck{sc, "p50 ≤ 0.3 ms: lists of the day, details, timeline newest 50", len(over) == 0, detail})
		}
		if v, ok := s.value(benchAnonFig); ok {
			out = append(out, benchCheck{sc, "anonymous RSS ≤ 512 MiB", v <= 512, fmt.Sprintf("%.0f MiB", v)})
		}
	}
	if len(scales) > 1 {
		small, large := scales[0], scales[len(scales)-1]
		for _, f := range []string{benchE2EFig, benchReplayFig} {
			a, aok := small.value(f)
			b, bok := large.value(f)
			if aok && bok && a > 0 {
				out = append(out, benchCheck{large.label() + " vs " + small.label(), f + " within 20 % of the smaller scale's", b/a >= 0.8,
					fmt.Sprintf("%.0f vs %.0f events/s (%.0f %%)", b, a, 100*b/a)})
			}
		}
	}
	return out
}

func writeChecks(w io.Writer, checks []benchCheck) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCALE\tTARGET (MEDIANS)\tMET\tFIGURES")
	for _, c := range checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.scale, c.target, map[bool]string{true: "yes", false: "NO"}[c.holds], c.detail)
	}
	tw.Flush()
}

// cmdSummarize is `ledger-bench summarize [-markdown] REPORT.json...`.
func cmdSummarize(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ledger-bench summarize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	markdown := fs.Bool("markdown", false, "print the table as Markdown (README: Performance)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ledger-bench summarize [-markdown] REPORT.json...\n\nthe medians of the runs' --json reports, by scale, beside the PostgreSQL peer, and issue 16's targets judged on them")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	scales, err := loadBenchRuns(fs.Args())
	if err != nil {
		return err
	}
	writeSummaryTable(stdout, scales, *markdown)
	fmt.Fprintln(stdout)
	writeChecks(stdout, benchChecks(scales))
	return nil
}
