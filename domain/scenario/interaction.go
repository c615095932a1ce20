package scenario

import (
	"encoding/json"
	"math"
	"strconv"

	"github.com/interaction-ledger/ledger/domain"
)

// The flow mix (cumulative shares): voice 45%, email 25%, SMS 8%, WhatsApp 8%, WhatsApp
// campaign 2%, Telegram 2%, chat 7%, Messenger 3%.
var flowMix = []struct {
	flow     domain.Flow
	cum      float64
	incoming float64 // share of incoming interactions
}{
	{domain.FlowVoice, 0.45, 0.62},
	{domain.FlowEmail, 0.70, 0.45},
	{domain.FlowSMS, 0.78, 0.30},
	{domain.FlowWhatsApp, 0.86, 0.75},
	{domain.FlowWhatsAppCampaign, 0.88, 0},
	{domain.FlowTelegram, 0.90, 0.85},
	{domain.FlowChat, 0.97, 1},
	{domain.FlowMessenger, 1, 0.85},
}

// Shares of the interaction mix.
const (
	smartShare    = 0.65 // smart routing (by queue); the rest is direct
	transferShare = 0.10 // of answered calls (about 8% of voice)
	qualifyShare  = 0.30 // of processed interactions
	linkShare     = 0.12 // of handled interactions: a CRM record or a case assigned
	surveyShare   = 0.06 // of processed incoming interactions
	invoiceShare  = 0.03 // of processed interactions
	openShare     = 0.40 // of delivered emails
	clickShare    = 0.25 // of opened emails: a link followed soon after the first open
)

var (
	dissuadeReasons = []string{"max wait exceeded", "queue overflow", "all agents busy"}
	outgoingAborts  = []string{"no answer", "busy", "failed", "voicemail"}
	bounceReasons   = []string{"550 5.1.1 mailbox does not exist", "552 5.2.2 mailbox full", "554 5.7.1 blocked as spam",
		"domain not found", "message too large"}
	smsWarnings     = []string{"undelivered: unreachable", "invalid number", "carrier rejected", "blocked by recipient"}
	voiceCampaigns  = []string{"Renewal Q4", "Win-back", "Satisfaction callback", "Appointment reminder", "Debt collection", "Product launch"}
	emailTemplates  = []string{"order-confirmation", "password-reset", "invoice-available", "welcome", "appointment-confirmation", "satisfaction-survey"}
	clickURLs       = []string{"https://shop.example.com/orders", "https://shop.example.com/offers/spring", "https://help.example.com/faq"}
	smsTemplates    = []string{"appointment-reminder", "otp-code", "delivery-notice", "payment-reminder"}
	waTemplates     = []string{"wa-order-update", "wa-promo-spring", "wa-appointment-reminder", "wa-feedback-request"}
	qualifications  = []string{"billing question", "complaint", "order status", "technical issue", "cancellation request", "upsell", "address change", "refund", "appointment", "information"}
	invoiceStatuses = []string{"paid", "paid", "paid", "pending", "pending", "failed"}
	yesNo           = []string{"yes", "yes", "yes", "no"}
	smallInts       = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}
)

// ix is the interaction being generated.
type ix struct {
	id, cust string
	cidx     int
	who      person
	flow     domain.Flow
	dir      domain.Direction
	routing  domain.Routing
	queue    int // -1: none
	agent    int // -1: none yet
	incoming bool
	status   domain.Status // how it ended (set even when the end is after Now)
}

