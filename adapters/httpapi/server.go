// Package httpapi is the ledger's HTTP interface (CONTRACT.md §4): ingest, the History
// of interactions and the commands on an interaction, the customer card and its task
// commands, provider webhooks, the ops
// endpoints, health and metrics. Handlers translate between HTTP and the views; the
// rules themselves live in domain and projections.
package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/interaction-ledger/ledger/adapters/audit"
	"github.com/interaction-ledger/ledger/adapters/auth"
	"github.com/interaction-ledger/ledger/adapters/ingest"
	"github.com/interaction-ledger/ledger/adapters/jsonhttp"
	"github.com/interaction-ledger/ledger/adapters/metrics"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/directory"
	"github.com/interaction-ledger/ledger/projections/history"
	"github.com/interaction-ledger/ledger/projections/timeline"
)

// DefaultMaxBody bounds POST /v1/events (413 beyond).
const DefaultMaxBody = 16 << 20

// MaxEventsPerRequest bounds how many envelopes one request may carry.
const MaxEventsPerRequest = ingest.MaxEventsPerBody

// DefaultMaxConcurrentIngest bounds the ingest requests served at once. Streaming keeps a
// request's memory that of one append chunk (1000 events or 1 MiB) and one envelope being
// read, plus its outcomes, whatever its body's size; the worst body within the limits
// (10000 envelopes rejected with long messages) still holds about 15 MiB by its answer.
// Measured with GOGC 300 and the 400 MiB soft limit (BenchmarkHostileIngestRSS*): 3 such
// bodies at once peaked at 201 MiB RSS in the test process, 8 at 377 MiB, 16 at 418 MiB
// (GOGC 300 lets the heap grow towards the soft limit, so the peak follows the limit
// once the live memory is a quarter of it); before streaming, 3 bodies of tiny elements
// took 1438 MiB.
const DefaultMaxConcurrentIngest = 8

// Ops is what the ops endpoints need from the running ledger.
type Ops interface {
	Status(r *http.Request) (any, error)
	// DeadLetters returns up to limit dead letters stored after the cursor after (0: from
	// the oldest) and the cursor of the next page (0: none).
	DeadLetters(r *http.Request, after uint64, limit int) (items any, next uint64, err error)
	Rebuild(r *http.Request, view string) (any, error)
}

// Config wires the server. Every field but Webhooks and Ops is required.
type Config struct {
	Verifier   *auth.Verifier
	Ingest     *ingest.Service
	Directory  *directory.View
	History    *history.View
	Timeline   *timeline.View
	TimelineDB *projections.DB // to answer task commands once their event is visible
	HistoryDB  *projections.DB // to answer the commands on an interaction once the detail shows them
	Webhooks   http.Handler    // POST/GET /v1/webhooks/{provider}
	Ops        Ops
	Metrics    *metrics.Metrics
	// Metrics says who may read GET /metrics here; default MetricsOpen.
	MetricsPolicy MetricsPolicy
	Ready         func() bool
	Logger        *slog.Logger
	MaxBody       int64 // default DefaultMaxBody
	// MaxConcurrentIngest bounds the POST /v1/events served at once; beyond it they are
	// answered 503 with Retry-After (default DefaultMaxConcurrentIngest).
	MaxConcurrentIngest int
	Now                 func() time.Time // default time.Now
	// CommandWait bounds how long a command waits for its event to be visible in the
	// card or the detail before answering anyway (default 5 s).
	CommandWait time.Duration
	// PositionWait bounds how long a read with Ledger-Min-Position waits for this node's
	// views before answering 503 with the lag (default DefaultPositionWait).
	PositionWait time.Duration
	// Audit records every read of personal data (the read audit); nil records nothing.
	Audit *audit.Recorder
	// AccessLog answers the access-log endpoints (scope audit); nil serves none.
	AccessLog *audit.Log
}

// MetricsPolicy says who may read /metrics on the API's server.
type MetricsPolicy int

const (
	// MetricsOpen serves /metrics to whoever reaches the port: figures, no personal data;
	// the default, for a server on loopback or behind a proxy that guards it.
	MetricsOpen MetricsPolicy = iota
	// MetricsOps asks for a token with scope ops, like /v1/admin.
	MetricsOps
	// MetricsElsewhere serves no /metrics here: the node serves it on a listen address
	// of its own (LEDGER_METRICS_ADDR), reachable by the scraper alone.
	MetricsElsewhere
)

