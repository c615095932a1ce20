package history

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/domain"
)

// TestDetailCodecCoversInteraction fails when a struct the detail codec writes gains or
// loses a field: update encodeDetail and decodeDetail, then this list.
func TestDetailCodecCoversInteraction(t *testing.T) {
	want := map[reflect.Type]string{
		reflect.TypeFor[domain.Interaction](): "ID CustomerID StartAt EndAt Flow Status Reason Direction OriginalRouting CurrentRouting " +
			"AgentID QueueID Agents Queues Contact VoiceCampaign Template Participants SRData CRMRecord Case CRMLinks CaseLinks " +
			"Qualifications Surveys Invoices MessageCount OpenedAt OpenCount ClickedAt ClickCount Events Stamps",
		reflect.TypeFor[domain.InteractionStamps](): "Started Current Ended Customer SRData Qualified",
		reflect.TypeFor[domain.Stamp]():             "At ID",
		reflect.TypeFor[domain.Contact]():           "Phone Email",
		reflect.TypeFor[domain.Participant]():       "Role ID Name",
		reflect.TypeFor[domain.Link]():              "ID Assigned Stamp",
		reflect.TypeFor[domain.EventRecord]():       "ID Type OccurredAt Source Data",
	}
	for typ, fields := range want {
		var got []string
		for f := range typ.Fields() {
			got = append(got, f.Name)
		}
		if strings.Join(got, " ") != fields {
			t.Errorf("%s has fields\n%s\nthe detail codec knows\n%s", typ, strings.Join(got, " "), fields)
		}
	}
}

// fullInteraction folds events that set every part of an interaction.
func fullInteraction(t *testing.T) domain.Interaction {
	at := testNow.Add(-2 * time.Hour)
	evs := []domain.Event{
		started(t, "full", at, "c1", "voice", "smart", "Q1", "ag1", map[string]any{
			"contact": map[string]any{"phone": "06 12 34 56 78", "email": "A@b.fr"}, "voice_campaign": "camp",
			"template": "tpl", "participants": []any{map[string]any{"role": "agent", "id": "ag1", "name": "Ann"}}}),
		routed(t, "full", at.Add(time.Minute), "c1", "direct", "", "ag2"),
		ended(t, "full", at.Add(9*time.Minute), "c1", "dissuaded"),
		mk(t, domain.TypeInteractionLinked, at.Add(2*time.Minute), "c1", map[string]any{"interaction_id": "full", "action": "assigned", "crm_record_id": "crm1"}),
		mk(t, domain.TypeInteractionLinked, at.Add(3*time.Minute), "c1", map[string]any{"interaction_id": "full", "action": "assigned", "case_id": "case1"}),
		mk(t, domain.TypeInteractionLinked, at.Add(4*time.Minute), "c1", map[string]any{"interaction_id": "full", "action": "unassigned", "case_id": "case1"}),
	}
	var in domain.Interaction
	for _, ev := range evs {
		in.Apply(ev)
	}
	// Parts no event above sets (their events' shapes belong to domain's tests).
	in.SRData = json.RawMessage(`{"score":0.5,"html":"<b>&</b>"}`)
	in.Qualifications = []string{"sale", "vip"}
	in.Surveys = []domain.Survey{{SurveyID: "s1", Answers: []domain.SurveyAnswer{{Question: "q", Answer: "a"}}, Stamp: domain.Stamp{At: at, ID: "e1"}}}
	in.Invoices = []domain.Invoice{{InvoiceID: "i1", Amount: "12.50", Currency: "EUR", Status: "paid", Stamp: domain.Stamp{At: at, ID: "e2"}}}
	in.MessageCount, in.OpenCount, in.OpenedAt = 3, 2, at.Add(5*time.Minute)
	in.ClickCount, in.ClickedAt = 1, at.Add(6*time.Minute)
	in.Stamps.SRData, in.Stamps.Qualified = domain.Stamp{At: at, ID: "e3"}, domain.Stamp{At: at.Add(time.Second), ID: "e4"}
	return in
}

