package domain

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// testNow is the fixed "now" of every test: tests never read the wall clock.
var testNow = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

const (
	testID   = "0193a5b2-7c1e-7f00-9a4b-3c2d1e0f5a6b"
	testAt   = "2026-11-21T09:14:03Z"
	testCust = "cust-42"
)

// obj is a JSON object under construction.
type obj = map[string]any

// validCase is a valid envelope of one catalog type: its data as raw JSON and the payload
// it must decode to.
type validCase struct {
	typ  EventType
	data string
	want Payload
}

// validCases holds one valid envelope of each of the 27 catalog types, every optional
// field filled in.
func validCases() []validCase {
	due := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	return []validCase{
		{TypeInteractionStarted,
			`{"interaction_id":"call-1","flow":"voice","direction":"incoming","routing":"smart","queue_id":"q-sales","agent_id":"ag-1","contact":{"phone":"+33612345678","email":"ann@example.com"},"voice_campaign":"winter","template":"tpl-1","participants":[{"role":"customer","id":"c-1","name":"Ann"}]}`,
			&StartedData{InteractionID: "call-1", Flow: FlowVoice, Direction: DirectionIncoming, Routing: RoutingSmart,
				QueueID: "q-sales", AgentID: "ag-1", Contact: Contact{Phone: "+33612345678", Email: "ann@example.com"},
				VoiceCampaign: "winter", Template: "tpl-1", Participants: []Participant{{Role: "customer", ID: "c-1", Name: "Ann"}}}},
		{TypeInteractionRouted,
			`{"interaction_id":"call-1","routing":"direct","queue_id":"q-2","agent_id":"ag-2","sr_data":{"skill":"fr"}}`,
			&RoutedData{InteractionID: "call-1", Routing: RoutingDirect, QueueID: "q-2", AgentID: "ag-2", SRData: json.RawMessage(`{"skill":"fr"}`)}},
		{TypeInteractionMessage,
			`{"interaction_id":"chat-1","direction":"outgoing","message_id":"m-1"}`,
			&MessageData{InteractionID: "chat-1", Direction: DirectionOutgoing, MessageID: "m-1"}},
		{TypeInteractionEnded,
			`{"interaction_id":"call-1","status":"dissuaded","reason":"closed"}`,
			&EndedData{InteractionID: "call-1", Status: StatusDissuaded, Reason: "closed"}},
		{TypeInteractionLinked,
			`{"interaction_id":"call-1","action":"assigned","crm_record_id":"crm-1","case_id":"case-1"}`,
			&LinkedData{InteractionID: "call-1", Action: LinkAssigned, CRMRecordID: "crm-1", CaseID: "case-1"}},
		{TypeInteractionQualified,
			`{"interaction_id":"call-1","qualifications":["sale","vip"]}`,
			&QualifiedData{InteractionID: "call-1", Qualifications: []string{"sale", "vip"}}},
		{TypeSurveyAnswered,
			`{"interaction_id":"call-1","survey_id":"nps","answers":[{"question":"score","answer":"9"}]}`,
			&SurveyData{InteractionID: "call-1", SurveyID: "nps", Answers: []SurveyAnswer{{Question: "score", Answer: "9"}}}},
		{TypeInvoiceIssued,
			`{"interaction_id":"call-1","invoice_id":"inv-1","amount":12.50,"currency":"EUR","status":"paid"}`,
			&InvoiceData{InteractionID: "call-1", InvoiceID: "inv-1", Amount: "12.50", Currency: "EUR", Status: "paid"}},
		{TypeEmailOpened,
			`{"interaction_id":"mail-1"}`,
			&OpenedData{InteractionID: "mail-1"}},
		{TypeEmailClicked,
			`{"interaction_id":"mail-1","url":"https://example.com/offer?a=1"}`,
			&ClickedData{InteractionID: "mail-1", URL: "https://example.com/offer?a=1"}},
		{TypeOrderCreated,
			`{"order_id":"o-1","status":"new","total":"99.90","currency":"EUR"}`,
			&OrderData{OrderID: "o-1", Status: "new", Total: "99.90", Currency: "EUR"}},
		{TypeOrderUpdated,
			`{"order_id":"o-1","status":"shipped","changes":{"status":{"from":"new","to":"shipped"}}}`,
			&OrderData{OrderID: "o-1", Status: "shipped",
				Changes: map[string]Change{"status": {From: json.RawMessage(`"new"`), To: json.RawMessage(`"shipped"`)}}}},
		{TypeSegmentJoined, `{"segment_id":"vip","name":"VIP"}`, &SegmentData{SegmentID: "vip", Name: "VIP"}},
		{TypeSegmentLeft, `{"segment_id":"vip"}`, &SegmentData{SegmentID: "vip"}},
		{TypeTaskCreated,
			`{"task_id":"t-1","title":"Call back","due_at":"2026-12-01T10:00:00+01:00","assignee_id":"ag-1"}`,
			&TaskData{TaskID: "t-1", Title: "Call back", DueAt: &due, AssigneeID: "ag-1"}},
		{TypeTaskUpdated, `{"task_id":"t-1","title":"Call back soon"}`, &TaskData{TaskID: "t-1", Title: "Call back soon"}},
		{TypeTaskCompleted, `{"task_id":"t-1"}`, &TaskData{TaskID: "t-1"}},
		{TypeTaskReopened, `{"task_id":"t-1"}`, &TaskData{TaskID: "t-1"}},
		{TypeTaskDeleted, `{"task_id":"t-1"}`, &TaskData{TaskID: "t-1"}},
		{TypeNoteAdded,
			`{"note_id":"n-1","text":"Wants a refund","author_id":"ag-1"}`,
			&NoteData{NoteID: "n-1", Text: "Wants a refund", AuthorID: "ag-1"}},
		{TypeFileAttached,
			`{"file_id":"f-1","name":"invoice.pdf","size":1024,"content_type":"application/pdf","url":"https://files.example/f-1"}`,
			&FileData{FileID: "f-1", Name: "invoice.pdf", Size: 1024, ContentType: "application/pdf", URL: "https://files.example/f-1"}},
		{TypeVisitRecorded,
			`{"visit_id":"v-1","source":"google","channel":"web","duration_s":95,"pages":["/","/pricing"]}`,
			&VisitData{VisitID: "v-1", Source: "google", Channel: "web", DurationS: 95, Pages: []string{"/", "/pricing"}, PageCount: 2}},
		{TypeCustomerUpdated,
			`{"changes":{"email":{"from":"a@example.com","to":"b@example.com"}}}`,
			&CustomerUpdatedData{Changes: map[string]Change{"email": {From: json.RawMessage(`"a@example.com"`), To: json.RawMessage(`"b@example.com"`)}}}},
		{TypeCustomerMerged, `{"from_customer_id":"cust-7"}`, &MergedData{FromCustomerID: "cust-7"}},
		{TypeCustomerErased, `{}`, &ErasedData{}},
		{TypeDirectoryAgent,
			`{"agent_id":"ag-1","role":"manager","name":"Bea","team_id":"team-1","active_profile_id":"p-1"}`,
			&AgentData{AgentID: "ag-1", Role: RoleManager, Name: "Bea", TeamID: "team-1", ActiveProfileID: "p-1"}},
		{TypeDirectoryTeam,
			`{"team_id":"team-1","name":"Paris","manager_ids":["ag-1"]}`,
			&TeamData{TeamID: "team-1", Name: "Paris", ManagerIDs: []string{"ag-1"}}},
		{TypeDirectoryProfile,
			`{"profile_id":"p-1","name":"Sales","queues":["q-sales"],"flows":["voice","email"],"history_access":true}`,
			&ProfileData{ProfileID: "p-1", Name: "Sales", Queues: []string{"q-sales"}, Flows: []Flow{FlowVoice, FlowEmail}, HistoryAccess: true}},
	}
}