// TaskCommands returns the task commands over the configuration's views, for the API
// and any other front (the agents' pages) that must decide them the same way.
func (cfg Config) TaskCommands() *TaskCommands {
	return &TaskCommands{Ingest: cfg.Ingest, Timeline: cfg.Timeline, TimelineDB: cfg.TimelineDB,
		Now: cfg.Now, Wait: cfg.CommandWait, Logger: cfg.Logger}
}

// InteractionCommands returns the commands on an interaction over the configuration's
// views, for the API and the agents' pages.
func (cfg Config) InteractionCommands() *InteractionCommands {
	return &InteractionCommands{Ingest: cfg.Ingest, History: cfg.History, HistoryDB: cfg.HistoryDB,
		Now: cfg.Now, Wait: cfg.CommandWait, Logger: cfg.Logger}
}

// MyButtons returns the filler of the readers' My buttons, for the API's detail and the
// agents' pages.
func (cfg Config) MyButtons() *MyButtons {
	return &MyButtons{Directory: cfg.Directory, Logger: cfg.Logger}
}

// Server serves the API.
type Server struct {
	cfg         Config
	mux         *http.ServeMux
	ingestSlots *semaphore.Weighted // one per POST /v1/events in progress
	tasks       *TaskCommands
	actions     *InteractionCommands
	buttons     *MyButtons
	live        *Live
	patterns    []string // every route registered, for Routes
}

// New returns a server for cfg.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CommandWait == 0 {
		cfg.CommandWait = 5 * time.Second
	}
	if cfg.PositionWait == 0 {
		cfg.PositionWait = DefaultPositionWait
	}
	if cfg.Ready == nil {
		cfg.Ready = func() bool { return true }
	}
	if cfg.MaxConcurrentIngest <= 0 {
		cfg.MaxConcurrentIngest = DefaultMaxConcurrentIngest
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), ingestSlots: semaphore.NewWeighted(int64(cfg.MaxConcurrentIngest)),
		tasks: cfg.TaskCommands(), actions: cfg.InteractionCommands(), buttons: cfg.MyButtons(), live: cfg.Live()}
	s.routes()
	return s
}