// TestDetailCodecRoundTrip: what the codec reads back is what the former JSON form read
// back, for a full interaction and for random folds.
func TestDetailCodecRoundTrip(t *testing.T) {
	ins := []domain.Interaction{fullInteraction(t), {}}
	for _, in := range fold(genEvents(t, rand.New(rand.NewPCG(3, 3)), 80)) {
		ins = append(ins, *in)
	}
	for _, in := range ins {
		js, err := json.Marshal(&in)
		if err != nil {
			t.Fatal(err)
		}
		var viaJSON domain.Interaction
		if err := json.Unmarshal(js, &viaJSON); err != nil {
			t.Fatal(err)
		}
		enc, err := encodeDetail(nil, &in, []string{in.CustomerID})
		if err != nil {
			t.Fatal(err)
		}
		var got domain.Interaction
		if cs, err := decodeDetail(enc, &got); err != nil || !slices.Equal(cs, []string{in.CustomerID}) {
			t.Fatalf("decode %s: customers %v, %v", in.ID, cs, err)
		}
		enc2, _ := encodeDetail(nil, &got, []string{in.CustomerID})
		if !slices.Equal(enc, enc2) {
			t.Fatalf("encoding of %s is not stable", in.ID)
		}
		// Raw JSON is kept as given (JSON escaped <, > and &): compare its meaning.
		gotJS, _ := json.Marshal(&got)
		if string(gotJS) != string(js) {
			t.Fatalf("round trip of %s:\n got %s\nwant %s", in.ID, gotJS, js)
		}
		norm := func(x domain.Interaction) domain.Interaction {
			x.SRData = nil
			x.Events = slices.Clone(x.Events)
			for i := range x.Events {
				x.Events[i].Data = nil
			}
			return x
		}
		if !reflect.DeepEqual(norm(got), norm(viaJSON)) {
			t.Fatalf("round trip of %s:\n got %+v\nwant %+v", in.ID, got, viaJSON)
		}
		// The former JSON form is still read.
		var legacy domain.Interaction
		if _, err := decodeDetail(js, &legacy); err != nil || !reflect.DeepEqual(legacy, viaJSON) {
			t.Fatalf("legacy JSON of %s: %v", in.ID, err)
		}
		// Truncations are errors, never panics.
		for n := range len(enc) {
			var x domain.Interaction
			if _, err := decodeDetail(enc[:n], &x); err == nil {
				t.Fatalf("%s truncated to %d bytes decoded without error", in.ID, n)
			}
		}
	}
}

// TestDetailCodecReadsV2: a value stored before email.clicked (version 2, no click
// fields) still decodes, with no click.
func TestDetailCodecReadsV2(t *testing.T) {
	in := fullInteraction(t)
	in.ClickCount, in.ClickedAt = 0, time.Time{}
	enc, err := encodeDetail(nil, &in, []string{in.CustomerID})
	if err != nil {
		t.Fatal(err)
	}
	noClick := binary.AppendVarint(appendTime(nil, time.Time{}), 0)
	if !bytes.HasSuffix(enc, noClick) {
		t.Fatalf("version 3 does not end with the click fields")
	}
	v2 := append([]byte{detailV2}, enc[1:len(enc)-len(noClick)]...)
	var got domain.Interaction
	cs, err := decodeDetail(v2, &got)
	if err != nil || !slices.Equal(cs, []string{in.CustomerID}) {
		t.Fatalf("decode version 2: customers %v, %v", cs, err)
	}
	var want domain.Interaction
	if _, err := decodeDetail(enc, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("version 2 decoded as\n%+v\nwant\n%+v", got, want)
	}
}

// TestRowViewMatchesDecodeRow checks the list's allocation-free decode against decodeRow,
// that clone owns its memory, and that a corrupt row is refused by both.
func TestRowViewMatchesDecodeRow(t *testing.T) {
	rows := []row{
		{id: "in-1", start: 1e18, end: 1e18 + 5, customer: "c1", flow: domain.FlowVoice, status: domain.StatusAborted,
			reason: "r", direction: domain.DirectionIncoming, orig: domain.RoutingSmart, cur: domain.RoutingDirect,
			agent: "ag1", queue: "q1", contact: "+33612345678", phone: "+33612345678", email: "a@b.fr",
			campaign: "v", template: "t", crm: "crm", agents: []string{"ag0", "ag1"}, queues: []string{"q1"}},
		{id: "in-2", start: -5},
		{id: "in-3", start: 7, agents: []string{"x"}},
	}
	var rv rowView
	for _, want := range rows {
		k, val := want.tkey(), want.encode()
		got, err := decodeRow(k, val)
		if err != nil {
			t.Fatal(err)
		}
		view, err := rv.decode(k, val)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*view, got) {
			t.Fatalf("rowView %+v, decodeRow %+v", *view, got)
		}
		c := view.clone()
		for i := range k {
			k[i] = 0
		}
		for i := range val {
			val[i] = 0
		}
		if !reflect.DeepEqual(c, got) {
			t.Fatalf("clone %+v shares memory with the decoded bytes (want %+v)", c, got)
		}
		if _, err := rv.decode(want.tkey(), want.encode()[:len(want.encode())-1]); err == nil {
			t.Fatal("truncated row decoded")
		}
	}
}
