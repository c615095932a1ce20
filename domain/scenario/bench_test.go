package scenario

import (
	"syscall"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/domain"
)

// BenchmarkEvents generates 100,000 interactions per iteration on the fast path.
func BenchmarkEvents(b *testing.B) {
	const interactions = 100_000
	s := newScenario(b, Config{Seed: 1, Interactions: interactions})
	b.ReportAllocs()
	events := 0
	cpu0 := cpuTime()
	for b.Loop() {
		for range s.Events {
			events++
		}
	}
	// CPU time of the whole process (generation and GC): wall time lies on a busy machine.
	sec := (cpuTime() - cpu0).Seconds()
	b.ReportMetric(float64(events)/sec, "events/s")
	b.ReportMetric(float64(interactions*b.N)/sec, "interactions/s")
	b.ReportMetric(float64(events)/float64(b.N)/interactions, "events/interaction")
}

// BenchmarkEventsEncoded adds domain.Event.Encode, what a publisher pays per event.
func BenchmarkEventsEncoded(b *testing.B) {
	benchEvents(b, 100_000, func(ev domain.Event) error {
		_, err := ev.Encode()
		return err
	})
}

// BenchmarkEventsDecoded measures the slow path the fast one replaces: every event read
// back through domain.DecodeIncoming.
func BenchmarkEventsDecoded(b *testing.B) {
	benchEvents(b, 20_000, func(ev domain.Event) error {
		raw, err := ev.Encode()
		if err != nil {
			return err
		}
		_, err = domain.DecodeIncoming(raw, ev.OccurredAt)
		return err
	})
}

// benchEvents runs f on every event of a scenario of n interactions per iteration,
// failing on its error, and reports events/s.
func benchEvents(b *testing.B, n int, f func(domain.Event) error) {
	s := newScenario(b, Config{Seed: 1, Interactions: n})
	b.ReportAllocs()
	events := 0
	for b.Loop() {
		for ev := range s.Events {
			if err := f(ev); err != nil {
				b.Fatal(err)
			}
			events++
		}
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMillion generates one million interactions once per iteration and reports
// CPU and wall time (go test -run XXX -bench Million -benchtime 1x).
func BenchmarkMillion(b *testing.B) {
	s := newScenario(b, Config{Seed: 1, Interactions: 1_000_000})
	for b.Loop() {
		cpu0, wall0 := cpuTime(), time.Now()
		events := 0
		for range s.Events {
			events++
		}
		cpu, wall := cpuTime()-cpu0, time.Since(wall0)
		b.ReportMetric(float64(events), "events")
		b.ReportMetric(cpu.Seconds(), "cpu-s")
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric(float64(events)/cpu.Seconds(), "events/cpu-s")
	}
}
