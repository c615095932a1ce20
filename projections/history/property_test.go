package history

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/domain/contact"
)

var (
	propAgents    = []string{"ag1", "ag2", "ag3", "ag4", "ag5", "ag6"}
	propQueues    = []string{"Q1", "Q2", "Q3", "Q4"}
	propCampaigns = []string{"", "", "spring", "winter"}
	propTemplates = []string{"", "", "tpl-a", "tpl-b"}
	propPhones    = []string{"+33 6 12 34 56 78", "06 12 34 56 79", "+1 415 555 0100", "0033612345680", "+44 20 7946 0018"}
	propEmails    = []string{"Ann@Example.com", "bob@example.com", "carl@example.org"}
	propCustomers = []string{"c1", "c2", "c3", "c4", "c5"}
)

func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

// genEvents returns the events of n random interactions over the 10 days before testNow.
func genEvents(t testing.TB, rng *rand.Rand, n int) []domain.Event {
	var evs []domain.Event
	for i := range n {
		id := fmt.Sprintf("ix-%04d", i)
		cust := pick(rng, propCustomers)
		at := testNow.Add(-time.Hour - time.Duration(rng.Int64N(int64(10*24*time.Hour))))
		if rng.IntN(10) == 0 && i > 0 { // same start as another: the id breaks the tie
			at = evs[len(evs)-1].OccurredAt
		}
		flow := pick(rng, domain.Flows())
		routing := pick(rng, domain.Routings()).String()
		extra := map[string]any{"direction": pick(rng, domain.Directions()).String()}
		switch rng.IntN(3) {
		case 0:
			extra["contact"] = map[string]any{"phone": pick(rng, propPhones)}
		case 1:
			extra["contact"] = map[string]any{"email": pick(rng, propEmails)}
		}
		if c := pick(rng, propCampaigns); c != "" {
			extra["voice_campaign"] = c
		}
		if c := pick(rng, propTemplates); c != "" {
			extra["template"] = c
		}
		queue, agent := "", ""
		if rng.IntN(4) > 0 {
			queue = pick(rng, propQueues)
		}
		if rng.IntN(5) > 0 {
			agent = pick(rng, propAgents)
		}
		if rng.IntN(8) > 0 { // some never get their started event
			evs = append(evs, started(t, id, at, cust, flow.String(), routing, queue, agent, extra))
		}
		for k := range rng.IntN(3) {
			evs = append(evs, routed(t, id, at.Add(time.Duration(k+1)*time.Minute), cust,
				pick(rng, domain.Routings()).String(), pick(rng, append(propQueues, "")), pick(rng, append(propAgents, ""))))
		}
		if rng.IntN(3) > 0 {
			evs = append(evs, ended(t, id, at.Add(time.Duration(5+rng.IntN(30))*time.Minute), cust, pick(rng, domain.Statuses()).String()))
		}
		if rng.IntN(4) == 0 {
			evs = append(evs, mk(t, domain.TypeInteractionLinked, at.Add(time.Minute), cust,
				map[string]any{"interaction_id": id, "action": "assigned", "crm_record_id": "crm-" + id}))
		}
	}
	return evs
}

// fold is the brute-force model: every interaction folded in memory.
func fold(evs []domain.Event) map[string]*domain.Interaction {
	m := map[string]*domain.Interaction{}
	for _, ev := range evs {
		id := ev.Payload.(domain.InteractionRef).InteractionKey()
		if m[id] == nil {
			m[id] = &domain.Interaction{}
		}
		m[id].Apply(ev)
	}
	return m
}

// modelContact is the brute-force reading of the contact column: canonical phone and
// email, and the one shown.
func modelContact(in *domain.Interaction) (phone, email, shown string) {
	phone, _ = contact.Phone(in.Contact.Phone, "FR")
	email, _ = contact.Email(in.Contact.Email)
	p, e := phone, email
	if p == "" {
		p = strings.TrimSpace(in.Contact.Phone)
	}
	if e == "" {
		e = strings.TrimSpace(in.Contact.Email)
	}
	if in.Flow == domain.FlowEmail || p == "" {
		if e != "" {
			return phone, email, e
		}
		return phone, email, p
	}
	return phone, email, p
}

