package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// invalidCase is an envelope that must be rejected, and the field the rejection names.
type invalidCase struct {
	name   string
	raw    []byte
	stored bool // DecodeStored rather than DecodeIncoming
	field  string
	window bool // the error also matches ErrOutsideWindow
	enum   bool // the error wraps an *EnumError
}

// set returns a change to an envelope that sets key (data.<name> for the payload) to v.
func set(key string, v any) func(env, data obj) {
	return func(env, data obj) {
		if k, ok := strings.CutPrefix(key, "data."); ok {
			data[k] = v
			return
		}
		env[key] = v
	}
}

func invalidCases() []invalidCase {
	del := func(key string) func(env, data obj) {
		return func(env, data obj) {
			if k, ok := strings.CutPrefix(key, "data."); ok {
				delete(data, k)
				return
			}
			delete(env, key)
		}
	}
	long := strings.Repeat("a", MaxIDBytes+1)
	longText := strings.Repeat("a", MaxTextBytes+1)

	cases := []invalidCase{
		// Malformed JSON and wrong envelope shapes.
		{name: "empty body", raw: []byte(``), field: "envelope"},
		{name: "truncated", raw: []byte(`{"id":`), field: "envelope"},
		{name: "not json", raw: []byte(`hello`), field: "envelope"},
		{name: "trailing comma", raw: []byte(`{"type":"email.opened",}`), field: "envelope"},
		{name: "two objects", raw: append(rawEnvelope(TypeEmailOpened, `{"interaction_id":"m"}`), `{}`...), field: "envelope"},
		{name: "malformed data", raw: []byte(`{"type":"email.opened","data":{"interaction_id":}}`), field: "envelope"},
		{name: "envelope is an array", raw: []byte(`[{"type":"email.opened"}]`), field: "envelope"},
		{name: "envelope is a number", raw: []byte(`42`), field: "envelope"},
		{name: "envelope is a string", raw: []byte(`"interaction.started"`), field: "envelope"},
		{name: "envelope is null", raw: []byte(`null`), field: "type"},
		{name: "empty object", raw: []byte(`{}`), field: "type"},

		// Wrong JSON types name the field.
		{name: "id is a number", raw: with(TypeEmailOpened, set("id", 5)), field: "id"},
		{name: "type is a number", raw: with(TypeEmailOpened, set("type", 5)), field: "type"},
		{name: "type is an object", raw: with(TypeEmailOpened, set("type", obj{})), field: "type"},
		{name: "occurred_at is a number", raw: with(TypeEmailOpened, set("occurred_at", 1763716443)), field: "occurred_at"},
		{name: "customer_id is a number", raw: with(TypeEmailOpened, set("customer_id", 42)), field: "customer_id"},
		{name: "source is a bool", raw: with(TypeEmailOpened, set("source", true)), field: "source"},
		{name: "data is a string", raw: with(TypeEmailOpened, set("data", "x")), field: "data"},
		{name: "data is an array", raw: with(TypeEmailOpened, set("data", []int{1})), field: "data"},
		{name: "data is a number", raw: with(TypeEmailOpened, set("data", 1)), field: "data"},
		{name: "data.interaction_id is a number", raw: with(TypeEmailOpened, set("data.interaction_id", 7)), field: "data.interaction_id"},
		{name: "data.flow is a number", raw: with(TypeInteractionStarted, set("data.flow", 5)), field: "data.flow"},
		{name: "data.direction is an array", raw: with(TypeInteractionStarted, set("data.direction", []string{"incoming"})), field: "data.direction"},
		{name: "data.routing is a bool", raw: with(TypeInteractionStarted, set("data.routing", true)), field: "data.routing"},
		{name: "data.queue_id is a number", raw: with(TypeInteractionStarted, set("data.queue_id", 3)), field: "data.queue_id"},
		{name: "data.contact is a string", raw: with(TypeInteractionStarted, set("data.contact", "+33612345678")), field: "data.contact"},
		{name: "data.contact.phone is a number", raw: with(TypeInteractionStarted, set("data.contact", obj{"phone": 33612345678})), field: "data.contact.phone"},
		{name: "data.participants is an object", raw: with(TypeInteractionStarted, set("data.participants", obj{})), field: "data.participants"},
		{name: "data.participants role is a number", raw: with(TypeInteractionStarted, set("data.participants", []obj{{"role": 1}})), field: "data.participants.role"},
		{name: "data.sr_data is a string", raw: with(TypeInteractionRouted, set("data.sr_data", "skill=fr")), field: "data.sr_data"},
		{name: "data.sr_data is an array", raw: with(TypeInteractionRouted, set("data.sr_data", []int{1})), field: "data.sr_data"},
		{name: "data.status is a number", raw: with(TypeInteractionEnded, set("data.status", 1)), field: "data.status"},
		{name: "data.qualifications is a string", raw: with(TypeInteractionQualified, set("data.qualifications", "sale")), field: "data.qualifications"},
		{name: "data.qualifications holds a number", raw: with(TypeInteractionQualified, set("data.qualifications", []any{"sale", 2})), field: "data.qualifications"},
		{name: "data.answers is an object", raw: with(TypeSurveyAnswered, set("data.answers", obj{"q": "a"})), field: "data.answers"},
		{name: "data.amount is a bool", raw: with(TypeInvoiceIssued, set("data.amount", true)), field: "data.amount"},
		{name: "data.amount is a word", raw: with(TypeInvoiceIssued, set("data.amount", "twelve")), field: "data.amount"},
		{name: "data.amount is an object", raw: with(TypeInvoiceIssued, set("data.amount", obj{})), field: "data.amount"},
		{name: "data.amount out of float range", raw: []byte(strings.Replace(string(with(TypeInvoiceIssued, set("data.amount", 1))), `"amount":1`, `"amount":1e400`, 1)), field: "data.amount"},
		{name: "data.total is a word", raw: with(TypeOrderCreated, set("data.total", "lots")), field: "data.total"},
		{name: "data.changes is an array", raw: with(TypeOrderUpdated, set("data.changes", []int{1})), field: "data.changes"},
		{name: "data.changes entry is a number", raw: with(TypeCustomerUpdated, set("data.changes", obj{"email": 5})), field: "data.changes"},
		{name: "data.due_at is a number", raw: with(TypeTaskCreated, set("data.due_at", 5)), field: "data.due_at"},
		{name: "data.size is a string", raw: with(TypeFileAttached, set("data.size", "1kB")), field: "data.size"},
		{name: "data.size is a fraction", raw: with(TypeFileAttached, set("data.size", 1.5)), field: "data.size"},
		{name: "data.duration_s is a string", raw: with(TypeVisitRecorded, set("data.duration_s", "95")), field: "data.duration_s"},
		{name: "data.history_access is a string", raw: with(TypeDirectoryProfile, set("data.history_access", "yes")), field: "data.history_access"},
		{name: "data.flows is a string", raw: with(TypeDirectoryProfile, set("data.flows", "voice")), field: "data.flows"},
		{name: "data.queues is a string", raw: with(TypeDirectoryProfile, set("data.queues", "q-sales")), field: "data.queues"},
		{name: "data.manager_ids is a number", raw: with(TypeDirectoryTeam, set("data.manager_ids", 1)), field: "data.manager_ids"},

		// type
		{name: "type missing", raw: with(TypeEmailOpened, del("type")), field: "type"},
		{name: "type empty", raw: with(TypeEmailOpened, set("type", "")), field: "type"},
		{name: "type unknown", raw: with(TypeEmailOpened, set("type", "interaction.paused")), field: "type", enum: true},
		{name: "type wrong case", raw: with(TypeEmailOpened, set("type", "Email.Opened")), field: "type", enum: true},
		{name: "type with space", raw: with(TypeEmailOpened, set("type", " email.opened")), field: "type", enum: true},

		// id
		{name: "id not a uuid", raw: with(TypeEmailOpened, set("id", "evt-1")), field: "id"},
		{name: "id uuid with bad hex", raw: with(TypeEmailOpened, set("id", "0193a5b2-7c1e-7f00-9a4b-3c2d1e0f5a6z")), field: "id"},
		{name: "id too long", raw: with(TypeEmailOpened, set("id", testID+"0")), field: "id"},
		{name: "stored id missing", raw: with(TypeEmailOpened, del("id")), stored: true, field: "id"},
		{name: "stored id empty", raw: with(TypeEmailOpened, set("id", "")), stored: true, field: "id"},
		{name: "stored id null", raw: with(TypeEmailOpened, set("id", nil)), stored: true, field: "id"},
		{name: "stored id not a uuid", raw: with(TypeEmailOpened, set("id", "evt-1")), stored: true, field: "id"},

		// occurred_at
		{name: "occurred_at missing", raw: with(TypeEmailOpened, del("occurred_at")), field: "occurred_at"},
		{name: "occurred_at empty", raw: with(TypeEmailOpened, set("occurred_at", "")), field: "occurred_at"},
		{name: "occurred_at without offset", raw: with(TypeEmailOpened, set("occurred_at", "2026-11-21T09:14:03")), field: "occurred_at"},
		{name: "occurred_at with a space", raw: with(TypeEmailOpened, set("occurred_at", "2026-11-21 09:14:03Z")), field: "occurred_at"},
		{name: "occurred_at a date", raw: with(TypeEmailOpened, set("occurred_at", "2026-11-21")), field: "occurred_at"},
		{name: "occurred_at european", raw: with(TypeEmailOpened, set("occurred_at", "21/11/2026 09:14")), field: "occurred_at"},
		{name: "occurred_at unix seconds as text", raw: with(TypeEmailOpened, set("occurred_at", "1763716443")), field: "occurred_at"},
		{name: "occurred_at one-digit hour", raw: with(TypeEmailOpened, set("occurred_at", "2026-11-21T9:14:03Z")), field: "occurred_at"},
		{name: "occurred_at lower-case t and z", raw: with(TypeEmailOpened, set("occurred_at", "2026-11-21t09:14:03z")), field: "occurred_at"},
		{name: "occurred_at comma fraction", raw: with(TypeEmailOpened, set("occurred_at", "2026-11-21T09:14:03,5Z")), field: "occurred_at"},
		{name: "occurred_at empty fraction", raw: with(TypeEmailOpened, set("occurred_at", "2026-11-21T09:14:03.Z")), field: "occurred_at"},
		{name: "occurred_at offset of 24 hours", raw: with(TypeEmailOpened, set("occurred_at", "2026-11-21T09:14:03+24:00")), field: "occurred_at"},
		{name: "occurred_at offset of 60 minutes", raw: with(TypeEmailOpened, set("occurred_at", "2026-11-21T09:14:03+01:60")), field: "occurred_at"},
		{name: "occurred_at offset without colon", raw: with(TypeEmailOpened, set("occurred_at", "2026-11-21T09:14:03+0100")), field: "occurred_at"},
		{name: "occurred_at leap second", raw: with(TypeEmailOpened, set("occurred_at", "2026-11-21T09:14:60Z")), field: "occurred_at"},
		{name: "occurred_at 31 November", raw: with(TypeEmailOpened, set("occurred_at", "2026-11-31T09:14:03Z")), field: "occurred_at"},
		{name: "occurred_at hour 24", raw: with(TypeEmailOpened, set("occurred_at", "2026-11-21T24:00:00Z")), field: "occurred_at"},
		{name: "occurred_at one second before the window", raw: with(TypeEmailOpened, set("occurred_at", "2026-08-21T11:59:59Z")), field: "occurred_at", window: true},
		{name: "occurred_at a year ago", raw: with(TypeEmailOpened, set("occurred_at", "2025-11-21T12:00:00Z")), field: "occurred_at", window: true},
		{name: "occurred_at 5 min 1 s ahead", raw: with(TypeEmailOpened, set("occurred_at", "2026-11-21T12:05:01Z")), field: "occurred_at", window: true},
		{name: "occurred_at 5 min 1 s ahead with offset", raw: with(TypeEmailOpened, set("occurred_at", "2026-11-21T13:05:01+01:00")), field: "occurred_at", window: true},
		{name: "occurred_at next year", raw: with(TypeEmailOpened, set("occurred_at", "2027-11-21T12:00:00Z")), field: "occurred_at", window: true},
		{name: "stored occurred_at outside window of publishedAt", raw: with(TypeEmailOpened, set("occurred_at", "2026-08-01T00:00:00Z")), stored: true, field: "occurred_at", window: true},

		// customer_id
		{name: "customer_id missing", raw: with(TypeInteractionStarted, del("customer_id")), field: "customer_id"},
		{name: "customer_id empty", raw: with(TypeNoteAdded, set("customer_id", "")), field: "customer_id"},
		{name: "customer_id null", raw: with(TypeCustomerErased, set("customer_id", nil)), field: "customer_id"},
		{name: "customer_id too long", raw: with(TypeTaskCreated, set("customer_id", long)), field: "customer_id"},
		{name: "customer_id with NUL", raw: with(TypeTaskCreated, set("customer_id", "cust\x0042")), field: "customer_id"},
		{name: "customer_id with newline", raw: with(TypeTaskCreated, set("customer_id", "cust\n42")), field: "customer_id"},
		{name: "customer_id with DEL", raw: with(TypeTaskCreated, set("customer_id", "cust\x7f")), field: "customer_id"},
		{name: "customer_id with C1 control", raw: with(TypeTaskCreated, set("customer_id", "cust\u0085")), field: "customer_id"},
		{name: "customer_id on directory.agent", raw: with(TypeDirectoryAgent, set("customer_id", testCust)), field: "customer_id"},
		{name: "customer_id on directory.team", raw: with(TypeDirectoryTeam, set("customer_id", testCust)), field: "customer_id"},
		{name: "customer_id on directory.profile", raw: with(TypeDirectoryProfile, set("customer_id", testCust)), field: "customer_id"},

		// source and text limits
		{name: "source too long", raw: with(TypeEmailOpened, set("source", longText)), field: "source"},
		{name: "data.reason too long", raw: with(TypeInteractionEnded, set("data.reason", longText)), field: "data.reason"},
		{name: "data.voice_campaign too long", raw: with(TypeInteractionStarted, set("data.voice_campaign", longText)), field: "data.voice_campaign"},
		{name: "data.template too long", raw: with(TypeInteractionStarted, set("data.template", longText)), field: "data.template"},
		{name: "data.participants name too long", raw: with(TypeInteractionStarted, set("data.participants", []obj{{"role": "agent", "name": longText}})), field: "data.participants[0].name"},
		{name: "data.participants role missing", raw: with(TypeInteractionStarted, set("data.participants", []obj{{"role": "agent"}, {"id": "x"}})), field: "data.participants[1].role"},
		{name: "data.participants id with control", raw: with(TypeInteractionStarted, set("data.participants", []obj{{"role": "agent", "id": "a\tb"}})), field: "data.participants[0].id"},
		{name: "data.contact.phone too long", raw: with(TypeInteractionStarted, set("data.contact", obj{"phone": strings.Repeat("1", 65)})), field: "data.contact.phone"},
		{name: "data.contact.email without @", raw: with(TypeInteractionStarted, set("data.contact", obj{"email": "ann.example.com"})), field: "data.contact.email"},
		{name: "data.contact.email too long", raw: with(TypeInteractionStarted, set("data.contact", obj{"email": strings.Repeat("a", 250) + "@b.fr"})), field: "data.contact.email"},
		{name: "data.qualifications item too long", raw: with(TypeInteractionQualified, set("data.qualifications", []string{"ok", longText})), field: "data.qualifications[1]"},
		{name: "data.answers answer too long", raw: with(TypeSurveyAnswered, set("data.answers", []obj{{"question": "q", "answer": longText}})), field: "data.answers[0].answer"},
		{name: "data.answers question blank", raw: with(TypeSurveyAnswered, set("data.answers", []obj{{"question": " ", "answer": "a"}})), field: "data.answers[0].question"},
		{name: "data.status of invoice too long", raw: with(TypeInvoiceIssued, set("data.status", longText)), field: "data.status"},
		{name: "data.name of segment too long", raw: with(TypeSegmentJoined, set("data.name", longText)), field: "data.name"},
		{name: "data.title too long", raw: with(TypeTaskUpdated, set("data.title", longText)), field: "data.title"},
		{name: "data.due_at one-digit hour", raw: with(TypeTaskCreated, set("data.due_at", "2026-12-01T9:00:00Z")), field: "data.due_at"},
		{name: "data.due_at not RFC 3339", raw: with(TypeTaskCreated, set("data.due_at", "tomorrow")), field: "data.due_at"},
		{name: "data.name of file blank", raw: with(TypeFileAttached, set("data.name", "   ")), field: "data.name"},
		{name: "data.url too long", raw: with(TypeFileAttached, set("data.url", "https://x/"+strings.Repeat("a", 2048))), field: "data.url"},
		{name: "data.pages item too long", raw: with(TypeVisitRecorded, set("data.pages", []string{strings.Repeat("p", 2049)})), field: "data.pages[0]"},
		{name: "data.name of agent too long", raw: with(TypeDirectoryAgent, set("data.name", longText)), field: "data.name"},
		{name: "note text over limit", raw: with(TypeNoteAdded, set("data.text", strings.Repeat("n", MaxNoteBytes+1))), field: "data.text"},
		{name: "note text blank", raw: with(TypeNoteAdded, set("data.text", " \n\t")), field: "data.text"},

		// identifiers inside data
		{name: "data.interaction_id too long", raw: with(TypeInteractionMessage, set("data.interaction_id", long)), field: "data.interaction_id"},
		{name: "data.interaction_id with NUL", raw: with(TypeInteractionMessage, set("data.interaction_id", "a\x00b")), field: "data.interaction_id"},
		{name: "data.agent_id with control", raw: with(TypeInteractionRouted, set("data.agent_id", "ag\x01")), field: "data.agent_id"},
		{name: "data.message_id too long", raw: with(TypeInteractionMessage, set("data.message_id", long)), field: "data.message_id"},
		{name: "data.case_id too long", raw: with(TypeInteractionLinked, set("data.case_id", long)), field: "data.case_id"},
		{name: "data.assignee_id with control", raw: with(TypeTaskCreated, set("data.assignee_id", "ag\x1b")), field: "data.assignee_id"},
		{name: "data.author_id too long", raw: with(TypeNoteAdded, set("data.author_id", long)), field: "data.author_id"},
		{name: "data.team_id too long", raw: with(TypeDirectoryAgent, set("data.team_id", long)), field: "data.team_id"},
		{name: "data.active_profile_id with control", raw: with(TypeDirectoryAgent, set("data.active_profile_id", "p\r")), field: "data.active_profile_id"},
		{name: "data.manager_ids item empty", raw: with(TypeDirectoryTeam, set("data.manager_ids", []string{"ag-1", ""})), field: "data.manager_ids[1]"},
		{name: "data.manager_ids item with control", raw: with(TypeDirectoryTeam, set("data.manager_ids", []string{"ag\x00"})), field: "data.manager_ids[0]"},
		{name: "data.queues item too long", raw: with(TypeDirectoryProfile, set("data.queues", []string{"q", long})), field: "data.queues[1]"},
		{name: "data.changes key empty", raw: with(TypeCustomerUpdated, set("data.changes", obj{"": obj{"from": 1, "to": 2}})), field: "data.changes key"},
		{name: "data.changes key with control", raw: with(TypeOrderUpdated, set("data.changes", obj{"st\x00atus": obj{"from": 1, "to": 2}})), field: "data.changes key"},

		// enums
		{name: "data.flow unknown", raw: with(TypeInteractionStarted, set("data.flow", "fax")), field: "data.flow", enum: true},
		{name: "data.flow wrong case", raw: with(TypeInteractionStarted, set("data.flow", "Voice")), field: "data.flow", enum: true},
		{name: "data.direction unknown", raw: with(TypeInteractionStarted, set("data.direction", "sideways")), field: "data.direction", enum: true},
		{name: "data.routing unknown", raw: with(TypeInteractionStarted, set("data.routing", "random")), field: "data.routing", enum: true},
		{name: "routed data.routing unknown", raw: with(TypeInteractionRouted, set("data.routing", "queue")), field: "data.routing", enum: true},
		{name: "message data.direction unknown", raw: with(TypeInteractionMessage, set("data.direction", "inbound")), field: "data.direction", enum: true},
		{name: "data.status unknown", raw: with(TypeInteractionEnded, set("data.status", "lost")), field: "data.status", enum: true},
		{name: "data.action unknown", raw: with(TypeInteractionLinked, set("data.action", "linked")), field: "data.action", enum: true},
		{name: "data.role unknown", raw: with(TypeDirectoryAgent, set("data.role", "intern")), field: "data.role", enum: true},
		{name: "data.flows[1] unknown", raw: with(TypeDirectoryProfile, set("data.flows", []string{"voice", "fax"})), field: "data.flows[1]", enum: true},
		{name: "data.flows[0] empty", raw: with(TypeDirectoryProfile, set("data.flows", []string{""})), field: "data.flows[0]", enum: true},

		// rules between fields
		{name: "dissuaded without reason", raw: with(TypeInteractionEnded, set("data.status", "dissuaded")), field: "data.reason"},
		{name: "dissuaded with blank reason", raw: with(TypeInteractionEnded, func(_, d obj) { d["status"], d["reason"] = "dissuaded", "  " }), field: "data.reason"},
		{name: "linked without crm_record_id or case_id", raw: with(TypeInteractionLinked, del("data.crm_record_id")), field: "data.crm_record_id"},
		{name: "unlinked with empty ids", raw: with(TypeInteractionLinked, func(_, d obj) { d["action"], d["crm_record_id"], d["case_id"] = "unassigned", "", "" }), field: "data.crm_record_id"},
		{name: "empty qualifications", raw: with(TypeInteractionQualified, set("data.qualifications", []string{})), field: "data.qualifications"},
		{name: "null qualifications", raw: with(TypeInteractionQualified, set("data.qualifications", nil)), field: "data.qualifications"},
		{name: "empty answers", raw: with(TypeSurveyAnswered, set("data.answers", []obj{})), field: "data.answers"},
		{name: "invoice currency lower case", raw: with(TypeInvoiceIssued, set("data.currency", "eur")), field: "data.currency"},
		{name: "invoice currency too long", raw: with(TypeInvoiceIssued, set("data.currency", "EURO")), field: "data.currency"},
		{name: "invoice currency symbol", raw: with(TypeInvoiceIssued, set("data.currency", "€")), field: "data.currency"},
		{name: "order currency two letters", raw: with(TypeOrderCreated, set("data.currency", "EU")), field: "data.currency"},
		{name: "negative size", raw: with(TypeFileAttached, set("data.size", -1)), field: "data.size"},
		{name: "negative duration", raw: with(TypeVisitRecorded, set("data.duration_s", -5)), field: "data.duration_s"},
		{name: "pages negative count", raw: with(TypeVisitRecorded, set("data.pages", -1)), field: "data.pages"},
		{name: "pages fractional count", raw: with(TypeVisitRecorded, set("data.pages", 2.5)), field: "data.pages"},
		{name: "pages a string", raw: with(TypeVisitRecorded, set("data.pages", "lots")), field: "data.pages"},
		{name: "pages an object", raw: with(TypeVisitRecorded, set("data.pages", obj{"/": 1})), field: "data.pages"},
		{name: "pages a list of numbers", raw: with(TypeVisitRecorded, set("data.pages", []int{1, 2})), field: "data.pages"},
		{name: "pages a bool", raw: with(TypeVisitRecorded, set("data.pages", true)), field: "data.pages"},
		{name: "customer merged into itself", raw: with(TypeCustomerMerged, set("data.from_customer_id", testCust)), field: "data.from_customer_id"},
		{name: "customer.updated without changes", raw: with(TypeCustomerUpdated, set("data.changes", obj{})), field: "data.changes"},

		// sizes and list lengths
		{name: "envelope over 64 KiB", raw: with(TypeEmailOpened, set("data.padding", strings.Repeat("x", MaxEnvelopeBytes))), field: "envelope"},
		{name: "stored envelope over its limit", raw: with(TypeEmailOpened, set("data.padding", strings.Repeat("x", MaxStoredEnvelopeBytes))), stored: true, field: "envelope"},
		{name: "qualifications over 200", raw: with(TypeInteractionQualified, set("data.qualifications", strs(MaxListItems+1))), field: "data.qualifications"},
		{name: "participants over 200", raw: with(TypeInteractionStarted, set("data.participants", participants(MaxListItems+1))), field: "data.participants"},
		{name: "answers over 200", raw: with(TypeSurveyAnswered, set("data.answers", answers(MaxListItems+1))), field: "data.answers"},
		{name: "pages over 200", raw: with(TypeVisitRecorded, set("data.pages", strs(MaxListItems+1))), field: "data.pages"},
		{name: "queues over 200", raw: with(TypeDirectoryProfile, set("data.queues", strs(MaxListItems+1))), field: "data.queues"},
		{name: "manager_ids over 200", raw: with(TypeDirectoryTeam, set("data.manager_ids", strs(MaxListItems+1))), field: "data.manager_ids"},
		{name: "flows over 200", raw: with(TypeDirectoryProfile, set("data.flows", repeat("voice", MaxListItems+1))), field: "data.flows"},
		{name: "changes over 200", raw: with(TypeCustomerUpdated, set("data.changes", changes(MaxListItems+1))), field: "data.changes"},
	}

	// Every required data field of every catalog type, absent, then empty.
	for _, t := range EventTypes() {
		for _, f := range requiredFields[t] {
			cases = append(cases,
				invalidCase{name: t.String() + " without " + f, raw: with(t, del("data."+f)), field: "data." + f},
				invalidCase{name: t.String() + " with null " + f, raw: with(t, set("data."+f, nil)), field: "data." + f})
			if f != "qualifications" && f != "answers" && f != "changes" {
				cases = append(cases, invalidCase{name: t.String() + " with empty " + f, raw: with(t, set("data."+f, "")), field: "data." + f})
			}
		}
		if len(requiredFields[t]) > 0 {
			cases = append(cases,
				invalidCase{name: t.String() + " without data", raw: with(t, del("data")), field: "data." + requiredFields[t][0]},
				invalidCase{name: t.String() + " with null data", raw: with(t, set("data", nil)), field: "data." + requiredFields[t][0]})
		}
	}
	return cases
}

