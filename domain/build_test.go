package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestNewEventRoundTrip: for every catalog type, a typed payload built with NewEvent keeps
// the payload as given, encodes once, and Encode → DecodeStored gives the same event back;
// decoding the producer's JSON of the same data gives the same payload.
func TestNewEventRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 21, 10, 14, 3, 500, time.FixedZone("CET", 3600))
	for _, tc := range validCases() {
		t.Run(tc.typ.String(), func(t *testing.T) {
			cust := testCust
			if tc.typ.IsDirectory() {
				cust = ""
			}
			ev, err := NewEvent(testID, tc.typ, at, cust, "pbx-paris", tc.want, testNow)
			if err != nil {
				t.Fatalf("NewEvent: %v", err)
			}
			if !reflect.DeepEqual(ev.Payload, tc.want) {
				t.Errorf("Payload = %#v, want %#v", ev.Payload, tc.want)
			}
			if !ev.OccurredAt.Equal(at) || ev.OccurredAt.Location() != time.UTC {
				t.Errorf("OccurredAt = %v, want %v in UTC", ev.OccurredAt, at)
			}
			roundTrip(t, ev)
			fromJSON, err := DecodeIncoming(rawEnvelope(tc.typ, tc.data), testNow)
			if err != nil {
				t.Fatalf("DecodeIncoming: %v", err)
			}
			if !reflect.DeepEqual(fromJSON.Payload, ev.Payload) {
				t.Errorf("decoded producer JSON = %#v, built = %#v", fromJSON.Payload, ev.Payload)
			}
		})
	}
}