func (g *gen) interaction(n int, t0 int64, localHour int) {
	s := g.s
	x := ix{cidx: g.customer(), queue: -1, agent: -1}
	x.who = s.person(x.cidx)
	x.cust = CustomerID(x.cidx)
	u := g.r.Float64()
	k := 0
	for k < len(flowMix)-1 && u >= flowMix[k].cum {
		k++
	}
	x.flow = flowMix[k].flow
	x.incoming = g.chance(flowMix[k].incoming)
	x.routing = domain.RoutingDirect
	if g.chance(smartShare) {
		x.routing = domain.RoutingSmart
		x.queue = g.queue()
	}
	merged := g.merge > 0 && n%g.merge == g.merge/2
	if merged {
		// A provider's webhook: the customer is its contact key until merged.
		x.flow, x.incoming, x.routing, x.queue = domain.FlowVoice, true, domain.RoutingDirect, -1
		x.cust = "tel:" + x.who.e164()
	}
	x.dir = domain.DirectionOutgoing
	if x.incoming {
		x.dir = domain.DirectionIncoming
	}
	if g.s.cfg.RandomIDs {
		x.id = uuid4(g.r)
	} else {
		x.id = uuid7(g.r, t0)
	}

	var end int64
	var handled bool
	switch {
	case x.flow == domain.FlowVoice:
		end, handled = g.voice(&x, t0, localHour)
	case x.flow == domain.FlowEmail:
		end, handled = g.email(&x, t0)
	case x.flow == domain.FlowSMS:
		end, handled = g.sms(&x, t0)
	default:
		end, handled = g.dialogue(&x, t0)
	}
	if handled && x.agent >= 0 {
		g.extras(&x, t0, end)
	}
	g.scheduleBatch()
	if merged {
		at := t0 + g.between(hour, day)
		if at <= g.now {
			o := g.obj()
			o.id("from_customer_id", x.cust)
			g.schedule(g.event(domain.TypeCustomerMerged, at, CustomerID(x.cidx), o.done(),
				&domain.MergedData{FromCustomerID: x.cust}), at)
		}
	}
	g.activities(&x, t0)
}

// queue picks a queue, the first ones busier than the last.
func (g *gen) queue() int {
	return int(float64(len(g.s.queues)) * math.Pow(g.r.Float64(), 1.6))
}

// queueAgent picks an agent of a team that serves queue q (two teams serve each queue).
func (g *gen) queueAgent(q int) int {
	teams := g.s.teams
	t := q % len(teams)
	if g.chance(0.3) {
		t = (q*7 + 3) % len(teams)
	}
	return pick(g, teams[t].members)
}

// directAgent picks any agent who takes interactions, other than not.
func (g *gen) directAgent(not int) int {
	h := g.s.handlers
	a := pick(g, h)
	if a == not {
		a = h[(indexOf(h, a)+1)%len(h)]
	}
	return a
}

func indexOf(h []int, a int) int {
	for i, v := range h {
		if v == a {
			return i
		}
	}
	return 0
}

func (g *gen) obj() *obj {
	g.o.reset()
	return &g.o
}

func (g *gen) add(ev domain.Event) { g.batch = append(g.batch, ev) }

// about begins the data of an event about x at `at` with its interaction_id, or is nil
// when at is after now: that event has not happened yet.
func (g *gen) about(x *ix, at int64) *obj {
	if at > g.now {
		return nil
	}
	o := g.obj()
	o.id("interaction_id", x.id)
	return o
}

// emit adds the event of type t about x at `at`, of payload v whose data o holds.
func emit[T any, P interface {
	*T
	domain.Payload
}](g *gen, t domain.EventType, x *ix, at int64, o *obj, v T) {
	p, data := finish(o, v)
	g.add(g.event(t, at, x.cust, data, P(p)))
}

// started adds interaction.started with the interaction's current queue and agent.
func (g *gen) started(x *ix, at int64, contact domain.Contact, campaign, template string, participants bool) {
	o := g.about(x, at)
	if o == nil {
		return
	}
	o.id("flow", x.flow.String())
	o.id("direction", x.dir.String())
	o.id("routing", x.routing.String())
	d := domain.StartedData{InteractionID: x.id, Flow: x.flow, Direction: x.dir, Routing: x.routing,
		Contact: contact, VoiceCampaign: campaign, Template: template}
	if x.queue >= 0 {
		d.QueueID = g.s.queues[x.queue]
		o.id("queue_id", d.QueueID)
	}
	if x.agent >= 0 {
		d.AgentID = g.s.agents[x.agent].AgentID
		o.id("agent_id", d.AgentID)
	}
	if !contact.IsZero() {
		o.open("contact", '{')
		o.opt("phone", contact.Phone)
		o.opt("email", contact.Email)
		o.close('}')
	}
	o.opt("voice_campaign", campaign)
	o.opt("template", template)
	if participants {
		d.Participants = make([]domain.Participant, 1, 2)
		d.Participants[0] = domain.Participant{Role: "customer", ID: x.cust, Name: g.s.names[x.who.nameIdx]}
		if x.agent >= 0 {
			a := &g.s.agents[x.agent]
			d.Participants = append(d.Participants, domain.Participant{Role: "agent", ID: a.AgentID, Name: a.Name})
		}
		o.open("participants", '[')
		for i, p := range d.Participants {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			o.b = append(o.b, '{')
			o.str("role", p.Role)
			o.str("id", p.ID)
			o.str("name", p.Name)
			o.b = append(o.b, '}')
		}
		o.close(']')
	}
	emit(g, domain.TypeInteractionStarted, x, at, o, d)
}