func modelContactMatch(in *domain.Interaction, s string) bool {
	phone, email, _ := modelContact(in)
	if strings.Contains(s, "@") {
		e, _ := contact.Email(s)
		return email != "" && email == e
	}
	if phone == "" {
		return false
	}
	if e, ok := contact.Phone(s, "FR"); ok && e == phone {
		return true
	}
	d := contact.Digits(s)
	return len(d) >= 6 && strings.HasSuffix(contact.Digits(phone), d)
}

func anyOf[T comparable](vals []T, v T) bool { return len(vals) == 0 || slices.Contains(vals, v) }

// model answers q by brute force: every interaction checked, then sorted.
func model(t testing.TB, m map[string]*domain.Interaction, r domain.Reader, q Query) []string {
	t.Helper()
	var out []*domain.Interaction
	for _, in := range m {
		if in.StartAt.Before(q.From) || !in.StartAt.Before(q.To) || !r.CanSee(in.Visibility()) {
			continue
		}
		if !anyOf(q.Flow, in.Flow) || !anyOf(q.Status, in.Status) || !anyOf(q.Direction, in.Direction) ||
			!anyOf(q.OriginalRouting, in.OriginalRouting) || !anyOf(q.CurrentRouting, in.CurrentRouting) ||
			!anyOf(q.AgentID, in.AgentID) || !anyOf(q.QueueID, in.QueueID) || !anyOf(q.VoiceCampaign, in.VoiceCampaign) ||
			!anyOf(q.Template, in.Template) || !anyOf(q.ID, in.ID) || !anyOf(q.CustomerID, in.CustomerID) {
			continue
		}
		if q.Q != "" && !modelContactMatch(in, q.Q) {
			continue
		}
		if len(q.Contact) > 0 && !slices.ContainsFunc(q.Contact, func(s string) bool { return modelContactMatch(in, s) }) {
			continue
		}
		out = append(out, in)
	}
	sortBy := cmp.Or(q.Sort, "start_at")
	// A sort column is named after the field the list shows (domain.Interaction's JSON,
	// its id aside): the model reads the value there rather than restating each column.
	type sortKey struct {
		s string
		n int64
	}
	keys := make(map[*domain.Interaction]sortKey, len(out))
	for _, in := range out {
		var k sortKey
		switch sortBy {
		case "interaction_id":
			k.s = in.ID
		case "end_at":
			if !in.EndAt.IsZero() {
				k.n = in.EndAt.UnixNano()
			}
		case "contact":
			_, _, k.s = modelContact(in)
		default:
			raw, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			var fields map[string]any
			if err := json.Unmarshal(raw, &fields); err != nil {
				t.Fatal(err)
			}
			k.s, _ = fields[sortBy].(string)
		}
		keys[in] = k
	}
	key := func(in *domain.Interaction) (string, int64) { return keys[in].s, keys[in].n }
	slices.SortFunc(out, func(a, b *domain.Interaction) int {
		as, ai := key(a)
		bs, bi := key(b)
		c := cmp.Or(strings.Compare(as, bs), cmp.Compare(ai, bi), a.StartAt.Compare(b.StartAt), strings.Compare(a.ID, b.ID))
		if q.Desc {
			return -c
		}
		return c
	})
	res := make([]string, len(out))
	for i, in := range out {
		res[i] = in.ID
	}
	return res
}

func randomReader(rng *rand.Rand) domain.Reader {
	r := domain.Reader{AgentID: pick(rng, propAgents), Role: pick(rng, domain.Roles()), HistoryAccess: rng.IntN(12) > 0}
	for _, a := range propAgents {
		if rng.IntN(3) == 0 {
			r.TeamAgents = append(r.TeamAgents, a)
		}
	}
	for _, q := range propQueues {
		if rng.IntN(2) == 0 {
			r.ProfileQueues = append(r.ProfileQueues, q)
		}
	}
	for _, f := range domain.Flows() {
		if rng.IntN(2) == 0 {
			r.ProfileFlows = append(r.ProfileFlows, f)
		}
	}
	return r
}

