package domain

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// at returns 2026-11-21 09:mm:ss UTC.
func at(mm, ss int) time.Time { return time.Date(2026, 11, 21, 9, mm, ss, 0, time.UTC) }

// callEvents is the whole history of one call, in no particular order: started on a queue,
// transferred twice, two messages, ended, linked and unlinked, qualified twice, a survey,
// invoices (one reissued) and an email opened twice.
func callEvents(t testing.TB) []Event {
	const call = "call-1"
	return []Event{
		mustEvent(t, eventID(1), TypeInteractionStarted, at(0, 0), obj{"interaction_id": call, "flow": "voice",
			"direction": "incoming", "routing": "smart", "queue_id": "q-sales", "agent_id": "ag-1",
			"contact": obj{"phone": "+33612345678"}, "voice_campaign": "winter",
			"participants": []obj{{"role": "customer", "id": "c-1"}}}),
		mustEvent(t, eventID(2), TypeInteractionRouted, at(1, 0), obj{"interaction_id": call, "routing": "direct",
			"agent_id": "ag-2", "sr_data": obj{"reason": "escalation"}}),
		mustEvent(t, eventID(3), TypeInteractionRouted, at(2, 0), obj{"interaction_id": call, "routing": "smart",
			"queue_id": "q-support", "agent_id": "ag-3"}),
		mustEvent(t, eventID(4), TypeInteractionMessage, at(0, 30), obj{"interaction_id": call, "direction": "incoming"}),
		mustEvent(t, eventID(5), TypeInteractionMessage, at(1, 30), obj{"interaction_id": call, "direction": "outgoing"}),
		mustEvent(t, eventID(6), TypeInteractionEnded, at(5, 0), obj{"interaction_id": call, "status": "processed"}),
		mustEvent(t, eventID(7), TypeInteractionLinked, at(3, 0), obj{"interaction_id": call, "action": "assigned", "crm_record_id": "crm-1"}),
		mustEvent(t, eventID(8), TypeInteractionLinked, at(4, 0), obj{"interaction_id": call, "action": "unassigned", "crm_record_id": "crm-1"}),
		mustEvent(t, eventID(9), TypeInteractionLinked, at(3, 30), obj{"interaction_id": call, "action": "assigned", "case_id": "case-1"}),
		mustEvent(t, eventID(10), TypeInteractionQualified, at(5, 0), obj{"interaction_id": call, "qualifications": []string{"sale"}}),
		mustEvent(t, eventID(11), TypeInteractionQualified, at(6, 0), obj{"interaction_id": call, "qualifications": []string{"sale", "vip"}}),
		mustEvent(t, eventID(12), TypeSurveyAnswered, at(7, 0), obj{"interaction_id": call, "survey_id": "nps",
			"answers": []obj{{"question": "score", "answer": "9"}}}),
		mustEvent(t, eventID(13), TypeInvoiceIssued, at(6, 0), obj{"interaction_id": call, "invoice_id": "inv-2", "amount": 5, "currency": "EUR"}),
		mustEvent(t, eventID(14), TypeInvoiceIssued, at(6, 30), obj{"interaction_id": call, "invoice_id": "inv-1", "amount": "10.00", "status": "draft"}),
		mustEvent(t, eventID(15), TypeInvoiceIssued, at(8, 0), obj{"interaction_id": call, "invoice_id": "inv-1", "amount": "12.00", "status": "issued"}),
		mustEvent(t, eventID(16), TypeEmailOpened, at(10, 0), obj{"interaction_id": call}),
		mustEvent(t, eventID(17), TypeEmailOpened, at(9, 0), obj{"interaction_id": call}),
		// A tie: same occurred_at as event 11; the greater id wins.
		mustEvent(t, eventID(18), TypeInteractionQualified, at(6, 0), obj{"interaction_id": call, "qualifications": []string{"churn-risk"}}),
		mustEvent(t, eventID(19), TypeEmailClicked, at(9, 50), obj{"interaction_id": call, "url": "https://example.com/b"}),
		mustEvent(t, eventID(20), TypeEmailClicked, at(9, 30), obj{"interaction_id": call}),
	}
}

func fold(t testing.TB, evs []Event) (Interaction, int) {
	t.Helper()
	var in Interaction
	applied := 0
	for _, ev := range evs {
		if in.Apply(ev) {
			applied++
		}
	}
	return in, applied
}

