package history

import (
	"slices"

	"github.com/interaction-ledger/ledger/domain"
)

// A sort index entry's value is its row's screen: what a walk of the index checks a
// candidate on before it looks the row up, the enums a list filters on and what the
// access rule looks at (domain.Visibility but CurrentAgent, which only names a rule,
// own or before_transfer, and never decides one). At 2M envelopes a manager's
// three-month list of processed calls sorted by agent looked up 1,063 rows to show 50:
// 698 of another flow or status, 314 the manager may not see. The row is still looked
// up and matched whole: the screen only turns candidates away.
//
//	fmtScreen | flow | status | direction | original routing | current routing (a code
//	each, screenCodes) | agents | queues (counted lists of strings)
const fmtScreen = 1

// screenCodes number the values of the enums a screen holds: 0 is the zero value, then
// 1 + the value's place in domain's list. They are stored in the view's files:
// TestScreenCodesAreStable pins them, and a change of a list's order or a value taken
// out needs a new layoutVersion (a value added at a list's end does not).
var (
	flowCodes      = codesOf(domain.Flows())
	statusCodes    = codesOf(domain.Statuses())
	directionCodes = codesOf(domain.Directions())
	routingCodes   = codesOf(domain.Routings())
)

type enumCodes[T comparable] struct {
	code  map[T]byte
	value []T // by code; value[0] is the zero value
}

func codesOf[T comparable](all []T) enumCodes[T] {
	c := enumCodes[T]{code: make(map[T]byte, len(all)), value: make([]T, 1, len(all)+1)}
	for i, v := range all {
		c.code[v] = byte(i + 1)
		c.value = append(c.value, v)
	}
	return c
}

func (c enumCodes[T]) of(b byte) (T, bool) {
	if int(b) >= len(c.value) {
		var zero T
		return zero, false
	}
	return c.value[b], true
}

// screen returns the row's screen.
func (r *row) screen() []byte {
	n := 1 + 5 + 2
	for _, s := range r.agents {
		n += 1 + len(s)
	}
	for _, s := range r.queues {
		n += 1 + len(s)
	}
	b := r.appendEnums(append(make([]byte, 0, n), fmtScreen))
	return appendStrs(appendStrs(b, r.agents), r.queues)
}

// sameScreen reports whether r and o have the same screen, without encoding either.
func (r *row) sameScreen(o *row) bool {
	return r.sameEnums(o) && slices.Equal(r.agents, o.agents) && slices.Equal(r.queues, o.queues)
}

// sameEnums reports whether r and o have the same enum values (those enumSet holds).
func (r *row) sameEnums(o *row) bool {
	return r.flow == o.flow && r.status == o.status && r.direction == o.direction && r.orig == o.orig && r.cur == o.cur
}

// appendEnums appends the codes of the row's enums: the start of a screen (after its
// format) and of a posting value.
func (r *row) appendEnums(b []byte) []byte {
	return append(b, flowCodes.code[r.flow], statusCodes.code[r.status], directionCodes.code[r.direction],
		routingCodes.code[r.orig], routingCodes.code[r.cur])
}

// enumSet is the enum values a screen and a posting value hold, read from their codes.
type enumSet struct {
	flow      domain.Flow
	status    domain.Status
	direction domain.Direction
	orig, cur domain.Routing
}

// read reads the five codes at the start of v; false when v is shorter or a code is
// unknown.
func (e *enumSet) read(v []byte) bool {
	if len(v) < 5 {
		return false
	}
	var ok [5]bool
	e.flow, ok[0] = flowCodes.of(v[0])
	e.status, ok[1] = statusCodes.of(v[1])
	e.direction, ok[2] = directionCodes.of(v[2])
	e.orig, ok[3] = routingCodes.of(v[3])
	e.cur, ok[4] = routingCodes.of(v[4])
	return !slices.Contains(ok[:], false)
}

// screened is a screen read in place: its strings point into the value read, valid
// while its transaction is. A walk keeps one and reads every candidate's into it.
type screened struct {
	enumSet
	agents []string
	queues []string
}

// read reads v into s; false for a value that is not a screen (an empty one, as files
// of an earlier layout held) or a bad one: the candidate is then looked up.
func (s *screened) read(v []byte) bool {
	if len(v) < 6 || v[0] != fmtScreen || !s.enumSet.read(v[1:]) {
		return false
	}
	d := decoder{b: v[6:]}
	s.agents = d.viewStrs(s.agents)
	s.queues = d.viewStrs(s.queues)
	return d.err == nil && len(d.b) == 0
}

// admits reports whether a candidate of screen s may match p: false when one of its
// enum filters or the reader's access turns it away.
func (p *plan) admits(s *screened) bool {
	return p.q.enumsAdmit(&s.enumSet) &&
		p.reader.CanSee(domain.Visibility{Agents: s.agents, Queues: s.queues, OriginalRouting: s.orig, Flow: s.flow})
}

// enumsAdmit is enumsMatch of the values a screen or a posting entry holds.
func (q *Query) enumsAdmit(e *enumSet) bool {
	return q.enumsMatch(e.flow, e.status, e.direction, e.orig, e.cur)
}

// enumsMatch reports whether an interaction of these enum values passes q's enum filters:
// the one check of a row (plan.match) and of a screen (plan.admits).
func (q *Query) enumsMatch(flow domain.Flow, status domain.Status, direction domain.Direction, orig, cur domain.Routing) bool {
	return (len(q.Flow) == 0 || slices.Contains(q.Flow, flow)) &&
		(len(q.Status) == 0 || slices.Contains(q.Status, status)) &&
		(len(q.Direction) == 0 || slices.Contains(q.Direction, direction)) &&
		(len(q.OriginalRouting) == 0 || slices.Contains(q.OriginalRouting, orig)) &&
		(len(q.CurrentRouting) == 0 || slices.Contains(q.CurrentRouting, cur))
}
