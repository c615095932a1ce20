package scenario

import (
	"encoding/json"
	"math"
	"time"

	"github.com/interaction-ledger/ledger/domain"
)

// The customer activities around interactions, by share, and how many events each makes
// on average (chains are cut at Now).
const (
	visitShare     = 0.28
	noteShare      = 0.14
	fileShare      = 0.08
	cardShare      = 0.10 // customer.updated
	segmentShare   = 0.12 // joined, 30% left later
	orderShare     = 0.14 // created, then paid, shipped, delivered or cancelled
	taskShare      = 0.14 // created, updated, completed, reopened, deleted
	segmentLeft    = 0.30
	orderPaid      = 0.75
	orderCancel    = 0.05
	orderShipped   = 0.80
	orderDeliver   = 0.70
	taskUpdate     = 0.40
	taskComplete   = 0.70
	taskReopen     = 0.15
	taskRecomplete = 0.70
	taskDelete     = 0.10

	meanOrderEvents = 1 + orderPaid + orderCancel + orderPaid*orderShipped + orderPaid*orderShipped*orderDeliver
	meanTaskEvents  = 1 + taskUpdate + taskComplete + taskComplete*taskReopen + taskComplete*taskReopen*taskRecomplete + taskDelete

	// meanActivityEvents is the mean number of events of one activity.
	meanActivityEvents = visitShare + noteShare + fileShare + cardShare + segmentShare*(1+segmentLeft) +
		orderShare*meanOrderEvents + taskShare*meanTaskEvents
)