func TestInteractionFold(t *testing.T) {
	evs := callEvents(t)
	got, applied := fold(t, evs)
	if applied != len(evs) {
		t.Fatalf("applied %d, want %d", applied, len(evs))
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"ID", got.ID, "call-1"},
		{"CustomerID", got.CustomerID, testCust},
		{"StartAt", got.StartAt, at(0, 0)},
		{"EndAt", got.EndAt, at(5, 0)},
		{"Flow", got.Flow, FlowVoice},
		{"Status", got.Status, StatusProcessed},
		{"Reason", got.Reason, ""},
		{"Direction", got.Direction, DirectionIncoming},
		{"OriginalRouting", got.OriginalRouting, RoutingSmart},
		{"CurrentRouting", got.CurrentRouting, RoutingSmart},
		{"AgentID", got.AgentID, "ag-3"},
		{"QueueID", got.QueueID, "q-support"},
		{"Agents", got.Agents, []string{"ag-1", "ag-2", "ag-3"}},
		{"Queues", got.Queues, []string{"q-sales", "q-support"}},
		{"Contact", got.Contact, Contact{Phone: "+33612345678"}},
		{"VoiceCampaign", got.VoiceCampaign, "winter"},
		{"Participants", got.Participants, []Participant{{Role: "customer", ID: "c-1"}}},
		{"SRData", string(got.SRData), `{"reason":"escalation"}`},
		{"CRMRecord", got.CRMRecord, ""},
		{"Case", got.Case, "case-1"},
		{"Qualifications", got.Qualifications, []string{"churn-risk"}}, // tie with event 11: greater id
		{"Surveys", got.Surveys, []Survey{{SurveyID: "nps", Answers: []SurveyAnswer{{"score", "9"}}, Stamp: Stamp{at(7, 0), eventID(12)}}}},
		{"Invoices", got.Invoices, []Invoice{
			{InvoiceID: "inv-1", Amount: "12.00", Status: "issued", Stamp: Stamp{at(8, 0), eventID(15)}},
			{InvoiceID: "inv-2", Amount: "5", Currency: "EUR", Stamp: Stamp{at(6, 0), eventID(13)}},
		}},
		{"MessageCount", got.MessageCount, 2},
		{"OpenCount", got.OpenCount, 2},
		{"OpenedAt", got.OpenedAt, at(9, 0)},
		{"ClickCount", got.ClickCount, 2},
		{"ClickedAt", got.ClickedAt, at(9, 30)}, // the first click, whichever arrived first
		{"Stamps", got.Stamps, InteractionStamps{
			Started:   Stamp{at(0, 0), eventID(1)},
			Current:   Stamp{at(2, 0), eventID(3)},
			Ended:     Stamp{at(5, 0), eventID(6)},
			Customer:  Stamp{at(10, 0), eventID(16)},
			SRData:    Stamp{at(1, 0), eventID(2)},
			Qualified: Stamp{at(6, 0), eventID(18)},
		}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	// Events: oldest first, ties by id, each once.
	if len(got.Events) != len(evs) {
		t.Fatalf("%d events, want %d", len(got.Events), len(evs))
	}
	for k := 1; k < len(got.Events); k++ {
		a, b := got.Events[k-1], got.Events[k]
		if !(Stamp{b.OccurredAt, b.ID}).After(Stamp{a.OccurredAt, a.ID}) {
			t.Errorf("events %d (%s %v) and %d (%s %v) out of order", k-1, a.ID, a.OccurredAt, k, b.ID, b.OccurredAt)
		}
	}
	first := got.Events[0]
	if first.ID != eventID(1) || first.Type != "interaction.started" || first.Source != "test" || string(first.Data) != string(evs[0].Data) {
		t.Errorf("first event record = %+v", first)
	}
	if v := got.Visibility(); !reflect.DeepEqual(v, Visibility{Agents: got.Agents, Queues: got.Queues, OriginalRouting: RoutingSmart, Flow: FlowVoice, CurrentAgent: got.AgentID}) {
		t.Errorf("Visibility = %+v", v)
	}
}

// TestInteractionOrderIndependent folds the same events in many orders, each event
// delivered up to three times, and expects the very same Interaction every time.
func TestInteractionOrderIndependent(t *testing.T) {
	evs := callEvents(t)
	want, _ := fold(t, evs)
	rng := rand.New(rand.NewPCG(20261121, 42))
	const rounds = 2000
	for round := range rounds {
		var stream []Event
		for _, ev := range evs {
			for range 1 + rng.IntN(3) {
				stream = append(stream, ev)
			}
		}
		rng.Shuffle(len(stream), func(a, b int) { stream[a], stream[b] = stream[b], stream[a] })
		got, applied := fold(t, stream)
		if applied != len(evs) {
			t.Fatalf("round %d: Apply returned true %d times for %d distinct events", round, applied, len(evs))
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: fold differs from the ordered fold\n got %#v\nwant %#v\norder: %v", round, got, want, ids(stream))
		}
	}
	// Reversed order, explicitly.
	rev := slices.Clone(evs)
	slices.Reverse(rev)
	if got, _ := fold(t, rev); !reflect.DeepEqual(got, want) {
		t.Errorf("reversed fold differs")
	}
}

// TestInteractionAllPermutations applies every permutation of a smaller set that holds
// every conflict: two transfers, an unassign after an assign, two qualifications, the
// started event and an earlier event.
func TestInteractionAllPermutations(t *testing.T) {
	all := callEvents(t)
	pick := func(ns ...int) []Event {
		var out []Event
		for _, n := range ns {
			out = append(out, all[n-1])
		}
		return out
	}
	evs := pick(1, 2, 3, 7, 8, 11, 18) // 7! = 5040 orders
	want, _ := fold(t, evs)
	n := 0
	permute(slices.Clone(evs), 0, func(p []Event) {
		n++
		if got, _ := fold(t, p); !reflect.DeepEqual(got, want) {
			t.Fatalf("order %v gives\n%#v\nwant\n%#v", ids(p), got, want)
		}
	})
	if n != 5040 {
		t.Errorf("tried %d permutations, want 5040", n)
	}
}

func permute(s []Event, k int, f func([]Event)) {
	if k == len(s) {
		f(s)
		return
	}
	for i := k; i < len(s); i++ {
		s[k], s[i] = s[i], s[k]
		permute(s, k+1, f)
		s[k], s[i] = s[i], s[k]
	}
}

func ids(evs []Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID[len(ev.ID)-3:]
	}
	return out
}