// rawEnvelope writes a valid envelope of type t around data (raw JSON), with customer_id
// for customer-scoped types.
func rawEnvelope(t EventType, data string) []byte {
	cust := ""
	if !t.IsDirectory() {
		cust = fmt.Sprintf(`"customer_id":%q,`, testCust)
	}
	return fmt.Appendf(nil, `{"id":%q,"type":%q,"occurred_at":%q,%s"source":"pbx-paris","data":%s}`,
		testID, t.String(), testAt, cust, data)
}

// minimalData is the smallest valid data of type t: its required fields only.
func minimalData(t EventType) obj {
	switch t {
	case TypeInteractionStarted:
		return obj{"interaction_id": "call-1", "flow": "voice", "direction": "incoming", "routing": "smart"}
	case TypeInteractionRouted:
		return obj{"interaction_id": "call-1", "routing": "smart"}
	case TypeInteractionMessage:
		return obj{"interaction_id": "call-1", "direction": "incoming"}
	case TypeInteractionEnded:
		return obj{"interaction_id": "call-1", "status": "processed"}
	case TypeInteractionLinked:
		return obj{"interaction_id": "call-1", "action": "assigned", "crm_record_id": "crm-1"}
	case TypeInteractionQualified:
		return obj{"interaction_id": "call-1", "qualifications": []string{"sale"}}
	case TypeSurveyAnswered:
		return obj{"interaction_id": "call-1", "survey_id": "nps", "answers": []obj{{"question": "score", "answer": "9"}}}
	case TypeInvoiceIssued:
		return obj{"interaction_id": "call-1", "invoice_id": "inv-1"}
	case TypeEmailOpened, TypeEmailClicked:
		return obj{"interaction_id": "mail-1"}
	case TypeOrderCreated, TypeOrderUpdated:
		return obj{"order_id": "o-1"}
	case TypeSegmentJoined, TypeSegmentLeft:
		return obj{"segment_id": "vip"}
	case TypeTaskCreated, TypeTaskUpdated, TypeTaskCompleted, TypeTaskReopened, TypeTaskDeleted:
		return obj{"task_id": "t-1"}
	case TypeNoteAdded:
		return obj{"note_id": "n-1", "text": "hello"}
	case TypeFileAttached:
		return obj{"file_id": "f-1", "name": "a.pdf"}
	case TypeVisitRecorded:
		return obj{"visit_id": "v-1"}
	case TypeCustomerUpdated:
		return obj{"changes": obj{"email": obj{"from": "a@example.com", "to": "b@example.com"}}}
	case TypeCustomerMerged:
		return obj{"from_customer_id": "cust-7"}
	case TypeCustomerErased:
		return obj{}
	case TypeDirectoryAgent:
		return obj{"agent_id": "ag-1", "role": "collaborator"}
	case TypeDirectoryTeam:
		return obj{"team_id": "team-1"}
	case TypeDirectoryProfile:
		return obj{"profile_id": "p-1"}
	}
	panic("no minimal data for " + t.String())
}