func participants(n int) []obj {
	out := make([]obj, n)
	for i := range out {
		out[i] = obj{"role": "agent"}
	}
	return out
}

func answers(n int) []obj {
	out := make([]obj, n)
	for i := range out {
		out[i] = obj{"question": "q", "answer": "a"}
	}
	return out
}

func changes(n int) obj {
	out := obj{}
	for _, k := range strs(n) {
		out[k] = obj{"from": 1, "to": 2}
	}
	return out
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestDecodeRejects(t *testing.T) {
	for _, tc := range invalidCases() {
		t.Run(tc.name, func(t *testing.T) {
			decode, how := DecodeIncoming, "DecodeIncoming"
			if tc.stored {
				decode, how = DecodeStored, "DecodeStored"
			}
			ev, err := decode(tc.raw, testNow)
			if err == nil {
				t.Fatalf("%s accepted %.200s as %+v", how, tc.raw, ev)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %T %v, want a *ValidationError", err, err)
			}
			if ve.Field != tc.field {
				t.Errorf("Field = %q, want %q (err: %v)", ve.Field, tc.field, err)
			}
			if ve.Problem == "" {
				t.Errorf("Problem is empty")
			}
			if !strings.HasPrefix(err.Error(), tc.field+": ") {
				t.Errorf("message %q does not start with the field %q", err, tc.field)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false")
			}
			if got := errors.Is(err, ErrOutsideWindow); got != tc.window {
				t.Errorf("errors.Is(err, ErrOutsideWindow) = %v, want %v", got, tc.window)
			}
			var ee *EnumError
			if got := errors.As(err, &ee); got != tc.enum {
				t.Errorf("errors.As(err, *EnumError) = %v, want %v", got, tc.enum)
			}
			if !reflect.DeepEqual(ev, Event{}) {
				t.Errorf("rejected envelope returned a non-zero event %+v", ev)
			}
		})
	}
}

// TestDecodeAccepts covers the edges that must still be accepted.
// acceptCase is an envelope at an edge that must still be accepted, and what to check of
// the event it decodes to.
type acceptCase struct {
	name   string
	raw    []byte
	stored bool
	check  func(t *testing.T, ev Event)
}

func acceptCases() []acceptCase {
	// An envelope of exactly n bytes, padded through an unknown data field.
	sized := func(n int) []byte {
		b := with(TypeEmailOpened, set("data.padding", ""))
		return with(TypeEmailOpened, set("data.padding", strings.Repeat("x", n-len(b))))
	}
	return []acceptCase{
		{name: "id missing (incoming)", raw: with(TypeEmailOpened, func(env, _ obj) { delete(env, "id") }),
			check: func(t *testing.T, ev Event) { wantEq(t, "ID", ev.ID, "") }},
		{name: "id empty (incoming)", raw: with(TypeEmailOpened, set("id", "")),
			check: func(t *testing.T, ev Event) { wantEq(t, "ID", ev.ID, "") }},
		{name: "id null (incoming)", raw: with(TypeEmailOpened, set("id", nil)),
			check: func(t *testing.T, ev Event) { wantEq(t, "ID", ev.ID, "") }},
		{name: "id upper case is canonicalised", raw: with(TypeEmailOpened, set("id", strings.ToUpper(testID))),
			check: func(t *testing.T, ev Event) { wantEq(t, "ID", ev.ID, testID) }},
		{name: "id in braces is canonicalised", raw: with(TypeEmailOpened, set("id", "{"+testID+"}")),
			check: func(t *testing.T, ev Event) { wantEq(t, "ID", ev.ID, testID) }},
		{name: "id as urn is canonicalised", raw: with(TypeEmailOpened, set("id", "urn:uuid:"+testID)), stored: true,
			check: func(t *testing.T, ev Event) { wantEq(t, "ID", ev.ID, testID) }},
		{name: "occurred_at at the retention start", raw: with(TypeEmailOpened, set("occurred_at", "2026-08-21T12:00:00Z")),
			check: func(t *testing.T, ev Event) {
				wantEq(t, "OccurredAt", ev.OccurredAt, time.Date(2026, 8, 21, 12, 0, 0, 0, time.UTC))
			}},
		{name: "occurred_at with nanoseconds and a negative offset", raw: with(TypeEmailOpened, set("occurred_at", "2026-11-21T00:14:03.123456789-09:30")),
			check: func(t *testing.T, ev Event) {
				wantEq(t, "OccurredAt", ev.OccurredAt, time.Date(2026, 11, 21, 9, 44, 3, 123456789, time.UTC))
			}},
		{name: "occurred_at exactly 5 minutes ahead", raw: with(TypeEmailOpened, set("occurred_at", "2026-11-21T12:05:00Z"))},
		{name: "occurred_at with offset is kept in UTC", raw: with(TypeEmailOpened, set("occurred_at", "2026-11-21T10:14:03.25+01:00")),
			check: func(t *testing.T, ev Event) {
				wantEq(t, "OccurredAt", ev.OccurredAt, time.Date(2026, 11, 21, 9, 14, 3, 250e6, time.UTC))
				wantEq(t, "Location", ev.OccurredAt.Location(), time.UTC)
			}},
		{name: "stored: old occurred_at judged against publishedAt", raw: with(TypeEmailOpened, set("occurred_at", "2026-08-01T00:00:00Z")),
			stored: true}, // published 2026-08-01 in the loop below
		{name: "customer_id of 200 bytes", raw: with(TypeEmailOpened, set("customer_id", strings.Repeat("c", MaxIDBytes)))},
		{name: "customer_id with unicode", raw: with(TypeEmailOpened, set("customer_id", "mailto:zoë@example.com"))},
		{name: "directory with empty customer_id", raw: with(TypeDirectoryTeam, set("customer_id", ""))},
		{name: "directory with null customer_id", raw: with(TypeDirectoryTeam, set("customer_id", nil))},
		{name: "source absent", raw: with(TypeEmailOpened, func(env, _ obj) { delete(env, "source") }),
			check: func(t *testing.T, ev Event) { wantEq(t, "Source", ev.Source, "") }},
		{name: "customer.erased without data", raw: with(TypeCustomerErased, func(env, _ obj) { delete(env, "data") }),
			check: func(t *testing.T, ev Event) { wantEq(t, "Data", string(ev.Data), "{}") }},
		{name: "customer.erased with null data", raw: with(TypeCustomerErased, set("data", nil)),
			check: func(t *testing.T, ev Event) { wantEq(t, "Data", string(ev.Data), "{}") }},
		{name: "envelope of exactly 64 KiB", raw: sized(MaxEnvelopeBytes)},
		{name: "stored envelope at its limit", raw: sized(MaxStoredEnvelopeBytes), stored: true},
		{name: "note text at its limit", raw: with(TypeNoteAdded, set("data.text", strings.Repeat("n", MaxNoteBytes)))},
		{name: "200 qualifications", raw: with(TypeInteractionQualified, set("data.qualifications", strs(MaxListItems)))},
		{name: "200 pages", raw: with(TypeVisitRecorded, set("data.pages", strs(MaxListItems))),
			check: func(t *testing.T, ev Event) { wantEq(t, "PageCount", ev.Payload.(*VisitData).PageCount, MaxListItems) }},
		{name: "pages as a count", raw: with(TypeVisitRecorded, set("data.pages", 7)),
			check: func(t *testing.T, ev Event) {
				wantEq(t, "Payload", ev.Payload, Payload(&VisitData{VisitID: "v-1", PageCount: 7}))
			}},
		{name: "pages null", raw: with(TypeVisitRecorded, set("data.pages", nil)),
			check: func(t *testing.T, ev Event) { wantEq(t, "Payload", ev.Payload, Payload(&VisitData{VisitID: "v-1"})) }},
		{name: "dissuaded with reason", raw: with(TypeInteractionEnded, func(_, d obj) { d["status"], d["reason"] = "dissuaded", "closed" })},
		{name: "linked with case_id only", raw: with(TypeInteractionLinked, func(_, d obj) { delete(d, "crm_record_id"); d["case_id"] = "case-1" })},
		{name: "unassigned", raw: with(TypeInteractionLinked, set("data.action", "unassigned")),
			check: func(t *testing.T, ev Event) { wantEq(t, "Action", ev.Payload.(*LinkedData).Action, LinkUnassigned) }},
		{name: "amount as a string number", raw: with(TypeInvoiceIssued, set("data.amount", "-3.20")),
			check: func(t *testing.T, ev Event) {
				wantEq(t, "Amount", ev.Payload.(*InvoiceData).Amount, json.Number("-3.20"))
			}},
		{name: "amount null", raw: with(TypeInvoiceIssued, set("data.amount", nil)),
			check: func(t *testing.T, ev Event) { wantEq(t, "Amount", ev.Payload.(*InvoiceData).Amount, json.Number("")) }},
		{name: "size zero", raw: with(TypeFileAttached, set("data.size", 0))},
		{name: "every flow in a profile", raw: with(TypeDirectoryProfile, set("data.flows", []string{"voice", "email", "sms", "whatsapp", "whatsapp_campaign", "telegram", "chat", "messenger"})),
			check: func(t *testing.T, ev Event) { wantEq(t, "Flows", ev.Payload.(*ProfileData).Flows, Flows()) }},
		{name: "unknown envelope fields are ignored", raw: with(TypeEmailOpened, set("x_trace", "abc"))},
		{name: "empty changes on order", raw: with(TypeOrderUpdated, set("data.changes", obj{}))},
	}
}

func TestDecodeAccepts(t *testing.T) {
	for _, tc := range acceptCases() {
		t.Run(tc.name, func(t *testing.T) {
			var (
				ev  Event
				err error
			)
			if tc.stored {
				published := testNow
				if strings.Contains(tc.name, "publishedAt") {
					published = time.Date(2026, 8, 1, 0, 1, 0, 0, time.UTC)
				}
				ev, err = DecodeStored(tc.raw, published)
			} else {
				ev, err = DecodeIncoming(tc.raw, testNow)
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if ev.Payload == nil {
				t.Fatalf("Payload is nil")
			}
			if tc.check != nil {
				tc.check(t, ev)
			}
		})
	}
}

func wantEq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// TestDecodeEveryType decodes a valid envelope of each of the 27 catalog types and checks
// the whole event, Payload included.
func TestDecodeEveryType(t *testing.T) {
	seen := map[EventType]bool{}
	for _, tc := range validCases() {
		seen[tc.typ] = true
		t.Run(tc.typ.String(), func(t *testing.T) {
			raw := rawEnvelope(tc.typ, tc.data)
			for _, how := range []string{"DecodeIncoming", "DecodeStored"} {
				decode := DecodeIncoming
				if how == "DecodeStored" {
					decode = DecodeStored
				}
				ev, err := decode(raw, testNow)
				if err != nil {
					t.Fatalf("%s: %v", how, err)
				}
				wantCust := testCust
				if tc.typ.IsDirectory() {
					wantCust = ""
				}
				want := Event{ID: testID, Type: tc.typ, OccurredAt: time.Date(2026, 11, 21, 9, 14, 3, 0, time.UTC),
					CustomerID: wantCust, Source: "pbx-paris", Data: json.RawMessage(tc.data), Payload: tc.want}
				if !reflect.DeepEqual(ev, want) {
					t.Errorf("%s:\n got %#v\nwant %#v", how, ev, want)
				}
				if reflect.TypeOf(ev.Payload) != reflect.TypeOf(tc.want) {
					t.Errorf("%s: Payload is %T, want %T", how, ev.Payload, tc.want)
				}
				_, isRef := ev.Payload.(InteractionRef)
				if isRef != tc.typ.IsInteraction() {
					t.Errorf("Payload implements InteractionRef = %v, type IsInteraction = %v", isRef, tc.typ.IsInteraction())
				}
				if isRef && ev.Payload.(InteractionRef).InteractionKey() == "" {
					t.Errorf("InteractionKey is empty")
				}
			}
		})
	}
	if len(seen) != 28 || len(EventTypes()) != 28 {
		t.Fatalf("covered %d types, catalog has %d, want 28 of 28", len(seen), len(EventTypes()))
	}
	for _, et := range EventTypes() {
		if !seen[et] {
			t.Errorf("no valid case for %s", et)
		}
	}
}

// TestDecodeMinimal checks that the required fields alone are enough for every type.
func TestDecodeMinimal(t *testing.T) {
	for _, et := range EventTypes() {
		t.Run(et.String(), func(t *testing.T) {
			if _, err := DecodeIncoming(with(et, func(_, _ obj) {}), testNow); err != nil {
				t.Fatalf("minimal %s rejected: %v", et, err)
			}
		})
	}
}

func TestEventTypes(t *testing.T) {
	directory, interaction, task := 0, 0, 0
	seen := map[string]bool{}
	for _, et := range EventTypes() {
		if seen[et.String()] {
			t.Errorf("%s listed twice", et)
		}
		seen[et.String()] = true
		got, err := ParseEventType(et.String())
		if err != nil || got != et {
			t.Errorf("ParseEventType(%q) = %v, %v", et, got, err)
		}
		b, _ := et.MarshalText()
		if string(b) != et.String() {
			t.Errorf("MarshalText = %q, want %q", b, et)
		}
		if et.IsDirectory() {
			directory++
		}
		if et.IsInteraction() {
			interaction++
		}
		if et.IsTask() {
			task++
		}
	}
	if directory != 3 || interaction != 10 || task != 5 {
		t.Errorf("directory, interaction, task = %d, %d, %d; want 3, 10, 5", directory, interaction, task)
	}
	_, err := ParseEventType("order.cancelled")
	var ee *EnumError
	if !errors.As(err, &ee) || ee.Kind != "event type" || ee.Value != "order.cancelled" || len(ee.Allowed) != 28 {
		t.Errorf("ParseEventType(order.cancelled) = %v", err)
	}
}

func TestParseEnums(t *testing.T) {
	tests := []struct {
		kind  string
		parse func(string) (string, error)
		valid []string
	}{
		{"flow", func(s string) (string, error) { v, err := ParseFlow(s); return v.String(), err },
			[]string{"voice", "email", "sms", "whatsapp", "whatsapp_campaign", "telegram", "chat", "messenger"}},
		{"direction", func(s string) (string, error) { v, err := ParseDirection(s); return v.String(), err },
			[]string{"incoming", "outgoing"}},
		{"routing", func(s string) (string, error) { v, err := ParseRouting(s); return v.String(), err },
			[]string{"smart", "direct"}},
		{"status", func(s string) (string, error) { v, err := ParseStatus(s); return v.String(), err },
			[]string{"processed", "delivered", "warning", "aborted", "dissuaded"}},
		{"role", func(s string) (string, error) { v, err := ParseRole(s); return v.String(), err },
			[]string{"collaborator", "manager", "administrator"}},
		{"action", func(s string) (string, error) { v, err := ParseLinkAction(s); return v.String(), err },
			[]string{"assigned", "unassigned"}},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			for _, s := range tc.valid {
				if got, err := tc.parse(s); err != nil || got != s {
					t.Errorf("parse(%q) = %q, %v", s, got, err)
				}
			}
			for _, bad := range []string{"", "bogus", strings.ToUpper(tc.valid[0]), tc.valid[0] + " "} {
				_, err := tc.parse(bad)
				var ee *EnumError
				if !errors.As(err, &ee) {
					t.Fatalf("parse(%q) err = %v, want *EnumError", bad, err)
				}
				if ee.Kind != tc.kind || ee.Value != bad || len(ee.Allowed) != len(tc.valid) {
					t.Errorf("parse(%q) = %+v", bad, ee)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) {
					t.Errorf("message %q does not name the value %q", err, bad)
				}
			}
		})
	}
}