func TestInteractionApplyDuplicate(t *testing.T) {
	evs := callEvents(t)
	var in Interaction
	if !in.Apply(evs[3]) {
		t.Fatal("first Apply returned false")
	}
	before := in
	before.Events = slices.Clone(in.Events)
	if in.Apply(evs[3]) {
		t.Error("Apply of the same event returned true")
	}
	// Same id, other content: still a duplicate, and changes nothing.
	other := evs[4].WithID(evs[3].ID)
	if in.Apply(other) {
		t.Error("Apply of another event with the same id returned true")
	}
	if !reflect.DeepEqual(in, before) {
		t.Errorf("duplicate changed the state:\n got %#v\nwant %#v", in, before)
	}
	if !in.HasEvent(evs[3].ID) || in.HasEvent(evs[4].ID) {
		t.Errorf("HasEvent wrong")
	}
	if in.MessageCount != 1 {
		t.Errorf("MessageCount = %d, want 1", in.MessageCount)
	}
}

func TestInteractionApplyIgnoresOtherEvents(t *testing.T) {
	var in Interaction
	note := mustEvent(t, eventID(99), TypeNoteAdded, at(0, 0), obj{"note_id": "n", "text": "x"})
	if in.Apply(note) {
		t.Error("Apply of note.added returned true")
	}
	if in.Apply(Event{ID: eventID(98)}) {
		t.Error("Apply of an event without payload returned true")
	}
	if !reflect.DeepEqual(in, Interaction{}) {
		t.Errorf("state changed: %#v", in)
	}
}

func TestInteractionLaterWins(t *testing.T) {
	ended := func(n, mm int, status, reason string) Event {
		return mustEvent(t, eventID(n), TypeInteractionEnded, at(mm, 0), obj{"interaction_id": "c", "status": status, "reason": reason})
	}
	tests := []struct {
		name                string
		evs                 []Event
		wantStatus          Status
		wantReason          string
		wantEnd             time.Time
		wantRouting, wantQu string
	}{
		{"later occurred_at wins", []Event{ended(1, 5, "dissuaded", "closed"), ended(2, 4, "processed", "")}, StatusDissuaded, "closed", at(5, 0), "", ""},
		{"later occurred_at wins, reversed", []Event{ended(2, 4, "processed", ""), ended(1, 5, "dissuaded", "closed")}, StatusDissuaded, "closed", at(5, 0), "", ""},
		{"tie: greater id wins", []Event{ended(2, 5, "aborted", ""), ended(1, 5, "processed", "")}, StatusAborted, "", at(5, 0), "", ""},
		{"tie: greater id wins, reversed", []Event{ended(1, 5, "processed", ""), ended(2, 5, "aborted", "")}, StatusAborted, "", at(5, 0), "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := fold(t, tc.evs)
			if in.Status != tc.wantStatus || in.Reason != tc.wantReason || !in.EndAt.Equal(tc.wantEnd) {
				t.Errorf("Status, Reason, EndAt = %v, %q, %v; want %v, %q, %v", in.Status, in.Reason, in.EndAt, tc.wantStatus, tc.wantReason, tc.wantEnd)
			}
		})
	}
}

