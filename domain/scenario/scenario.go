package scenario

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/interaction-ledger/ledger/domain"
)

// Scenario is one simulated contact centre: its directory, built by New, and its events,
// generated afresh by each call of Events.
type Scenario struct {
	cfg       Config
	from, to  time.Time
	queues    []string
	profiles  []profile
	teams     []team
	agents    []AgentInfo
	handlers  []int // agents who take interactions: managers and collaborators
	directory []domain.Event
	names     []string // customers' full names, by person.nameIdx
}

// New applies cfg's defaults, validates it and lays out the directory.
func New(cfg Config) (*Scenario, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Scenario{cfg: cfg, to: cfg.Now}
	s.from = cfg.Now.AddDate(0, 0, -cfg.Days)
	if earliest := domain.RetentionStart(cfg.Now).Add(time.Hour); s.from.Before(earliest) {
		s.from = earliest
	}
	s.names = fullNames()
	s.buildDirectory()
	return s, nil
}

// Config returns the configuration with its defaults applied.
func (s *Scenario) Config() Config { return s.cfg }

// Period returns the simulated period: interactions start in [from, to), to is Config.Now.
func (s *Scenario) Period() (from, to time.Time) { return s.from, s.to }

// Directory returns the directory.profile, directory.team and directory.agent events,
// which occur half an hour before the period: profiles first, then teams, then agents.
func (s *Scenario) Directory() []domain.Event { return slices.Clone(s.directory) }

// Agents returns every agent of the directory: administrators, then managers, then
// collaborators.
func (s *Scenario) Agents() []AgentInfo {
	out := slices.Clone(s.agents)
	for i := range out {
		out[i].ManagedTeamIDs = slices.Clone(out[i].ManagedTeamIDs)
	}
	return out
}

// Queues returns the queue ids of smart routing.
func (s *Scenario) Queues() []string { return slices.Clone(s.queues) }

// Customers returns the number of customers: CustomerID(0) to CustomerID(Customers()-1).
func (s *Scenario) Customers() int { return s.cfg.Customers }

// Events yields every customer-scoped event of the period in delivery order (an
// iter.Seq[domain.Event]): roughly chronological, with the configured duplicates (the
// same event again, a little later) and reorderings (an interaction's event delivered
// after one that occurred after it). Each call replays the same sequence.
func (s *Scenario) Events(yield func(domain.Event) bool) {
	g := newGen(s, yield)
	g.run()
}

// hourWeight is the daily rhythm, by local hour: busy from 9 to 18, quiet at night.
var hourWeight = [24]float64{0.04, 0.03, 0.02, 0.02, 0.02, 0.04, 0.10, 0.30, 0.70, 1.00, 1.00, 1.00,
	0.85, 0.80, 1.00, 1.00, 1.00, 0.95, 0.70, 0.40, 0.25, 0.15, 0.10, 0.06}

// weekendWeight is the weekly rhythm: Saturdays and Sundays are at 30% of a weekday.
const weekendWeight = 0.3

// gen is the state of one pass of Events.
type gen struct {
	s        *Scenario
	r        *rand.Rand
	zipf     *rand.Zipf
	permMul  uint64
	permAdd  uint64
	yield    func(domain.Event) bool
	stopped  bool
	now      int64 // Unix ms
	o        obj
	scratch  []byte
	p        pending
	batch    []domain.Event
	keys     []int64
	dup      float64
	reorder  float64
	activity float64 // customer activities per interaction
	merge    int     // one interaction in merge is a provider's customer, merged later
}

func newGen(s *Scenario, yield func(domain.Event) bool) *gen {
	c := s.cfg
	r := rand.New(rand.NewPCG(c.Seed, 0x6576656e7473)) // "events"
	g := &gen{s: s, r: r, yield: yield, now: s.to.UnixMilli(),
		dup: nonNegative(c.DuplicateRate), reorder: nonNegative(c.ReorderRate),
		activity: nonNegative(c.CustomerEventsPerInteraction) / meanActivityEvents}
	g.zipf = rand.NewZipf(r, 1.2, 30, uint64(c.Customers-1))
	// A bijection of the customers, so that the busiest are not the first ids.
	n := uint64(c.Customers)
	g.permMul = splitmix64(c.Seed)%n | 1
	for gcd(g.permMul, n) != 1 {
		g.permMul += 2
	}
	g.permMul %= n
	if g.permMul == 0 {
		g.permMul = 1
	}
	g.permAdd = splitmix64(c.Seed+1) % n
	merges := max(1, c.Interactions/2500)
	g.merge = c.Interactions / merges
	return g
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func (g *gen) run() {
	s := g.s
	loc := s.cfg.Now.Location()
	from, to := s.from.UnixMilli(), s.to.UnixMilli()
	const hourMs = int64(time.Hour / time.Millisecond)
	hours := int((to - from + hourMs - 1) / hourMs)
	weights := make([]float64, hours)
	local := make([]uint8, hours)
	total := 0.0
	for h := range hours {
		start := from + int64(h)*hourMs
		t := time.UnixMilli(start).In(loc)
		w := hourWeight[t.Hour()]
		if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
			w *= weekendWeight
		}
		if end := start + hourMs; end > to {
			w *= float64(to-start) / float64(hourMs)
		}
		weights[h], local[h] = w, uint8(t.Hour())
		total += w
	}
	n := s.cfg.Interactions
	cum, done, idx := 0.0, 0, 0
	for h := range hours {
		cum += weights[h]
		target := int(math.Round(cum / total * float64(n)))
		if h == hours-1 {
			target = n
		}
		k := target - done
		done = target
		start := from + int64(h)*hourMs
		length := min(hourMs, to-start)
		for i := range k {
			t0 := start + int64((float64(i)+g.r.Float64())*float64(length)/float64(k))
			g.flush(t0)
			if g.stopped {
				return
			}
			g.interaction(idx, t0, int(local[h]))
			idx++
			for g.p.len() > maxPending && !g.stopped {
				g.emit(g.p.pop())
			}
		}
	}
	g.flush(math.MaxInt64)
}