func TestEnumText(t *testing.T) {
	for _, f := range Flows() {
		b, err := f.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Flow
		if err := back.UnmarshalText(b); err != nil || back != f {
			t.Errorf("Flow %v round trip = %v, %v", f, back, err)
		}
	}
	var f Flow
	if err := f.UnmarshalText([]byte("fax")); err == nil {
		t.Errorf("Flow.UnmarshalText(fax) accepted")
	}
	f = FlowVoice
	if err := f.UnmarshalText(nil); err != nil || !f.IsZero() {
		t.Errorf("Flow.UnmarshalText(empty) = %v, %v; want the zero value", f, err)
	}
	type row struct {
		Flow      Flow      `json:"flow"`
		Direction Direction `json:"direction"`
		Routing   Routing   `json:"routing"`
		Status    Status    `json:"status"`
		Role      Role      `json:"role"`
		Task      TaskState `json:"task"`
	}
	in := row{FlowWhatsAppCampaign, DirectionOutgoing, RoutingDirect, StatusDissuaded, RoleAdministrator, TaskCompleted}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"flow":"whatsapp_campaign","direction":"outgoing","routing":"direct","status":"dissuaded","role":"administrator","task":"completed"}`
	if string(b) != wantJSON {
		t.Errorf("json = %s, want %s", b, wantJSON)
	}
	var out row
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Errorf("round trip = %+v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"status":"lost"}`), &out); err == nil {
		t.Errorf("unmarshal of an unknown status accepted")
	}
	for _, fl := range Flows() {
		want := fl != FlowVoice && fl != FlowEmail && fl != FlowSMS
		if fl.IsMessaging() != want {
			t.Errorf("%v.IsMessaging() = %v, want %v", fl, fl.IsMessaging(), want)
		}
	}
}