// TestInteractionRouting: the original routing is the started event's; the current
// routing, queue and agent follow the latest transfer, and an earlier transfer arriving
// late changes nothing but Agents and Queues.
func TestInteractionRouting(t *testing.T) {
	started := mustEvent(t, eventID(1), TypeInteractionStarted, at(0, 0), obj{"interaction_id": "c", "flow": "chat",
		"direction": "incoming", "routing": "direct", "agent_id": "ag-1"})
	toQueue := mustEvent(t, eventID(2), TypeInteractionRouted, at(2, 0), obj{"interaction_id": "c", "routing": "smart", "queue_id": "q-1"})
	toAgent := mustEvent(t, eventID(3), TypeInteractionRouted, at(1, 0), obj{"interaction_id": "c", "routing": "direct", "agent_id": "ag-2"})

	var in Interaction
	in.Apply(toQueue)
	if in.OriginalRouting != (Routing{}) || in.CurrentRouting != RoutingSmart {
		t.Errorf("before started: original %v, current %v; want none, smart", in.OriginalRouting, in.CurrentRouting)
	}
	in.Apply(started)
	in.Apply(toAgent)
	if in.OriginalRouting != RoutingDirect {
		t.Errorf("OriginalRouting = %v, want direct", in.OriginalRouting)
	}
	if in.CurrentRouting != RoutingSmart || in.QueueID != "q-1" || in.AgentID != "" {
		t.Errorf("current = %v %q %q; want smart q-1 and no agent (the latest transfer)", in.CurrentRouting, in.QueueID, in.AgentID)
	}
	if !slices.Equal(in.Agents, []string{"ag-1", "ag-2"}) || !slices.Equal(in.Queues, []string{"q-1"}) {
		t.Errorf("Agents, Queues = %v, %v", in.Agents, in.Queues)
	}
}

func TestInteractionStartAt(t *testing.T) {
	msg := mustEvent(t, eventID(1), TypeInteractionMessage, at(3, 0), obj{"interaction_id": "c", "direction": "incoming"})
	early := mustEvent(t, eventID(2), TypeInteractionLinked, at(1, 0), obj{"interaction_id": "c", "action": "assigned", "case_id": "k"})
	started := mustEvent(t, eventID(3), TypeInteractionStarted, at(2, 0), obj{"interaction_id": "c", "flow": "sms",
		"direction": "outgoing", "routing": "direct"})
	late := mustEvent(t, eventID(4), TypeInteractionEnded, at(0, 30), obj{"interaction_id": "c", "status": "delivered"})

	var in Interaction
	steps := []struct {
		ev   Event
		want time.Time
	}{
		{msg, at(3, 0)},     // the only event
		{early, at(1, 0)},   // an earlier event
		{started, at(2, 0)}, // the started event's time, though an event came before it
		{late, at(2, 0)},    // stays
	}
	for i, s := range steps {
		in.Apply(s.ev)
		if !in.StartAt.Equal(s.want) {
			t.Errorf("step %d: StartAt = %v, want %v", i, in.StartAt, s.want)
		}
	}
	var empty Interaction
	if !empty.startAt().IsZero() {
		t.Errorf("empty StartAt = %v", empty.startAt())
	}
}