func (g *gen) emit(ev domain.Event) {
	if !g.stopped && !g.yield(ev) {
		g.stopped = true
	}
}

// flush delivers everything due by t.
func (g *gen) flush(t int64) {
	for g.p.len() > 0 && g.p.minAt() <= t && !g.stopped {
		g.emit(g.p.pop())
	}
}

// customer picks who the next interaction is with: 70% any customer, 30% by a Zipf law
// (a few customers call again and again).
func (g *gen) customer() int {
	n := uint64(g.s.cfg.Customers)
	if g.r.Float64() < 0.7 {
		return int(g.r.Uint64N(n))
	}
	k := g.zipf.Uint64()
	return int((k*g.permMul + g.permAdd) % n)
}

// event builds an event on the fast path (see the package's Caveats).
func (g *gen) event(t domain.EventType, at int64, customer string, data []byte, p domain.Payload) domain.Event {
	return domain.Event{ID: uuid7(g.r, at), Type: t, OccurredAt: time.UnixMilli(at).UTC(),
		CustomerID: customer, Source: source, Data: data, Payload: p}
}

const source = "scenario"

// schedule queues ev for delivery at `at`, and a duplicate a little later at the
// configured rate.
func (g *gen) schedule(ev domain.Event, at int64) {
	g.p.push(at, ev)
	if g.dup > 0 && g.r.Float64() < g.dup {
		g.p.push(at+1000+g.r.Int64N(300_000), ev)
	}
}

// scheduleBatch queues the events of one interaction: in the order they occurred, except
// that at the configured rate one is held back until after the next one.
func (g *gen) scheduleBatch() {
	b := g.batch
	n := len(b)
	for i := 1; i < n; i++ { // stable insertion sort by occurred_at; batches are small
		for j := i; j > 0 && b[j].OccurredAt.Before(b[j-1].OccurredAt); j-- {
			b[j], b[j-1] = b[j-1], b[j]
		}
	}
	g.keys = slices.Grow(g.keys[:0], n)[:n]
	p := 0.0
	if n > 1 {
		p = min(1, g.reorder*float64(n)/float64(n-1)) // the last one cannot be held back
	}
	for i := n - 1; i >= 0; i-- {
		at := b[i].OccurredAt.UnixMilli()
		if i < n-1 && p > 0 && g.r.Float64() < p {
			at = g.keys[i+1] + 1000 + g.r.Int64N(30_000)
		}
		g.keys[i] = at
	}
	for i := range n {
		g.schedule(b[i], g.keys[i])
		b[i] = domain.Event{}
	}
	g.batch = b[:0]
}

// Durations in milliseconds.
const (
	second = int64(1000)
	minute = 60 * second
	hour   = 60 * minute
	day    = 24 * hour
)

// between returns a uniform duration in [lo, hi).
func (g *gen) between(lo, hi int64) int64 { return lo + g.r.Int64N(hi-lo) }

// expo returns an exponential duration of the given mean, at most limit.
func (g *gen) expo(mean, limit int64) int64 {
	return min(limit, int64(g.r.ExpFloat64()*float64(mean)))
}

// lognormal returns a duration whose median is median, within [lo, hi].
func (g *gen) lognormal(median int64, sigma float64, lo, hi int64) int64 {
	v := int64(float64(median) * math.Exp(g.r.NormFloat64()*sigma))
	return max(lo, min(hi, v))
}

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func pick[T any](g *gen, vs []T) T { return vs[g.r.IntN(len(vs))] }

// rid returns prefix followed by 12 random hex digits.
func (g *gen) rid(prefix string) string {
	b := append(g.scratch[:0], prefix...)
	v := g.r.Uint64()
	for range 12 {
		b = append(b, hexDigits[v&0xf])
		v >>= 4
	}
	g.scratch = b
	return string(b)
}