// TestNewEventEncoding pins details of the one encoding: absent optional fields are
// omitted, times are UTC, HTML-ish text is escaped as encoding/json does.
func TestNewEventEncoding(t *testing.T) {
	due := time.Date(2026, 12, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		typ  EventType
		p    Payload
		want string
	}{
		{"optional fields omitted", TypeInteractionEnded, &EndedData{InteractionID: "c-1", Status: StatusProcessed},
			`{"interaction_id":"c-1","status":"processed"}`},
		{"due in UTC", TypeTaskCreated, &TaskData{TaskID: "t-1", DueAt: &due}, `{"task_id":"t-1","due_at":"2026-12-01T09:00:00Z"}`},
		{"page count alone", TypeVisitRecorded, &VisitData{VisitID: "v-1", PageCount: 3}, `{"visit_id":"v-1","pages":3}`},
		{"erased", TypeCustomerErased, nil, `{}`},
		{"html escaped", TypeNoteAdded, &NoteData{NoteID: "n-1", Text: "<b>&</b>"}, `{"note_id":"n-1","text":"\u003cb\u003e\u0026\u003c/b\u003e"}`},
		{"profile without access", TypeDirectoryProfile, &ProfileData{ProfileID: "p-1"}, `{"profile_id":"p-1","history_access":false}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cust := testCust
			if tc.typ.IsDirectory() {
				cust = ""
			}
			ev, err := NewEvent("", tc.typ, testNow, cust, "", tc.p, testNow)
			if err != nil {
				t.Fatalf("NewEvent: %v", err)
			}
			if !bytes.Equal(ev.Data, []byte(tc.want)) {
				t.Errorf("Data = %s, want %s", ev.Data, tc.want)
			}
			if ev.ID != "" {
				t.Errorf("ID = %q, want empty (assigned by the appender)", ev.ID)
			}
		})
	}
}

// TestNewEventRejects: each rejection is a *ValidationError naming the field, as the
// decoder names it.
func TestNewEventRejects(t *testing.T) {
	at := testNow.Add(-time.Hour)
	started := func(change func(d *StartedData)) *StartedData {
		d := &StartedData{InteractionID: "c-1", Flow: FlowVoice, Direction: DirectionIncoming, Routing: RoutingDirect}
		change(d)
		return d
	}
	tests := []struct {
		name   string
		id     string
		typ    EventType
		at     time.Time
		cust   string
		source string
		p      Payload
		field  string
	}{
		{"bad id", "n-1", TypeNoteAdded, at, testCust, "", &NoteData{NoteID: "n-1", Text: "x"}, "id"},
		{"zero type", testID, EventType{}, at, testCust, "", &NoteData{NoteID: "n-1", Text: "x"}, "type"},
		{"too old", testID, TypeNoteAdded, RetentionStart(testNow).Add(-time.Second), testCust, "", &NoteData{NoteID: "n-1", Text: "x"}, "occurred_at"},
		{"zero time", testID, TypeNoteAdded, time.Time{}, testCust, "", &NoteData{NoteID: "n-1", Text: "x"}, "occurred_at"},
		{"missing customer", testID, TypeNoteAdded, at, "", "", &NoteData{NoteID: "n-1", Text: "x"}, "customer_id"},
		{"control character in customer", testID, TypeNoteAdded, at, "a\x00b", "", &NoteData{NoteID: "n-1", Text: "x"}, "customer_id"},
		{"customer on directory", testID, TypeDirectoryTeam, at, testCust, "", &TeamData{TeamID: "t"}, "customer_id"},
		{"source too long", testID, TypeNoteAdded, at, testCust, strings.Repeat("s", MaxTextBytes+1), &NoteData{NoteID: "n-1", Text: "x"}, "source"},
		{"wrong payload for the type", testID, TypeTaskCreated, at, testCust, "", &NoteData{NoteID: "n-1", Text: "x"}, "data"},
		{"nil payload", testID, TypeNoteAdded, at, testCust, "", nil, "data"},
		{"missing interaction id", testID, TypeInteractionStarted, at, testCust, "", started(func(d *StartedData) { d.InteractionID = "" }), "data.interaction_id"},
		{"missing flow", testID, TypeInteractionStarted, at, testCust, "", started(func(d *StartedData) { d.Flow = Flow{} }), "data.flow"},
		{"missing routing", testID, TypeInteractionStarted, at, testCust, "", started(func(d *StartedData) { d.Routing = Routing{} }), "data.routing"},
		{"bad email", testID, TypeInteractionStarted, at, testCust, "", started(func(d *StartedData) { d.Contact.Email = "nobody" }), "data.contact.email"},
		{"participant without role", testID, TypeInteractionStarted, at, testCust, "", started(func(d *StartedData) { d.Participants = []Participant{{ID: "x"}} }), "data.participants[0].role"},
		{"sr_data not an object", testID, TypeInteractionRouted, at, testCust, "", &RoutedData{InteractionID: "c-1", Routing: RoutingSmart, SRData: json.RawMessage(`[1]`)}, "data.sr_data"},
		{"dissuaded without reason", testID, TypeInteractionEnded, at, testCust, "", &EndedData{InteractionID: "c-1", Status: StatusDissuaded}, "data.reason"},
		{"linked to nothing", testID, TypeInteractionLinked, at, testCust, "", &LinkedData{InteractionID: "c-1", Action: LinkAssigned}, "data.crm_record_id"},
		{"no qualifications", testID, TypeInteractionQualified, at, testCust, "", &QualifiedData{InteractionID: "c-1"}, "data.qualifications"},
		{"answer without question", testID, TypeSurveyAnswered, at, testCust, "", &SurveyData{InteractionID: "c-1", SurveyID: "s", Answers: []SurveyAnswer{{Answer: "9"}}}, "data.answers[0].question"},
		{"amount not a number", testID, TypeInvoiceIssued, at, testCust, "", &InvoiceData{InteractionID: "c-1", InvoiceID: "i-1", Amount: "abc"}, "data.amount"},
		{"currency lower case", testID, TypeInvoiceIssued, at, testCust, "", &InvoiceData{InteractionID: "c-1", InvoiceID: "i-1", Currency: "eur"}, "data.currency"},
		{"order without id", testID, TypeOrderCreated, at, testCust, "", &OrderData{Status: "new"}, "data.order_id"},
		{"title too long", testID, TypeTaskCreated, at, testCust, "", &TaskData{TaskID: "t-1", Title: strings.Repeat("t", MaxTextBytes+1)}, "data.title"},
		{"note without text", testID, TypeNoteAdded, at, testCust, "", &NoteData{NoteID: "n-1", Text: " "}, "data.text"},
		{"negative size", testID, TypeFileAttached, at, testCust, "", &FileData{FileID: "f-1", Name: "a", Size: -1}, "data.size"},
		{"negative page count", testID, TypeVisitRecorded, at, testCust, "", &VisitData{VisitID: "v-1", PageCount: -1}, "data.pages"},
		{"no changes", testID, TypeCustomerUpdated, at, testCust, "", &CustomerUpdatedData{}, "data.changes"},
		{"merged into itself", testID, TypeCustomerMerged, at, testCust, "", &MergedData{FromCustomerID: testCust}, "data.from_customer_id"},
		{"agent without role", testID, TypeDirectoryAgent, at, "", "", &AgentData{AgentID: "ag-1"}, "data.role"},
		{"team with an empty manager", testID, TypeDirectoryTeam, at, "", "", &TeamData{TeamID: "t", ManagerIDs: []string{""}}, "data.manager_ids[0]"},
		{"profile with a zero flow", testID, TypeDirectoryProfile, at, "", "", &ProfileData{ProfileID: "p", Flows: []Flow{{}}}, "data.flows[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewEvent(tc.id, tc.typ, tc.at, tc.cust, tc.source, tc.p, testNow)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("err = %v, want a ValidationError on %s", err, tc.field)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v does not match ErrInvalid", err)
			}
		})
	}
}

// TestNewEventExtensions: a producer's extra fields are written after the payload's, kept
// through a round trip, and refused when they would repeat a key.
func TestNewEventExtensions(t *testing.T) {
	d := &EndedData{InteractionID: "c-1", Status: StatusDelivered}
	ev, err := NewEvent(testID, TypeInteractionEnded, testNow, testCust, "", d, testNow,
		Extension{Key: "provider_status", Value: "read"}, Extension{Key: "watermark", Value: int64(1795252510402)})
	if err != nil {
		t.Fatalf("NewEvent: %v", err)
	}
	want := `{"interaction_id":"c-1","status":"delivered","provider_status":"read","watermark":1795252510402}`
	if string(ev.Data) != want {
		t.Errorf("Data = %s, want %s", ev.Data, want)
	}
	roundTrip(t, ev)
	rejects := []struct {
		name  string
		ext   []Extension
		field string
	}{
		{"repeats a payload field", []Extension{{Key: "status", Value: "x"}}, "data.status"},
		{"given twice", []Extension{{Key: "k", Value: 1}, {Key: "k", Value: 2}}, "data.k"},
		{"empty key", []Extension{{Key: "", Value: 1}}, "data."},
		{"cannot be marshalled", []Extension{{Key: "ch", Value: make(chan int)}}, "data.ch"},
		{"too large", []Extension{{Key: "blob", Value: strings.Repeat("x", MaxEnvelopeBytes)}}, "envelope"},
	}
	for _, tc := range rejects {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewEvent(testID, TypeInteractionEnded, testNow, testCust, "", d, testNow, tc.ext...)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("err = %v, want a ValidationError on %s", err, tc.field)
			}
		})
	}
}

func TestFitText(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		want     string
	}{
		{"short", "abc", 10, "abc"},
		{"cut", "abcdef", 4, "abcd"},
		{"cut on a rune boundary", "aé", 2, "a"},
		{"invalid UTF-8 dropped", "a\xffb", 10, "ab"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := FitText(tc.in, tc.max); got != tc.want {
				t.Errorf("FitText(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
		})
	}
}

func TestClip(t *testing.T) {
	if got := Clip("short"); got != "short" {
		t.Errorf("Clip(short) = %q", got)
	}
	long := strings.Repeat("a", 59) + "éé"
	if got, want := Clip(long), strings.Repeat("a", 59)+"…"; got != want {
		t.Errorf("Clip = %q, want %q (cut before the split rune)", got, want)
	}
}

// roundTrip encodes ev, decodes it as the stream's reader does, and fails unless the
// result equals ev; it returns the encoding and the event read back.
func roundTrip(t *testing.T, ev Event) ([]byte, Event) {
	t.Helper()
	b, err := ev.Encode()
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	back, err := DecodeStored(b, testNow)
	if err != nil {
		t.Fatalf("DecodeStored(%s): %v", b, err)
	}
	if !reflect.DeepEqual(back, ev) {
		t.Errorf("round trip:\n got %#v\nwant %#v", back, ev)
	}
	return b, back
}

// BenchmarkNewEvent is the price of building one typed event (the scenario's fast path
// writes the JSON by hand to avoid it).
func BenchmarkNewEvent(b *testing.B) {
	d := &StartedData{InteractionID: "call-1", Flow: FlowVoice, Direction: DirectionIncoming, Routing: RoutingSmart,
		QueueID: "q-sales", AgentID: "ag-1", Contact: Contact{Phone: "+33612345678"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewEvent(testID, TypeInteractionStarted, testNow, testCust, "bench", d, testNow); err != nil {
			b.Fatal(err)
		}
	}
}