func TestInteractionLinks(t *testing.T) {
	link := func(n, mm int, action, field, id string) Event {
		return mustEvent(t, eventID(n), TypeInteractionLinked, at(mm, 0), obj{"interaction_id": "c", "action": action, field: id})
	}
	tests := []struct {
		name              string
		evs               []Event
		wantCRM, wantCase string
	}{
		{"assigned", []Event{link(1, 1, "assigned", "crm_record_id", "r1")}, "r1", ""},
		{"assigned then unassigned", []Event{link(2, 2, "unassigned", "crm_record_id", "r1"), link(1, 1, "assigned", "crm_record_id", "r1")}, "", ""},
		{"unassigned then assigned again", []Event{link(1, 1, "unassigned", "case_id", "k1"), link(2, 2, "assigned", "case_id", "k2")}, "", "k2"},
		{"unassigning another record keeps the assigned one", []Event{link(1, 1, "assigned", "crm_record_id", "r1"), link(2, 2, "unassigned", "crm_record_id", "r2")}, "r1", ""},
		{"the record assigned last wins", []Event{link(2, 2, "assigned", "crm_record_id", "r2"), link(1, 1, "assigned", "crm_record_id", "r1")}, "r2", ""},
		{"case and record are independent", []Event{link(1, 1, "assigned", "crm_record_id", "r1"), link(2, 2, "unassigned", "case_id", "k1")}, "r1", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := fold(t, tc.evs)
			if in.CRMRecord != tc.wantCRM || in.Case != tc.wantCase {
				t.Errorf("CRMRecord, Case = %q, %q; want %q, %q", in.CRMRecord, in.Case, tc.wantCRM, tc.wantCase)
			}
		})
	}
}

// TestInteractionRehydrate: the state stored as JSON by the history view reads back equal
// and folds on exactly as the original.
func TestInteractionRehydrate(t *testing.T) {
	evs := callEvents(t)
	whole, _ := fold(t, evs)
	half, _ := fold(t, evs[:9])
	b, err := json.Marshal(half)
	if err != nil {
		t.Fatal(err)
	}
	var back Interaction
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, half) {
		t.Fatalf("rehydrated state differs:\n got %#v\nwant %#v", back, half)
	}
	for _, ev := range evs {
		back.Apply(ev)
	}
	b1, _ := json.Marshal(back)
	b2, _ := json.Marshal(whole)
	if string(b1) != string(b2) {
		t.Errorf("fold after rehydration differs:\n%s\n%s", b1, b2)
	}
}

func TestStampAfter(t *testing.T) {
	a := Stamp{at(1, 0), eventID(1)}
	b := Stamp{at(1, 0), eventID(2)}
	c := Stamp{at(0, 59), eventID(9)}
	if !b.After(a) || a.After(b) || a.After(a) || !a.After(c) || c.After(a) || !a.After(Stamp{}) {
		t.Errorf("Stamp.After is not a strict order")
	}
	if !(Stamp{}).IsZero() || a.IsZero() {
		t.Errorf("IsZero wrong")
	}
}

func BenchmarkInteractionApply(b *testing.B) {
	evs := callEvents(b)
	b.ReportAllocs()
	for b.Loop() {
		var in Interaction
		for _, ev := range evs {
			in.Apply(ev)
		}
	}
	b.ReportMetric(float64(len(evs)), "events/op")
}

// TestInteractionInferredStarted: an adapter's inferred started lists the interaction
// with its fields and the earliest event's time until the real started arrives; the real
// one then wins, in every order, whether it is earlier or later than the inference.
func TestInteractionInferredStarted(t *testing.T) {
	const call = "CA-1"
	inferred := func(n int, when time.Time) Event {
		return mustEvent(t, eventID(n), TypeInteractionStarted, when, obj{"interaction_id": call, "flow": "voice",
			"direction": "incoming", "routing": "direct", "contact": obj{"phone": "+33612345678"}, "inferred": true})
	}
	real := mustEvent(t, eventID(1), TypeInteractionStarted, at(0, 10), obj{"interaction_id": call, "flow": "voice",
		"direction": "incoming", "routing": "smart", "queue_id": "q-1", "contact": obj{"phone": "+33612345678"},
		"voice_campaign": "winter"})
	ended := mustEvent(t, eventID(2), TypeInteractionEnded, at(5, 0), obj{"interaction_id": call, "status": "processed"})
	if d := inferred(3, at(0, 0)).Payload.(*StartedData); !d.Inferred {
		t.Fatal("inferred did not survive decoding")
	}

	t.Run("inferred only", func(t *testing.T) {
		got, _ := fold(t, []Event{ended, inferred(3, at(0, 20)), inferred(4, at(0, 0))})
		if got.Flow != FlowVoice || got.OriginalRouting != RoutingDirect || got.Contact.Phone != "+33612345678" {
			t.Errorf("got flow %s routing %s contact %+v, want the inferred fields", got.Flow, got.OriginalRouting, got.Contact)
		}
		if !got.StartAt.Equal(at(0, 0)) || !got.Stamps.Started.IsZero() {
			t.Errorf("got start %s stamp %+v, want the earliest event's time and no started stamp", got.StartAt, got.Stamps.Started)
		}
	})
	for _, infAt := range []time.Time{at(0, 0), at(0, 20)} {
		t.Run("real wins over inferred at "+infAt.Format("04:05"), func(t *testing.T) {
			evs := []Event{real, ended, inferred(3, infAt)}
			want, _ := fold(t, evs)
			if want.OriginalRouting != RoutingSmart || want.VoiceCampaign != "winter" || !want.StartAt.Equal(at(0, 10)) {
				t.Fatalf("got routing %s campaign %q start %s, want the real started's", want.OriginalRouting, want.VoiceCampaign, want.StartAt)
			}
			permute(slices.Clone(evs), 0, func(p []Event) {
				if got, _ := fold(t, p); !reflect.DeepEqual(got, want) {
					t.Fatalf("order %v gives\n%#v\nwant\n%#v", ids(p), got, want)
				}
			})
		})
	}
}