// routed adds interaction.routed: the interaction moves to queue q (smart, -1 for none)
// and agent a; waited is the queue wait for sr_data (-1: none). A transfer (the
// interaction already had an agent) says so in sr_data.transferred_from.
func (g *gen) routed(x *ix, at int64, routing domain.Routing, q, a int, waited int64) {
	from := x.agent
	x.routing, x.queue, x.agent = routing, q, a
	o := g.about(x, at)
	if o == nil {
		return
	}
	o.id("routing", routing.String())
	d := domain.RoutedData{InteractionID: x.id, Routing: routing}
	if q >= 0 {
		d.QueueID = g.s.queues[q]
		o.id("queue_id", d.QueueID)
	}
	if a >= 0 {
		d.AgentID = g.s.agents[a].AgentID
		o.id("agent_id", d.AgentID)
	}
	srStart, srEnd := -1, -1
	if waited >= 0 && q >= 0 || from >= 0 {
		srStart = o.open("sr_data", '{')
		if from >= 0 {
			o.id("transferred_from", g.s.agents[from].AgentID)
		}
		if waited >= 0 && q >= 0 {
			o.int("wait_s", waited/second)
			o.id("skill", queueNames[q%len(queueNames)])
		}
		o.close('}')
		srEnd = len(o.b)
	}
	p, data := finish(o, d)
	if srStart >= 0 {
		p.SRData = json.RawMessage(data[srStart:srEnd:srEnd])
	}
	g.add(g.event(domain.TypeInteractionRouted, at, x.cust, data, p))
}

func (g *gen) message(x *ix, at int64, dir domain.Direction) {
	if o := g.about(x, at); o != nil {
		o.id("direction", dir.String())
		emit(g, domain.TypeInteractionMessage, x, at, o, domain.MessageData{InteractionID: x.id, Direction: dir})
	}
}

func (g *gen) ended(x *ix, at int64, status domain.Status, reason string) {
	x.status = status
	if o := g.about(x, at); o != nil {
		o.id("status", status.String())
		o.opt("reason", reason)
		emit(g, domain.TypeInteractionEnded, x, at, o, domain.EndedData{InteractionID: x.id, Status: status, Reason: reason})
	}
}

func (g *gen) opened(x *ix, at int64) {
	if o := g.about(x, at); o != nil {
		emit(g, domain.TypeEmailOpened, x, at, o, domain.OpenedData{InteractionID: x.id})
	}
}

func (g *gen) clicked(x *ix, at int64) {
	if o := g.about(x, at); o != nil {
		url := pick(g, clickURLs)
		o.opt("url", url)
		emit(g, domain.TypeEmailClicked, x, at, o, domain.ClickedData{InteractionID: x.id, URL: url})
	}
}

func (g *gen) phone(x *ix) domain.Contact {
	g.scratch = x.who.phone(g.scratch[:0], g.r.IntN(10))
	return domain.Contact{Phone: string(g.scratch)}
}