var (
	segments = []struct{ id, name string }{
		{"seg-vip", "VIP"}, {"seg-newsletter", "Newsletter subscribers"}, {"seg-churn-risk", "Churn risk"},
		{"seg-high-value", "High value"}, {"seg-new", "New customers"}, {"seg-inactive", "Inactive for 90 days"},
		{"seg-b2b", "Business accounts"}, {"seg-promo-spring", "Spring promotion"},
	}
	taskTitles = []string{"Call back the customer", "Send the quote", "Check the refund", "Follow up on the delivery",
		"Confirm the appointment", "Update the contract", "Escalate to second level", "Send the replacement part"}
	noteTexts = []string{"Customer prefers to be called in the morning.", "Asked for a discount on the next order; escalated.",
		"Complained about the delivery delay, offered free shipping.", "Wants the invoice sent to the accounting address.",
		"Interested in the premium plan, call back next month.", "Customer was very satisfied with the support.",
		"Address confirmed by phone.", "Do not contact before 10 am."}
	files = []struct{ name, contentType string }{
		{"contract.pdf", "application/pdf"}, {"invoice.pdf", "application/pdf"}, {"photo-damage.jpg", "image/jpeg"},
		{"id-card.png", "image/png"}, {"statement.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
		{"delivery-note.pdf", "application/pdf"},
	}
	visitSources = []struct{ source, channel string }{
		{"google", "search"}, {"google", "ppc"}, {"bing", "search"}, {"facebook", "social"}, {"instagram", "social"},
		{"newsletter", "email"}, {"partner-blog", "referral"}, {"direct", "direct"},
	}
	pages = []string{"/", "/products", "/products/42", "/products/108", "/cart", "/checkout", "/account", "/orders",
		"/help/returns", "/help/shipping", "/contact", "/promotions"}
	cardChanges = []struct{ field, from, to string }{
		{"loyalty_tier", `"silver"`, `"gold"`}, {"loyalty_tier", `"bronze"`, `"silver"`}, {"preferred_language", `"en"`, `"fr"`},
		{"marketing_opt_in", `true`, `false`}, {"marketing_opt_in", `false`, `true`}, {"address.city", `"Boston"`, `"Chicago"`},
		{"address.city", `"Lyon"`, `"Paris"`}, {"company", `null`, `"Acme Corp"`},
	}
	orderSteps = []string{"pending", "paid", "shipped", "delivered"}
)

// activities adds the customer-card events around an interaction: on average
// Config.CustomerEventsPerInteraction events.
func (g *gen) activities(x *ix, t0 int64) {
	want := g.activity
	n := int(want)
	if g.chance(want - math.Floor(want)) {
		n++
	}
	for range n {
		at := t0 + g.r.Int64N(3*hour)
		author := x.agent
		if author < 0 {
			author = g.directAgent(-1)
		}
		switch u := g.r.Float64(); {
		case u < visitShare:
			g.visit(x.cidx, at)
		case u < visitShare+noteShare:
			g.note(x.cidx, at, author)
		case u < visitShare+noteShare+fileShare:
			g.file(x.cidx, at)
		case u < visitShare+noteShare+fileShare+cardShare:
			g.card(x.cidx, at)
		case u < visitShare+noteShare+fileShare+cardShare+segmentShare:
			g.segment(x.cidx, at)
		case u < visitShare+noteShare+fileShare+cardShare+segmentShare+orderShare:
			g.order(x, at)
		default:
			g.task(x.cidx, at, author)
		}
	}
}

// put schedules one customer event, unless it would occur after Now.
func (g *gen) put(t domain.EventType, at int64, cidx int, data []byte, p domain.Payload) {
	g.schedule(g.event(t, at, CustomerID(cidx), data, p), at)
}

func (g *gen) visit(cidx int, at int64) {
	if at > g.now {
		return
	}
	src := pick(g, visitSources)
	d := &domain.VisitData{VisitID: g.rid("visit-"), Source: src.source, Channel: src.channel,
		DurationS: 5 + g.r.Int64N(30) + g.expo(180, 3600)}
	n := 1 + g.r.IntN(8)
	d.Pages = make([]string, n)
	for i := range d.Pages {
		d.Pages[i] = pick(g, pages)
	}
	d.PageCount = n
	o := g.obj()
	o.id("visit_id", d.VisitID)
	o.str("source", d.Source)
	o.str("channel", d.Channel)
	o.int("duration_s", d.DurationS)
	o.strs("pages", d.Pages)
	g.put(domain.TypeVisitRecorded, at, cidx, o.done(), d)
}

func (g *gen) note(cidx int, at int64, author int) {
	if at > g.now {
		return
	}
	d := &domain.NoteData{NoteID: g.rid("note-"), Text: pick(g, noteTexts), AuthorID: g.s.agents[author].AgentID}
	o := g.obj()
	o.id("note_id", d.NoteID)
	o.str("text", d.Text)
	o.id("author_id", d.AuthorID)
	g.put(domain.TypeNoteAdded, at, cidx, o.done(), d)
}

func (g *gen) file(cidx int, at int64) {
	if at > g.now {
		return
	}
	f := pick(g, files)
	d := &domain.FileData{FileID: g.rid("file-"), Name: f.name, ContentType: f.contentType,
		Size: g.lognormal(200_000, 1.2, 2_000, 20_000_000)}
	g.scratch = append(append(append(append(g.scratch[:0], "https://files.example.com/"...), d.FileID...), '/'), f.name...)
	d.URL = string(g.scratch)
	o := g.obj()
	o.id("file_id", d.FileID)
	o.str("name", d.Name)
	o.int("size", d.Size)
	o.str("content_type", d.ContentType)
	o.str("url", d.URL)
	g.put(domain.TypeFileAttached, at, cidx, o.done(), d)
}

// change writes `"changes":{"field":{"from":from,"to":to}}` (from and to are JSON) and
// returns where from and to lie in the object's buffer.
func (o *obj) change(field, from, to string) (fs, fe, ts, te int) {
	o.open("changes", '{')
	o.open(field, '{')
	o.key("from")
	fs = len(o.b)
	o.b = append(o.b, from...)
	fe = len(o.b)
	o.key("to")
	ts = len(o.b)
	o.b = append(o.b, to...)
	te = len(o.b)
	o.close('}')
	o.close('}')
	return
}

func changes(data []byte, field string, fs, fe, ts, te int) map[string]domain.Change {
	return map[string]domain.Change{field: {From: json.RawMessage(data[fs:fe:fe]), To: json.RawMessage(data[ts:te:te])}}
}

func (g *gen) card(cidx int, at int64) {
	if at > g.now {
		return
	}
	c := pick(g, cardChanges)
	o := g.obj()
	fs, fe, ts, te := o.change(c.field, c.from, c.to)
	data := o.done()
	g.put(domain.TypeCustomerUpdated, at, cidx, data,
		&domain.CustomerUpdatedData{Changes: changes(data, c.field, fs, fe, ts, te)})
}

func (g *gen) segment(cidx int, at int64) {
	sg := pick(g, segments)
	left := g.chance(segmentLeft)
	for _, t := range []domain.EventType{domain.TypeSegmentJoined, domain.TypeSegmentLeft} {
		if at > g.now || t == domain.TypeSegmentLeft && !left {
			return
		}
		o := g.obj()
		o.id("segment_id", sg.id)
		o.str("name", sg.name)
		g.put(t, at, cidx, o.done(), &domain.SegmentData{SegmentID: sg.id, Name: sg.name})
		at += g.between(day, 30*day)
	}
}

func (g *gen) order(x *ix, at int64) {
	if at > g.now {
		return
	}
	id := g.rid("ord-")
	g.scratch = appendCents(g.scratch[:0], g.lognormal(6500, 1, 500, 500_000))
	total := json.Number(g.scratch)
	cur := x.who.currency()
	steps := 1
	switch {
	case g.chance(orderCancel):
		steps = -1
	case g.chance(orderPaid / (1 - orderCancel)):
		steps = 2
		if g.chance(orderShipped) {
			steps = 3
			if g.chance(orderDeliver) {
				steps = 4
			}
		}
	}
	for k := 0; k < max(2, steps) && at <= g.now; k++ {
		o := g.obj()
		o.id("order_id", id)
		d := &domain.OrderData{OrderID: id, Total: total, Currency: cur}
		t := domain.TypeOrderCreated
		var from, to string
		switch {
		case k == 0:
			d.Status = orderSteps[0]
		case steps < 0:
			t, from, to, d.Status = domain.TypeOrderUpdated, `"pending"`, `"cancelled"`, "cancelled"
		case k < steps:
			t, d.Status = domain.TypeOrderUpdated, orderSteps[k]
			from, to = `"`+orderSteps[k-1]+`"`, `"`+orderSteps[k]+`"`
		default:
			return
		}
		o.id("status", d.Status)
		o.key("total")
		o.b = append(o.b, total...)
		o.id("currency", cur)
		var fs, fe, ts, te int
		if from != "" {
			fs, fe, ts, te = o.change("status", from, to)
		}
		data := o.done()
		if from != "" {
			d.Changes = changes(data, "status", fs, fe, ts, te)
		}
		g.put(t, at, x.cidx, data, d)
		if k == 0 {
			at += g.between(10*minute, 2*day)
		} else {
			at += g.between(day, 4*day)
		}
	}
}

func (g *gen) task(cidx int, at int64, assignee int) {
	id := g.rid("task-")
	title := pick(g, taskTitles)
	due := (at + g.between(day, 7*day)) / hour * hour
	emit := func(t domain.EventType) bool {
		if at > g.now {
			return false
		}
		d := &domain.TaskData{TaskID: id, Title: title, AssigneeID: g.s.agents[assignee].AgentID}
		dueAt := time.UnixMilli(due).UTC()
		d.DueAt = &dueAt
		o := g.obj()
		o.id("task_id", id)
		o.str("title", title)
		o.key("due_at")
		o.b = append(o.b, '"')
		o.b = appendTime(o.b, due)
		o.b = append(o.b, '"')
		o.id("assignee_id", d.AssigneeID)
		g.put(t, at, cidx, o.done(), d)
		at += g.between(hour, 3*day)
		return true
	}
	if !emit(domain.TypeTaskCreated) {
		return
	}
	if g.chance(taskUpdate) {
		due += g.between(1, 4) * day
		if g.chance(0.5) {
			assignee = g.directAgent(assignee)
		}
		if !emit(domain.TypeTaskUpdated) {
			return
		}
	}
	if g.chance(taskComplete) {
		if !emit(domain.TypeTaskCompleted) {
			return
		}
		if g.chance(taskReopen) {
			if !emit(domain.TypeTaskReopened) {
				return
			}
			if g.chance(taskRecomplete) && !emit(domain.TypeTaskCompleted) {
				return
			}
		}
	}
	if g.chance(taskDelete) {
		emit(domain.TypeTaskDeleted)
	}
}