// TestInteractionMergeOfPartialFolds: the events of an interaction split at random among
// up to four partial folds (as a view keeps one per customer), folded apart and merged in
// any order, give the fold of all of them, for the full call and for one whose started
// is an inference beside a real one.
func TestInteractionMergeOfPartialFolds(t *testing.T) {
	const call = "call-1"
	inferred := mustEvent(t, eventID(30), TypeInteractionStarted, at(0, 5), obj{"interaction_id": call, "flow": "voice",
		"direction": "incoming", "routing": "direct", "contact": obj{"phone": "+33612345678"}, "inferred": true})
	withInference := append(callEvents(t), inferred)
	onlyInferred := []Event{inferred, callEvents(t)[5], callEvents(t)[3]} // ended, a message
	rng := rand.New(rand.NewPCG(20261202, 7))
	for _, tc := range []struct {
		name string
		evs  []Event
	}{{"call", callEvents(t)}, {"call with an inferred started", withInference}, {"inferred started only", onlyInferred}} {
		t.Run(tc.name, func(t *testing.T) {
			want, _ := fold(t, tc.evs)
			for round := range 1000 {
				parts := make([][]Event, 1+rng.IntN(4))
				for _, ev := range tc.evs {
					k := rng.IntN(len(parts))
					parts[k] = append(parts[k], ev)
				}
				folds := make([]Interaction, len(parts))
				for k := range parts {
					folds[k], _ = fold(t, parts[k])
				}
				rng.Shuffle(len(folds), func(a, b int) { folds[a], folds[b] = folds[b], folds[a] })
				got := folds[0].Clone()
				for k := 1; k < len(folds); k++ {
					if err := got.Merge(&folds[k]); err != nil {
						t.Fatalf("round %d: %v", round, err)
					}
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("round %d (%d parts): merged\n%#v\nwant\n%#v", round, len(parts), got, want)
				}
			}
		})
	}
}

func TestInteractionMergeRefusesOverlap(t *testing.T) {
	evs := callEvents(t)
	a, _ := fold(t, evs[:5])
	b, _ := fold(t, evs[4:8]) // event 5 in both
	before := a.Clone()
	err := a.Merge(&b)
	var oe *OverlapError
	if !errors.As(err, &oe) || oe.EventID != evs[4].ID {
		t.Fatalf("Merge = %v, want an *OverlapError naming %s", err, evs[4].ID)
	}
	if !reflect.DeepEqual(a, before) {
		t.Errorf("a refused Merge changed the fold")
	}
	other, _ := fold(t, []Event{mustEvent(t, eventID(40), TypeInteractionEnded, at(1, 0), obj{"interaction_id": "call-2", "status": "processed"})})
	if err := a.Merge(&other); err == nil {
		t.Errorf("Merge of another interaction's fold: no error")
	}
}

func TestInteractionCloneSharesNothing(t *testing.T) {
	evs := callEvents(t)
	a, _ := fold(t, evs[:10])
	want := a.Clone()
	c := a.Clone()
	for _, ev := range evs[10:] {
		c.Apply(ev)
	}
	extra := mustEvent(t, eventID(41), TypeInteractionRouted, at(0, 1), obj{"interaction_id": "call-1", "routing": "direct", "agent_id": "ag-0"})
	c.Apply(extra)
	if !reflect.DeepEqual(a, want) {
		t.Errorf("Apply on a clone changed the original")
	}
}