func TestCheckWindow(t *testing.T) {
	tests := []struct {
		name       string
		at, now    time.Time
		wantWindow bool
	}{
		{"now", testNow, testNow, false},
		{"retention start", time.Date(2026, 8, 21, 12, 0, 0, 0, time.UTC), testNow, false},
		{"1 ns before retention start", time.Date(2026, 8, 21, 11, 59, 59, 999999999, time.UTC), testNow, true},
		{"5 minutes ahead", testNow.Add(FutureTolerance), testNow, false},
		{"5 minutes and 1 ns ahead", testNow.Add(FutureTolerance + 1), testNow, true},
		{"month end: 28 Feb is within 3 months of 31 May", time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC), time.Date(2026, 5, 31, 12, 0, 0, 0, time.UTC), false},
		{"month end: 27 Feb is not", time.Date(2026, 2, 27, 12, 0, 0, 0, time.UTC), time.Date(2026, 5, 31, 12, 0, 0, 0, time.UTC), true},
		{"across the year", time.Date(2025, 11, 13, 23, 59, 0, 0, time.UTC), time.Date(2026, 2, 14, 0, 0, 0, 0, time.UTC), true},
		{"across the year, inside", time.Date(2025, 11, 15, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 15, 0, 0, 0, 0, time.UTC), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckWindow(tc.at, tc.now)
			if got := errors.Is(err, ErrOutsideWindow); got != tc.wantWindow {
				t.Fatalf("CheckWindow = %v, want outside %v", err, tc.wantWindow)
			}
			if err != nil {
				var ve *ValidationError
				if !errors.As(err, &ve) || ve.Field != "occurred_at" || !errors.Is(err, ErrInvalid) {
					t.Errorf("err = %#v", err)
				}
			}
		})
	}
}