func (g *gen) email(x *ix, t0 int64) (end int64, handled bool) {
	g.scratch = x.who.email(g.scratch[:0], g.r.IntN(4))
	contact := domain.Contact{Email: string(g.scratch)}
	if x.incoming {
		if x.routing == domain.RoutingDirect {
			x.agent = g.directAgent(-1)
		}
		g.started(x, t0, contact, "", "", false)
		pickup := t0 + g.between(2*minute, 10*minute) + g.expo(2*hour, 2*day)
		if x.routing == domain.RoutingSmart {
			pickup = t0 + minute + g.expo(40*minute, 12*hour)
			g.routed(x, pickup, domain.RoutingSmart, x.queue, g.queueAgent(x.queue), pickup-t0)
		}
		end = pickup + g.between(2*minute, 30*minute)
		g.ended(x, end, domain.StatusProcessed, "")
		return end, true
	}
	end, delivered := g.send(x, t0, contact, outgoing{templates: emailTemplates, templateShare: 0.5,
		minDelay: 2 * second, maxDelay: 60 * second, warnings: bounceReasons, warnShare: 0.07})
	if !delivered {
		return end, false
	}
	if g.chance(openShare) {
		at := end + g.lognormal(2*hour, 1.5, minute, 5*day)
		g.opened(x, at)
		if g.chance(clickShare) {
			g.clicked(x, at+g.between(5*second, 10*minute))
		}
		if g.chance(0.3) {
			for range 1 + g.r.IntN(3) {
				at += g.expo(day, 7*day) + minute
				g.opened(x, at)
			}
		}
	}
	return end, true
}

// outgoing is how an outgoing message (an e-mail, an SMS) is sent: a template at
// templateShare, delivered between minDelay and maxDelay after sending, or refused (a
// warning with one of warnings) at warnShare.
type outgoing struct {
	templates          []string
	templateShare      float64
	minDelay, maxDelay int64
	warnings           []string
	warnShare          float64
}

// send plays an outgoing message from t0: its started, then its ended delivered or
// warning; delivered tells which.
func (g *gen) send(x *ix, t0 int64, contact domain.Contact, o outgoing) (end int64, delivered bool) {
	g.outgoingAgent(x)
	template := ""
	if g.chance(o.templateShare) {
		template = pick(g, o.templates)
	}
	g.started(x, t0, contact, "", template, false)
	end = t0 + g.between(o.minDelay, o.maxDelay)
	if g.chance(o.warnShare) {
		g.ended(x, end, domain.StatusWarning, pick(g, o.warnings))
		return end, false
	}
	g.ended(x, end, domain.StatusDelivered, "")
	return end, true
}

// outgoingAgent sets who starts an outgoing interaction.
func (g *gen) outgoingAgent(x *ix) {
	if x.routing == domain.RoutingSmart {
		x.agent = g.queueAgent(x.queue)
	} else {
		x.agent = g.directAgent(-1)
	}
}

func (g *gen) voice(x *ix, t0 int64, localHour int) (end int64, handled bool) {
	contact := g.phone(x)
	if x.incoming && x.routing == domain.RoutingSmart {
		g.started(x, t0, contact, "", "", true)
		u := g.r.Float64()
		night := localHour < 8 || localHour >= 19
		switch {
		case night && u < 0.6:
			end = t0 + g.between(3*second, 20*second)
			g.ended(x, end, domain.StatusDissuaded, "queue closed")
			return end, false
		case u < 0.05:
			end = t0 + g.between(30*second, 5*minute)
			g.ended(x, end, domain.StatusDissuaded, pick(g, dissuadeReasons))
			return end, false
		case u < 0.14:
			end = t0 + 20*second + g.expo(90*second, 20*minute)
			g.ended(x, end, domain.StatusAborted, "caller hung up")
			return end, false
		}
		pickup := t0 + 5*second + g.expo(45*second, 15*minute)
		g.routed(x, pickup, domain.RoutingSmart, x.queue, g.queueAgent(x.queue), pickup-t0)
		return g.talk(x, pickup), true
	}
	if x.incoming || x.routing == domain.RoutingDirect {
		if x.agent < 0 {
			if x.routing == domain.RoutingSmart {
				x.agent = g.queueAgent(x.queue)
			} else {
				x.agent = g.directAgent(-1)
			}
		}
	} else {
		x.agent = g.queueAgent(x.queue)
	}
	campaign := ""
	if !x.incoming && x.routing == domain.RoutingSmart && g.chance(0.5) {
		campaign = pick(g, voiceCampaigns)
	}
	g.started(x, t0, contact, campaign, "", true)
	answered := 0.88
	if !x.incoming {
		answered = 0.68
	}
	if !g.chance(answered) {
		end = t0 + g.between(15*second, 45*second)
		reason := "no answer"
		if !x.incoming {
			reason = pick(g, outgoingAborts)
		}
		g.ended(x, end, domain.StatusAborted, reason)
		return end, false
	}
	return g.talk(x, t0+g.between(5*second, 25*second)), true
}