func randomQuery(rng *rand.Rand, m map[string]*domain.Interaction) Query {
	q := Query{Desc: rng.IntN(2) == 0, Limit: 1 + rng.IntN(25)}
	days := rng.IntN(11)
	q.From = testNow.Add(-time.Duration(days) * 24 * time.Hour).Add(-time.Duration(rng.IntN(24)) * time.Hour)
	q.To = q.From.Add(time.Duration(1+rng.IntN(11*24)) * time.Hour)
	if rng.IntN(2) == 0 {
		q.Sort = pick(rng, sortColumns)
	}
	some := func(n int) bool { return rng.IntN(n) == 0 }
	if some(5) {
		q.Flow = append(q.Flow, pick(rng, domain.Flows()), pick(rng, domain.Flows()))
	}
	if some(6) {
		q.Status = append(q.Status, pick(rng, domain.Statuses()))
	}
	if some(6) {
		q.Direction = append(q.Direction, pick(rng, domain.Directions()))
	}
	if some(6) {
		q.OriginalRouting = append(q.OriginalRouting, pick(rng, domain.Routings()))
	}
	if some(6) {
		q.CurrentRouting = append(q.CurrentRouting, pick(rng, domain.Routings()))
	}
	if some(4) {
		q.AgentID = append(q.AgentID, pick(rng, propAgents))
		if some(2) {
			q.AgentID = append(q.AgentID, pick(rng, propAgents))
		}
	}
	if some(4) {
		q.QueueID = append(q.QueueID, pick(rng, propQueues))
	}
	if some(6) {
		q.VoiceCampaign = append(q.VoiceCampaign, pick(rng, propCampaigns[2:]))
	}
	if some(6) {
		q.Template = append(q.Template, pick(rng, propTemplates[2:]))
	}
	if some(6) {
		q.CustomerID = append(q.CustomerID, pick(rng, propCustomers))
	}
	if some(8) {
		for id := range m {
			q.ID = append(q.ID, id)
			if len(q.ID) > 3 {
				break
			}
		}
		q.ID = append(q.ID, "no-such-id")
	}
	searches := []string{"+33612345678", "0612345679", "345678", "5550100", "+1 (415) 555-0100", "ann@example.com", "BOB@example.com", "nobody@x.y", "020 7946 0018", "7946 0018"}
	if some(4) {
		q.Q = pick(rng, searches)
	}
	if some(8) {
		q.Contact = append(q.Contact, pick(rng, searches), pick(rng, searches))
	}
	return q
}

// TestListMatchesBruteForce compares List, every page walked with the cursor, with a
// brute-force evaluation over the same interactions folded in memory.
func TestListMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 400
	if testing.Short() {
		n = 150
	}
	evs := genEvents(t, rng, n)
	// Deliver in random order, some twice, in random batches.
	deliver := slices.Clone(evs)
	for _, ev := range evs {
		if rng.IntN(8) == 0 {
			deliver = append(deliver, ev)
		}
	}
	rng.Shuffle(len(deliver), func(i, j int) { deliver[i], deliver[j] = deliver[j], deliver[i] })
	v, db := openView(t)
	for len(deliver) > 0 {
		k := min(len(deliver), 1+rng.IntN(60))
		apply(t, v, db, deliver[:k]...)
		deliver = deliver[k:]
	}
	m := fold(evs)
	queries := 600
	if testing.Short() {
		queries = 200
	}
	nonEmpty := 0
	for i := range queries {
		r, q := randomReader(rng), randomQuery(rng, m)
		want := model(t, m, r, q)
		if len(want) > 0 {
			nonEmpty++
		}
		// Every plan the planner may choose gives the same pages.
		var items []Item
		for _, plan := range []int{planAuto, planHeap, planWalk} {
			items = listAll(t, v.withPlan(plan), r, q)
			if got := ids(items); !slices.Equal(got, want) {
				t.Fatalf("query %d (plan %d) %+v\nreader %+v\ngot  %d %v\nwant %d %v", i, plan, q, r, len(got), got, len(want), want)
			}
		}
		for _, it := range items {
			in := m[it.InteractionID]
			_, _, shown := modelContact(in)
			if it.Flow != in.Flow.String() || it.Status != in.Status.String() || it.AgentID != in.AgentID ||
				it.QueueID != in.QueueID || !it.StartAt.Equal(in.StartAt) || it.Contact != shown ||
				it.CustomerID != in.CustomerID || it.CRMRecord != in.CRMRecord || (it.EndAt == nil) != in.EndAt.IsZero() {
				t.Fatalf("item %+v does not show the fold %+v", it, in)
			}
		}
	}
	if nonEmpty < queries/4 {
		t.Errorf("only %d of %d queries had results: the generator is too sparse", nonEmpty, queries)
	}
}
