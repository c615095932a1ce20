// Package metrics holds the ledger's Prometheus metrics, on a registry of its own (no
// global state), and the observers that feed them from ingest, the projectors and the
// HTTP API. Names follow Prometheus conventions: ledger_<subsystem>_<what>_<unit>.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/interaction-ledger/ledger/adapters/ingest"
	"github.com/interaction-ledger/ledger/projections"
)

// Metrics is the set of collectors an operator graphs.
type Metrics struct {
	reg *prometheus.Registry

	IngestEvents   *prometheus.CounterVec   // by type and outcome
	AppendLatency  prometheus.Histogram     // one Append call to the stream
	BatchSize      *prometheus.HistogramVec // events per projector batch, by view
	ApplyLatency   *prometheus.HistogramVec // one projector batch, by view
	Checkpoint     *prometheus.GaugeVec     // last applied stream seq, by view
	LagEvents      *prometheus.GaugeVec     // stream last seq - checkpoint, by view
	LagSeconds     *prometheus.GaugeVec     // now - publish time of the last applied message, by view
	QueryLatency   *prometheus.HistogramVec // by endpoint and code
	Expired        *prometheus.CounterVec   // entries dropped by retention, by view
	DeadLetters    *prometheus.CounterVec   // envelopes set aside, by view
	WebhookResults *prometheus.CounterVec   // by provider and code
	ViewRecoveries *prometheus.CounterVec   // views rebuilt by themselves, by view and kind (corrupt, diverged)
	StreamMessages *prometheus.GaugeVec     // messages held, by stream
	StreamBytes    *prometheus.GaugeVec     // bytes held, by stream
	// StreamConsumers counts each stream's consumers: the views' durables and the reads in
	// progress. A count that keeps growing is a leak that slows every append (each stored
	// message signals every consumer of its stream) until the server refuses new ones.
	StreamConsumers *prometheus.GaugeVec
}

// New registers every collector (plus Go and process collectors) on a new registry.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		IngestEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ledger_ingest_events_total",
			Help: "Events received, by type and outcome (accepted, duplicate, rejected)."}, []string{"type", "outcome"}),
		AppendLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ledger_append_duration_seconds",
			Help: "Time for the stream to acknowledge one append batch.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		BatchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ledger_projector_batch_events",
			Help: "Events applied per projector batch.", Buckets: prometheus.ExponentialBuckets(1, 4, 8)}, []string{"view"}),
		ApplyLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ledger_projector_apply_duration_seconds",
			Help: "Time to apply one batch and commit it with its checkpoint.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"view"}),
		Checkpoint: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ledger_projector_checkpoint_seq",
			Help: "Last stream sequence applied by the view."}, []string{"view"}),
		LagEvents: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ledger_projector_lag_events",
			Help: "Messages in the stream not yet applied by the view."}, []string{"view"}),
		LagSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ledger_projector_lag_seconds",
			Help: "Age of the last message the view applied, while it is behind."}, []string{"view"}),
		QueryLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ledger_http_request_duration_seconds",
			Help: "HTTP request latency by endpoint pattern and status code.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}, []string{"endpoint", "code"}),
		Expired: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ledger_expired_entries_total",
			Help: "Entries dropped because their occurred_at left the retention window."}, []string{"view"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ledger_dead_letters_total",
			Help: "Envelopes that failed validation on the stream and were set aside."}, []string{"view"}),
		WebhookResults: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ledger_webhook_requests_total",
			Help: "Provider webhook requests by provider and status code."}, []string{"provider", "code"}),
		ViewRecoveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ledger_view_recoveries_total",
			Help: "Views found corrupt or diverged from their stream (after a power cut) and rebuilt by themselves."}, []string{"view", "kind"}),
		StreamMessages: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ledger_stream_messages",
			Help: "Messages the stream holds."}, []string{"stream"}),
		StreamBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ledger_stream_bytes",
			Help: "Bytes the stream holds."}, []string{"stream"}),
		StreamConsumers: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ledger_stream_consumers",
			Help: "Consumers of the stream: the views' durables and the ordered reads in progress."}, []string{"stream"}),
	}
	m.reg.MustRegister(m.IngestEvents, m.AppendLatency, m.BatchSize, m.ApplyLatency, m.Checkpoint, m.LagEvents,
		m.LagSeconds, m.QueryLatency, m.Expired, m.DeadLetters, m.WebhookResults, m.ViewRecoveries,
		m.StreamMessages, m.StreamBytes, m.StreamConsumers,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry exposes the registry (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// IngestObserver feeds ingest's counts.
func (m *Metrics) IngestObserver() ingest.Observer {
	return ingest.Observer{
		Outcome: func(t, status string) { m.IngestEvents.WithLabelValues(t, status).Inc() },
		Append:  func(_ int, d time.Duration) { m.AppendLatency.Observe(d.Seconds()) },
	}
}

// ViewTrouble counts a view's recoveries (projections.RunnerConfig.Trouble).
func (m *Metrics) ViewTrouble(view, kind string) { m.ViewRecoveries.WithLabelValues(view, kind).Inc() }

// ProjectorObserver feeds a projector's figures.
func (m *Metrics) ProjectorObserver() projections.Observer {
	return projections.Observer{
		Batch: func(view string, n int, d time.Duration) {
			m.BatchSize.WithLabelValues(view).Observe(float64(n))
			m.ApplyLatency.WithLabelValues(view).Observe(d.Seconds())
		},
		DeadLetter: func(view string) { m.DeadLetters.WithLabelValues(view).Inc() },
		Expired:    func(view string, n int) { m.Expired.WithLabelValues(view).Add(float64(n)) },
		Checkpoint: func(view string, seq uint64, published time.Time) {
			m.Checkpoint.WithLabelValues(view).Set(float64(seq))
			m.LagSeconds.WithLabelValues(view).Set(time.Since(published).Seconds())
		},
	}
}