// requiredFields lists the bold fields of CONTRACT.md §2, per type.
var requiredFields = map[EventType][]string{
	TypeInteractionStarted:   {"interaction_id", "flow", "direction", "routing"},
	TypeInteractionRouted:    {"interaction_id", "routing"},
	TypeInteractionMessage:   {"interaction_id", "direction"},
	TypeInteractionEnded:     {"interaction_id", "status"},
	TypeInteractionLinked:    {"interaction_id", "action", "crm_record_id"}, // crm_record_id or case_id
	TypeInteractionQualified: {"interaction_id", "qualifications"},
	TypeSurveyAnswered:       {"interaction_id", "survey_id", "answers"},
	TypeInvoiceIssued:        {"interaction_id", "invoice_id"},
	TypeEmailOpened:          {"interaction_id"},
	TypeEmailClicked:         {"interaction_id"},
	TypeOrderCreated:         {"order_id"},
	TypeOrderUpdated:         {"order_id"},
	TypeSegmentJoined:        {"segment_id"},
	TypeSegmentLeft:          {"segment_id"},
	TypeTaskCreated:          {"task_id"},
	TypeTaskUpdated:          {"task_id"},
	TypeTaskCompleted:        {"task_id"},
	TypeTaskReopened:         {"task_id"},
	TypeTaskDeleted:          {"task_id"},
	TypeNoteAdded:            {"note_id", "text"},
	TypeFileAttached:         {"file_id", "name"},
	TypeVisitRecorded:        {"visit_id"},
	TypeCustomerUpdated:      {"changes"},
	TypeCustomerMerged:       {"from_customer_id"},
	TypeCustomerErased:       {},
	TypeDirectoryAgent:       {"agent_id", "role"},
	TypeDirectoryTeam:        {"team_id"},
	TypeDirectoryProfile:     {"profile_id"},
}

// envelope returns a valid envelope of type t (minimal data) as a map, for a test to
// change before marshalling.
func envelope(t EventType) obj {
	m := obj{"id": testID, "type": t.String(), "occurred_at": testAt, "source": "pbx-paris", "data": minimalData(t)}
	if !t.IsDirectory() {
		m["customer_id"] = testCust
	}
	return m
}

// with returns the JSON of a valid envelope of type t after change has edited it (env is
// the envelope, data its data object).
func with(t EventType, change func(env, data obj)) []byte {
	env := envelope(t)
	change(env, env["data"].(obj))
	b, err := json.Marshal(env)
	if err != nil {
		panic(err)
	}
	return b
}

// eventID returns a distinct, valid, ordered event id for n.
func eventID(n int) string { return fmt.Sprintf("00000000-0000-7000-8000-%012d", n) }

// mustEvent builds an event with NewEventFromData at testNow, failing the test on error.
func mustEvent(t testing.TB, id string, typ EventType, at time.Time, data any) Event {
	t.Helper()
	cust := testCust
	if typ.IsDirectory() {
		cust = ""
	}
	ev, err := NewEventFromData(id, typ, at, cust, "test", data, testNow)
	if err != nil {
		t.Fatalf("NewEventFromData(%s, %s): %v", id, typ, err)
	}
	return ev
}

// strs returns n distinct short strings.
func strs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("x%d", i)
	}
	return out
}