// talk is an answered call from `from`: maybe a transfer, then processed.
func (g *gen) talk(x *ix, from int64) int64 {
	d := g.lognormal(4*minute, 0.8, 20*second, 2*hour)
	if g.chance(transferShare) {
		at := from + d/3 + g.r.Int64N(d/3+1)
		if g.chance(0.55) {
			q := (x.queue + 1 + g.r.IntN(len(g.s.queues)-1)) % len(g.s.queues)
			if x.queue < 0 {
				q = g.queue()
			}
			g.routed(x, at, domain.RoutingSmart, q, g.queueAgent(q), g.expo(30*second, 5*minute))
		} else {
			g.routed(x, at, domain.RoutingDirect, -1, g.directAgent(x.agent), -1)
		}
		d += g.lognormal(3*minute, 0.7, 20*second, hour)
	}
	end := from + d
	g.ended(x, end, domain.StatusProcessed, "")
	return end
}

func (g *gen) sms(x *ix, t0 int64) (end int64, handled bool) {
	contact := g.phone(x)
	if !x.incoming {
		return g.send(x, t0, contact, outgoing{templates: smsTemplates, templateShare: 0.6,
			minDelay: 3 * second, maxDelay: 40 * second, warnings: smsWarnings, warnShare: 0.05})
	}
	if x.routing == domain.RoutingDirect {
		x.agent = g.directAgent(-1)
	}
	g.started(x, t0, contact, "", "", false)
	pickup := t0 + g.between(30*second, 30*minute)
	if x.routing == domain.RoutingSmart {
		g.routed(x, pickup, domain.RoutingSmart, x.queue, g.queueAgent(x.queue), pickup-t0)
	}
	end = pickup + g.between(minute, 30*minute)
	g.ended(x, end, domain.StatusProcessed, "")
	return end, true
}

// dialogue is a messaging conversation: WhatsApp, Telegram, chat, Messenger, or a
// WhatsApp campaign, with 2 to 20 messages.
func (g *gen) dialogue(x *ix, t0 int64) (end int64, handled bool) {
	var contact domain.Contact
	switch x.flow {
	case domain.FlowWhatsApp, domain.FlowWhatsAppCampaign:
		contact = g.phone(x)
	case domain.FlowChat:
		if g.chance(0.5) {
			g.scratch = x.who.email(g.scratch[:0], g.r.IntN(4))
			contact.Email = string(g.scratch)
		}
	}
	template := ""
	if x.flow == domain.FlowWhatsAppCampaign || x.flow == domain.FlowWhatsApp && !x.incoming && g.chance(0.7) {
		template = pick(g, waTemplates)
	}
	if !x.incoming {
		g.outgoingAgent(x)
	} else if x.routing == domain.RoutingDirect {
		x.agent = g.directAgent(-1)
	}
	g.started(x, t0, contact, "", template, false)
	at := t0 + g.between(200, 2*second)
	dir := x.dir
	g.message(x, at, dir)
	if x.incoming && x.routing == domain.RoutingSmart {
		at += 10*second + g.expo(90*second, 30*minute)
		g.routed(x, at, domain.RoutingSmart, x.queue, g.queueAgent(x.queue), at-t0)
	}
	n := 1 + min(18, int(g.r.ExpFloat64()*4))
	for range n {
		if g.chance(0.75) {
			dir = flip(dir)
		}
		at += 5*second + g.expo(60*second, 20*minute)
		g.message(x, at, dir)
	}
	end = at + g.between(30*second, 10*minute)
	switch {
	case x.incoming && g.chance(0.08):
		g.ended(x, end, domain.StatusAborted, "customer left")
		return end, false
	case x.incoming || g.chance(0.2):
		g.ended(x, end, domain.StatusProcessed, "")
	default:
		g.ended(x, end, domain.StatusDelivered, "")
	}
	return end, true
}

func flip(d domain.Direction) domain.Direction {
	if d == domain.DirectionIncoming {
		return domain.DirectionOutgoing
	}
	return domain.DirectionIncoming
}