// Live returns the server's live list: give it to the agents' pages too, so that one
// reader of the history view serves every open stream.
func (s *Server) Live() *Live { return s.live }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) routes() {
	s.handle("POST /v1/events", s.authenticated(s.postEvents)) // scope by event type
	s.handle("GET /v1/interactions", s.reader(s.listInteractions))
	s.handle("GET /v1/interactions/live", s.reader(s.liveInteractions))
	s.handle("GET /v1/interactions/{id}", s.reader(s.getInteraction))
	s.handle("GET /v1/customers/{id}/timeline", s.reader(s.getTimeline))
	s.handle("GET /v1/customers/{id}/card", s.reader(s.getCard))
	s.handle("GET /v1/customers/{id}/chats", s.reader(s.getChats))
	s.handle("GET /v1/customers/{id}/tasks", s.reader(s.getTasks))
	s.handle("GET /v1/customers/{id}/visits", s.reader(s.getVisits))
	s.handle("GET /v1/customers/{id}/segments", s.reader(s.getSegments))
	s.handle("POST /v1/customers/{id}/tasks", s.agent(auth.ScopeTasksWrite, s.taskCommand(domain.TaskCreate)))
	s.handle("PATCH /v1/customers/{id}/tasks/{task_id}", s.agent(auth.ScopeTasksWrite, s.taskCommand(domain.TaskEdit)))
	s.handle("POST /v1/customers/{id}/tasks/{task_id}/complete", s.agent(auth.ScopeTasksWrite, s.taskCommand(domain.TaskComplete)))
	s.handle("POST /v1/customers/{id}/tasks/{task_id}/reopen", s.agent(auth.ScopeTasksWrite, s.taskCommand(domain.TaskReopen)))
	s.handle("DELETE /v1/customers/{id}/tasks/{task_id}", s.agent(auth.ScopeTasksWrite, s.taskCommand(domain.TaskDelete)))
	s.handle("PUT /v1/interactions/{id}/crm-record", s.agent(auth.ScopeInteractionsWrite, s.interactionAction(domain.ActionAssignCRMRecord)))
	s.handle("DELETE /v1/interactions/{id}/crm-record", s.agent(auth.ScopeInteractionsWrite, s.interactionAction(domain.ActionUnassignCRMRecord)))
	s.handle("PUT /v1/interactions/{id}/case", s.agent(auth.ScopeInteractionsWrite, s.interactionAction(domain.ActionAssignCase)))
	s.handle("DELETE /v1/interactions/{id}/case", s.agent(auth.ScopeInteractionsWrite, s.interactionAction(domain.ActionUnassignCase)))
	s.handle("POST /v1/interactions/{id}/payments", s.agent(auth.ScopeInteractionsWrite, s.interactionAction(domain.ActionCreatePayment)))
	if s.cfg.AccessLog != nil {
		s.handle("GET /v1/customers/{id}/access-log", s.scoped(auth.ScopeAudit, s.accessLog(true)))
		s.handle("GET /v1/agents/{id}/access-log", s.scoped(auth.ScopeAudit, s.accessLog(false)))
	}
	if s.cfg.Webhooks != nil {
		s.handle("POST /v1/webhooks/{provider}", s.cfg.Webhooks.ServeHTTP)
		s.handle("GET /v1/webhooks/{provider}", s.cfg.Webhooks.ServeHTTP)
	}
	if s.cfg.Ops != nil {
		s.handle("GET /v1/admin/status", s.scoped(auth.ScopeOps, s.adminStatus))
		s.handle("GET /v1/admin/deadletters", s.scoped(auth.ScopeOps, s.adminDeadLetters))
		s.handle("POST /v1/admin/views/{name}/rebuild", s.scoped(auth.ScopeOps, s.adminRebuild))
	}
	s.handle("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		jsonhttp.Write(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.handle("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.cfg.Ready() {
			jsonhttp.Write(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
			return
		}
		jsonhttp.Write(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	s.handle("GET /openapi.json", s.serveOpenAPI)
	if s.cfg.Metrics != nil {
		switch s.cfg.MetricsPolicy {
		case MetricsOpen:
			s.patterns = append(s.patterns, "GET /metrics")
			s.mux.Handle("GET /metrics", s.cfg.Metrics.Handler())
		case MetricsOps:
			h := s.cfg.Metrics.Handler()
			s.patterns = append(s.patterns, "GET /metrics")
			s.mux.Handle("GET /metrics", s.scoped(auth.ScopeOps, func(w http.ResponseWriter, r *http.Request, _ auth.Principal) { h.ServeHTTP(w, r) }))
		}
	}
}

// handle registers h under pattern, timing it by pattern and status code.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.patterns = append(s.patterns, pattern)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := jsonhttp.NewStatusRecorder(w)
		h(rec, r)
		if s.cfg.Metrics != nil {
			s.cfg.Metrics.QueryLatency.WithLabelValues(pattern, strconv.Itoa(rec.Status())).Observe(time.Since(start).Seconds())
		}
	})
}

// authenticated requires a valid token (401 otherwise) and leaves the scopes to h.
func (s *Server) authenticated(h func(http.ResponseWriter, *http.Request, auth.Principal)) http.HandlerFunc {
	return s.cfg.Verifier.Authenticated(h)
}

// scoped requires a valid token holding scope: 401 without one, 403 without the scope.
func (s *Server) scoped(scope string, h func(http.ResponseWriter, *http.Request, auth.Principal)) http.HandlerFunc {
	return s.cfg.Verifier.Scoped(scope, h)
}

// reader requires history:read and an agent the directory allows to read (agent).
func (s *Server) reader(h func(http.ResponseWriter, *http.Request, domain.Reader)) http.HandlerFunc {
	return s.agent(auth.ScopeHistoryRead, func(w http.ResponseWriter, r *http.Request, rd domain.Reader) {
		s.minPosition(func(w http.ResponseWriter, r *http.Request) { h(w, r, rd) })(w, r)
	})
}

// agent requires scope and an agent whose active profile grants history access (403
// otherwise: CONTRACT.md §3, for reads and commands alike), and hands the handler the
// reader as the directory knows it now.
func (s *Server) agent(scope string, h func(http.ResponseWriter, *http.Request, domain.Reader)) http.HandlerFunc {
	return s.scoped(scope, func(w http.ResponseWriter, r *http.Request, p auth.Principal) {
		rd, ok, err := s.cfg.Directory.Reader(p.Subject)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if !ok {
			jsonhttp.Error(w, http.StatusForbidden, "agent "+p.Subject+" is not in the directory", nil)
			return
		}
		if !rd.HistoryAccess {
			jsonhttp.Error(w, http.StatusForbidden, "the active profile of agent "+p.Subject+" has no history access", nil)
			return
		}
		h(w, r, rd)
	})
}

func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.cfg.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	jsonhttp.Error(w, http.StatusInternalServerError, "internal error", nil)
}

func isTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}