func TestRetentionStart(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.FixedZone("CET", 3600)
	}
	tests := []struct{ now, want time.Time }{
		{testNow, time.Date(2026, 8, 21, 12, 0, 0, 0, time.UTC)},
		{time.Date(2026, 5, 31, 8, 30, 0, 0, time.UTC), time.Date(2026, 2, 28, 8, 30, 0, 0, time.UTC)},
		{time.Date(2028, 5, 31, 8, 30, 0, 0, time.UTC), time.Date(2028, 2, 29, 8, 30, 0, 0, time.UTC)}, // leap year
		{time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC), time.Date(2025, 10, 31, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 11, 21, 1, 0, 0, 0, paris), time.Date(2026, 8, 21, 1, 0, 0, 0, paris)},
	}
	for _, tc := range tests {
		if got := RetentionStart(tc.now); !got.Equal(tc.want) {
			t.Errorf("RetentionStart(%v) = %v, want %v", tc.now, got, tc.want)
		}
	}
}

// TestEncodeRoundTrip: Encode then DecodeStored gives the same event, byte for byte, for
// every type, with the producer's extra data fields kept.
func TestEncodeRoundTrip(t *testing.T) {
	for _, tc := range validCases() {
		t.Run(tc.typ.String(), func(t *testing.T) {
			// Extra fields, insignificant whitespace and HTML-ish characters in data.
			data := strings.TrimSuffix(tc.data, "}")
			if data != "{" {
				data += ","
			}
			data += ` "x_vendor" : { "k" : [1, 2.50, "<a & b>"], "u": "\u00e9" } }`
			ev, err := DecodeIncoming(rawEnvelope(tc.typ, data), testNow)
			if err != nil {
				t.Fatalf("DecodeIncoming: %v", err)
			}
			if !bytes.Contains(ev.Data, []byte(`"x_vendor":{"k":[1,2.50,"<a & b>"],"u":"\u00e9"}`)) {
				t.Errorf("Data = %s, want the extra field kept (compact)", ev.Data)
			}
			b, back := roundTrip(t, ev)
			again, err := back.Encode()
			if err != nil || !bytes.Equal(again, b) {
				t.Errorf("second Encode = %s, %v; want %s", again, err, b)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if m["id"] != testID || m["type"] != tc.typ.String() || m["occurred_at"] != testAt {
				t.Errorf("encoded envelope = %s", b)
			}
			if _, has := m["customer_id"]; has == tc.typ.IsDirectory() {
				t.Errorf("customer_id present = %v for %s", has, tc.typ)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	ev, err := DecodeIncoming(with(TypeEmailOpened, func(env, _ obj) {
		delete(env, "id")
		delete(env, "source")
		env["occurred_at"] = "2026-11-21T10:14:03.500+01:00"
	}), testNow)
	if err != nil {
		t.Fatal(err)
	}
	var ve *ValidationError
	if _, err := ev.Encode(); !errors.As(err, &ve) || ve.Field != "id" {
		t.Fatalf("Encode without id = %v, want a ValidationError on id", err)
	}
	withID := ev.WithID(testID)
	if ev.ID != "" {
		t.Errorf("WithID changed its receiver")
	}
	b, err := withID.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"` + testID + `","type":"email.opened","occurred_at":"2026-11-21T09:14:03.5Z","customer_id":"cust-42","data":{"interaction_id":"mail-1"}}`
	if string(b) != want {
		t.Errorf("Encode =\n%s\nwant\n%s", b, want)
	}
	back, err := DecodeStored(b, testNow)
	if err != nil || !reflect.DeepEqual(back, withID) {
		t.Errorf("DecodeStored = %#v, %v", back, err)
	}
}

// TestEncodeGrowth: an envelope accepted at the incoming limit, once given an id and
// re-encoded, is still accepted from the stream.
func TestEncodeGrowth(t *testing.T) {
	// U+2028 and U+2029 sent raw (3 bytes each) come back escaped (6 bytes each), and the
	// id the ledger assigns adds 43 bytes.
	src := strings.Repeat("\u2028", MaxTextBytes/3)
	cust := strings.Repeat("\u2029", MaxIDBytes/3)
	head := fmt.Sprintf(`{"type":"email.opened","occurred_at":%q,"customer_id":"%s","source":"%s","data":{"interaction_id":"m","padding":"`,
		testAt, cust, src)
	const tail = `"}}`
	b := []byte(head + strings.Repeat("x", MaxEnvelopeBytes-len(head)-len(tail)) + tail)
	if len(b) != MaxEnvelopeBytes {
		t.Fatalf("test envelope is %d bytes, want %d", len(b), MaxEnvelopeBytes)
	}
	ev, err := DecodeIncoming(b, testNow)
	if err != nil {
		t.Fatal(err)
	}
	ev = ev.WithID(testID)
	enc, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(enc) < MaxEnvelopeBytes+1200 {
		t.Fatalf("encoded %d bytes: the test no longer exercises growth", len(enc))
	}
	back, err := DecodeStored(enc, testNow)
	if err != nil {
		t.Fatalf("DecodeStored of a %d-byte re-encoding: %v", len(enc), err)
	}
	if !reflect.DeepEqual(back, ev) {
		t.Errorf("round trip differs")
	}
}

func TestNewEventFromData(t *testing.T) {
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	t.Run("map data", func(t *testing.T) {
		ev, err := NewEventFromData(testID, TypeNoteAdded, at, testCust, "card", map[string]any{"note_id": "n-1", "text": "hi"}, testNow)
		if err != nil {
			t.Fatal(err)
		}
		want := Event{ID: testID, Type: TypeNoteAdded, OccurredAt: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC),
			CustomerID: testCust, Source: "card", Data: json.RawMessage(`{"note_id":"n-1","text":"hi"}`),
			Payload: &NoteData{NoteID: "n-1", Text: "hi"}}
		if !reflect.DeepEqual(ev, want) {
			t.Errorf("got %#v\nwant %#v", ev, want)
		}
	})
	t.Run("struct data without id", func(t *testing.T) {
		type taskData struct {
			TaskID string    `json:"task_id"`
			Title  string    `json:"title"`
			DueAt  time.Time `json:"due_at"`
		}
		due := time.Date(2026, 12, 24, 9, 0, 0, 0, time.UTC)
		ev, err := NewEventFromData("", TypeTaskCreated, at, testCust, "", taskData{"t-1", "Wrap gifts", due}, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if ev.ID != "" || ev.Source != "" {
			t.Errorf("ID, Source = %q, %q; want empty", ev.ID, ev.Source)
		}
		wantEq(t, "Payload", ev.Payload, Payload(&TaskData{TaskID: "t-1", Title: "Wrap gifts", DueAt: &due}))
	})
	t.Run("directory without customer", func(t *testing.T) {
		ev, err := NewEventFromData(testID, TypeDirectoryAgent, at, "", "admin", map[string]string{"agent_id": "ag-1", "role": "manager"}, testNow)
		if err != nil {
			t.Fatal(err)
		}
		wantEq(t, "CustomerID", ev.CustomerID, "")
	})
	t.Run("nil data", func(t *testing.T) {
		ev, err := NewEventFromData(testID, TypeCustomerErased, at, testCust, "gdpr", nil, testNow)
		if err != nil {
			t.Fatal(err)
		}
		wantEq(t, "Data", string(ev.Data), "{}")
	})
	t.Run("rejections name the field", func(t *testing.T) {
		tests := []struct {
			name   string
			id     string
			typ    EventType
			at     time.Time
			cust   string
			data   any
			field  string
			window bool
		}{
			{"bad id", "n-1", TypeNoteAdded, at, testCust, obj{"note_id": "n-1", "text": "x"}, "id", false},
			{"zero type", testID, EventType{}, at, testCust, obj{}, "type", false},
			{"missing text", testID, TypeNoteAdded, at, testCust, obj{"note_id": "n-1"}, "data.text", false},
			{"missing customer", testID, TypeNoteAdded, at, "", obj{"note_id": "n-1", "text": "x"}, "customer_id", false},
			{"customer on directory", testID, TypeDirectoryTeam, at, testCust, obj{"team_id": "t"}, "customer_id", false},
			{"zero time", testID, TypeNoteAdded, time.Time{}, testCust, obj{"note_id": "n-1", "text": "x"}, "occurred_at", true},
			{"future", testID, TypeNoteAdded, testNow.Add(time.Hour), testCust, obj{"note_id": "n-1", "text": "x"}, "occurred_at", true},
			{"data not an object", testID, TypeNoteAdded, at, testCust, []string{"x"}, "data", false},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := NewEventFromData(tc.id, tc.typ, tc.at, tc.cust, "card", tc.data, testNow)
				var ve *ValidationError
				if !errors.As(err, &ve) || ve.Field != tc.field {
					t.Fatalf("err = %v, want a ValidationError on %s", err, tc.field)
				}
				if errors.Is(err, ErrOutsideWindow) != tc.window {
					t.Errorf("ErrOutsideWindow = %v, want %v", errors.Is(err, ErrOutsideWindow), tc.window)
				}
			})
		}
	})
	t.Run("data that cannot be marshalled", func(t *testing.T) {
		_, err := NewEventFromData(testID, TypeNoteAdded, at, testCust, "card", make(chan int), testNow)
		if err == nil || errors.Is(err, ErrInvalid) {
			t.Fatalf("err = %v, want a marshalling error that is not ErrInvalid", err)
		}
	})
}

func TestValidationErrorMessage(t *testing.T) {
	_, err := DecodeIncoming(with(TypeInteractionStarted, func(_, d obj) { d["flow"] = "fax" }), testNow)
	const want = `data.flow: unknown flow "fax" (allowed: chat, email, messenger, sms, telegram, voice, whatsapp, whatsapp_campaign)`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	var ee *EnumError
	if !errors.As(err, &ee) || ee.Kind != "flow" || ee.Value != "fax" {
		t.Errorf("EnumError = %+v", ee)
	}
	_, err = DecodeIncoming(with(TypeNoteAdded, func(env, _ obj) { env["id"] = strings.Repeat("z", 500) }), testNow)
	if err == nil || len(err.Error()) > 120 {
		t.Errorf("a long bad id is not clipped in the message: %d bytes", len(err.Error()))
	}
}

// startedEnvelope is a realistic interaction.started envelope of about 500 bytes.
var startedEnvelope = []byte(`{"id":"0193a5b2-7c1e-7f00-9a4b-3c2d1e0f5a6b","type":"interaction.started",` +
	`"occurred_at":"2026-11-21T09:14:03.512+01:00","customer_id":"cust-000042","source":"pbx-paris",` +
	`"data":{"interaction_id":"call-7f3a9c21-55e0-4b8e","flow":"voice","direction":"incoming","routing":"smart",` +
	`"queue_id":"q-sales-fr","agent_id":"ag-1017","contact":{"phone":"+33612345678","email":"ann.martin@example.com"},` +
	`"voice_campaign":"winter-2026","template":"greeting-fr",` +
	`"participants":[{"role":"customer","id":"c-42","name":"Ann Martin"},{"role":"agent","id":"ag-1017","name":"Bea Durand"}],` +
	`"x_pbx":{"trunk":"sip-3"}}}`)

// BenchmarkDecode reads startedEnvelope as ingest reads it (incoming) and as a view reads
// it from the stream (stored: its canonical encoding, id assigned).
func BenchmarkDecode(b *testing.B) {
	ev, err := DecodeIncoming(startedEnvelope, testNow)
	if err != nil {
		b.Fatal(err)
	}
	stored, err := ev.Encode()
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		raw    []byte
		decode func([]byte, time.Time) (Event, error)
	}{{"incoming", startedEnvelope, DecodeIncoming}, {"stored", stored, DecodeStored}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.raw)))
			for b.Loop() {
				if _, err := bc.decode(bc.raw, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	ev, err := DecodeIncoming(startedEnvelope, testNow)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ev.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}