// extras are what agents add to a handled interaction: a CRM record or case, its
// qualification, the customer's survey answers, an invoice.
func (g *gen) extras(x *ix, t0, end int64) {
	processed := x.status == domain.StatusProcessed
	if g.chance(linkShare) {
		at := t0 + g.r.Int64N(end-t0+1)
		var crm, cs string
		if g.chance(0.6) {
			crm = "crm-" + strconv.Itoa(x.cidx)
		} else {
			cs = g.rid("case-")
		}
		g.linked(x, at, domain.LinkAssigned, crm, cs)
		if g.chance(0.1) {
			g.linked(x, at+g.between(hour, 3*day), domain.LinkUnassigned, crm, cs)
		}
	}
	if processed && g.chance(qualifyShare) {
		g.qualified(x, end+g.between(5*second, 2*minute))
	}
	if processed && x.incoming && g.chance(surveyShare) {
		g.survey(x, end+g.between(minute, hour))
	}
	if processed && g.chance(invoiceShare) {
		g.invoice(x, end+g.r.Int64N(10*minute))
	}
}

func (g *gen) linked(x *ix, at int64, action domain.LinkAction, crm, cs string) {
	if o := g.about(x, at); o != nil {
		o.id("action", action.String())
		o.opt("crm_record_id", crm)
		o.opt("case_id", cs)
		emit(g, domain.TypeInteractionLinked, x, at, o, domain.LinkedData{InteractionID: x.id, Action: action, CRMRecordID: crm, CaseID: cs})
	}
}

func (g *gen) qualified(x *ix, at int64) {
	o := g.about(x, at)
	if o == nil {
		return
	}
	n := 1 + g.r.IntN(3)
	qs := make([]string, 0, n)
	for k := g.r.IntN(len(qualifications)); len(qs) < n; k += 1 + g.r.IntN(3) {
		qs = append(qs, qualifications[k%len(qualifications)])
	}
	o.strs("qualifications", qs)
	g.add(g.event(domain.TypeInteractionQualified, at, x.cust, o.done(),
		&domain.QualifiedData{InteractionID: x.id, Qualifications: qs}))
}

func (g *gen) survey(x *ix, at int64) {
	o := g.about(x, at)
	if o == nil {
		return
	}
	var id string
	var answers []domain.SurveyAnswer
	if g.chance(0.6) {
		id = "csat-2026"
		answers = []domain.SurveyAnswer{
			{Question: "How satisfied are you with your last contact?", Answer: smallInts[5-min(4, int(g.r.ExpFloat64()*1.2))]},
			{Question: "Was your request resolved?", Answer: pick(g, yesNo)},
		}
	} else {
		id = "nps"
		answers = []domain.SurveyAnswer{{Question: "How likely are you to recommend us to a friend?",
			Answer: smallInts[10-min(10, int(g.r.ExpFloat64()*2.5))]}}
	}
	o.id("survey_id", id)
	o.open("answers", '[')
	for i, a := range answers {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = append(o.b, '{')
		o.str("question", a.Question)
		o.str("answer", a.Answer)
		o.b = append(o.b, '}')
	}
	o.close(']')
	g.add(g.event(domain.TypeSurveyAnswered, at, x.cust, o.done(),
		&domain.SurveyData{InteractionID: x.id, SurveyID: id, Answers: answers}))
}

func (g *gen) invoice(x *ix, at int64) {
	o := g.about(x, at)
	if o == nil {
		return
	}
	id := g.rid("inv-")
	cents := g.lognormal(4900, 0.9, 500, 250000)
	g.scratch = appendCents(g.scratch[:0], cents)
	amount := json.Number(g.scratch)
	cur := x.who.currency()
	status := pick(g, invoiceStatuses)
	o.id("invoice_id", id)
	o.key("amount")
	o.b = append(o.b, amount...)
	o.id("currency", cur)
	o.id("status", status)
	g.add(g.event(domain.TypeInvoiceIssued, at, x.cust, o.done(),
		&domain.InvoiceData{InteractionID: x.id, InvoiceID: id, Amount: amount, Currency: cur, Status: status}))
}

// appendCents writes an amount of cents as a decimal with two places ("49.90").
func appendCents(b []byte, cents int64) []byte {
	b = strconv.AppendInt(b, cents/100, 10)
	return pad(append(b, '.'), int(cents%100), 2)
}

func (p person) currency() string {
	switch p.country {
	case 1:
		return "EUR"
	case 2:
		return "GBP"
	}
	return "USD"
}
