package domain

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Payload is the typed, validated data of an event: one of the *…Data types below.
// wire gives the payload's JSON shape, so that NewEvent can encode and check it.
type Payload interface{ wire() wireData }

// InteractionRef is implemented by the payloads that belong to one interaction.
type InteractionRef interface{ InteractionKey() string }

// Contact is how the customer was reached in an interaction.
type Contact struct {
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
}

// IsZero reports whether no contact was given.
func (c Contact) IsZero() bool { return c.Phone == "" && c.Email == "" }

// Participant is one person or system that took part in an interaction.
type Participant struct {
	Role string `json:"role"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// StartedData is the data of interaction.started.
type StartedData struct {
	InteractionID string
	Flow          Flow
	Direction     Direction
	Routing       Routing
	QueueID       string
	AgentID       string
	Contact       Contact
	VoiceCampaign string
	Template      string
	Participants  []Participant
	// Inferred marks a started that an adapter derived from another event of the
	// interaction (a final status, a receipt) because the provider may never send the
	// real one: it lists the interaction with what that event tells, and any real
	// started replaces it whatever the order (JSON "inferred": true).
	Inferred bool
}

// RoutedData is the data of interaction.routed: the routing becomes the current one.
type RoutedData struct {
	InteractionID string
	Routing       Routing
	QueueID       string
	AgentID       string
	SRData        json.RawMessage // an object, or nil
}

// MessageData is the data of interaction.message: one message of a dialogue.
type MessageData struct {
	InteractionID string
	Direction     Direction
	MessageID     string
}

// EndedData is the data of interaction.ended.
type EndedData struct {
	InteractionID string
	Status        Status
	Reason        string
}

// LinkedData is the data of interaction.linked: a CRM record or a case (un)assigned.
// AgentID is the agent who did it, when an agent did (the commands on an interaction).
type LinkedData struct {
	InteractionID string
	Action        LinkAction
	CRMRecordID   string
	CaseID        string
	AgentID       string
}

// QualifiedData is the data of interaction.qualified.
type QualifiedData struct {
	InteractionID  string
	Qualifications []string
}

// SurveyAnswer is one question of a survey and its answer.
type SurveyAnswer struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

// SurveyData is the data of survey.answered.
type SurveyData struct {
	InteractionID string
	SurveyID      string
	Answers       []SurveyAnswer
}

// InvoiceData is the data of invoice.issued. Amount keeps the producer's decimal text so
// that no money is rounded through a float.
// Reference is the payment's or invoice's reference elsewhere (a PSP's, an
// accounting system's); AgentID the agent who created it, when an agent did.
type InvoiceData struct {
	InteractionID string
	InvoiceID     string
	Amount        json.Number
	Currency      string
	Status        string
	Reference     string
	AgentID       string
}

// OpenedData is the data of email.opened.
type OpenedData struct{ InteractionID string }

// ClickedData is the data of email.clicked: a link of the e-mail followed. URL is the
// link as the provider reports it, when it does.
type ClickedData struct {
	InteractionID string
	URL           string
}

// Change is one field's change: from, to (any JSON values).
type Change struct {
	From json.RawMessage `json:"from"`
	To   json.RawMessage `json:"to"`
}

// OrderData is the data of order.created and order.updated.
type OrderData struct {
	OrderID  string
	Status   string
	Total    json.Number
	Currency string
	Changes  map[string]Change
}

// SegmentData is the data of segment.joined and segment.left.
type SegmentData struct {
	SegmentID string
	Name      string
}

// TaskData is the data of every task.* event.
type TaskData struct {
	TaskID     string
	Title      string
	DueAt      *time.Time
	AssigneeID string
}

// NoteData is the data of note.added.
type NoteData struct {
	NoteID   string
	Text     string
	AuthorID string
}

// FileData is the data of file.attached.
type FileData struct {
	FileID      string
	Name        string
	Size        int64
	ContentType string
	URL         string
}

// VisitData is the data of visit.recorded. Pages is the list of pages seen; PageCount is
// their number (a producer may send only the count).
type VisitData struct {
	VisitID   string
	Source    string
	Channel   string
	DurationS int64
	Pages     []string
	PageCount int
}

// CustomerUpdatedData is the data of customer.updated.
type CustomerUpdatedData struct{ Changes map[string]Change }

// MergedData is the data of customer.merged.
type MergedData struct{ FromCustomerID string }

// ErasedData is the (empty) data of customer.erased.
type ErasedData struct{}

// AgentData is the data of directory.agent: the whole record.
type AgentData struct {
	AgentID         string
	Role            Role
	Name            string
	TeamID          string
	ActiveProfileID string
	Buttons         []Button // the agent's own buttons (My buttons)
}

// TeamData is the data of directory.team: the whole record.
type TeamData struct {
	TeamID     string
	Name       string
	ManagerIDs []string
}

// ProfileData is the data of directory.profile: the whole record.
type ProfileData struct {
	ProfileID     string
	Name          string
	Queues        []string
	Flows         []Flow
	HistoryAccess bool
	Buttons       []Button // the buttons of every agent with this active profile
}

// InteractionKey returns the interaction the event belongs to.
func (d *StartedData) InteractionKey() string   { return d.InteractionID }
func (d *RoutedData) InteractionKey() string    { return d.InteractionID }
func (d *MessageData) InteractionKey() string   { return d.InteractionID }
func (d *EndedData) InteractionKey() string     { return d.InteractionID }
func (d *LinkedData) InteractionKey() string    { return d.InteractionID }
func (d *QualifiedData) InteractionKey() string { return d.InteractionID }
func (d *SurveyData) InteractionKey() string    { return d.InteractionID }
func (d *InvoiceData) InteractionKey() string   { return d.InteractionID }
func (d *OpenedData) InteractionKey() string    { return d.InteractionID }
func (d *ClickedData) InteractionKey() string   { return d.InteractionID }

// wireData is every field any catalog entry may carry, read leniently (unknown fields are
// the producer's extensions and are kept in Event.Data); decodePayload then checks the
// ones the type needs. It is also what a typed payload is written as (NewEvent): one field
// list for both directions, absent fields omitted.
type wireData struct {
	InteractionID  *string           `json:"interaction_id,omitempty"`
	Flow           *string           `json:"flow,omitempty"`
	Direction      *string           `json:"direction,omitempty"`
	Routing        *string           `json:"routing,omitempty"`
	QueueID        *string           `json:"queue_id,omitempty"`
	AgentID        *string           `json:"agent_id,omitempty"`
	Contact        *Contact          `json:"contact,omitempty"`
	VoiceCampaign  *string           `json:"voice_campaign,omitempty"`
	Template       *string           `json:"template,omitempty"`
	Participants   []Participant     `json:"participants,omitempty"`
	SRData         json.RawMessage   `json:"sr_data,omitempty"`
	MessageID      *string           `json:"message_id,omitempty"`
	Status         *string           `json:"status,omitempty"`
	Reason         *string           `json:"reason,omitempty"`
	Action         *string           `json:"action,omitempty"`
	CRMRecordID    *string           `json:"crm_record_id,omitempty"`
	CaseID         *string           `json:"case_id,omitempty"`
	Qualifications []string          `json:"qualifications,omitempty"`
	SurveyID       *string           `json:"survey_id,omitempty"`
	Answers        []SurveyAnswer    `json:"answers,omitempty"`
	InvoiceID      *string           `json:"invoice_id,omitempty"`
	Amount         json.RawMessage   `json:"amount,omitempty"`
	Currency       *string           `json:"currency,omitempty"`
	Reference      *string           `json:"reference,omitempty"`
	OrderID        *string           `json:"order_id,omitempty"`
	Total          json.RawMessage   `json:"total,omitempty"`
	Changes        map[string]Change `json:"changes,omitempty"`
	SegmentID      *string           `json:"segment_id,omitempty"`
	Name           *string           `json:"name,omitempty"`
	TaskID         *string           `json:"task_id,omitempty"`
	Title          *string           `json:"title,omitempty"`
	DueAt          *string           `json:"due_at,omitempty"`
	AssigneeID     *string           `json:"assignee_id,omitempty"`
	NoteID         *string           `json:"note_id,omitempty"`
	Text           *string           `json:"text,omitempty"`
	AuthorID       *string           `json:"author_id,omitempty"`
	FileID         *string           `json:"file_id,omitempty"`
	Size           *int64            `json:"size,omitempty"`
	ContentType    *string           `json:"content_type,omitempty"`
	URL            *string           `json:"url,omitempty"`
	VisitID        *string           `json:"visit_id,omitempty"`
	Source         *string           `json:"source,omitempty"`
	Channel        *string           `json:"channel,omitempty"`
	DurationS      *int64            `json:"duration_s,omitempty"`
	Pages          json.RawMessage   `json:"pages,omitempty"`
	FromCustomerID *string           `json:"from_customer_id,omitempty"`
	Role           *string           `json:"role,omitempty"`
	TeamID         *string           `json:"team_id,omitempty"`
	ActiveProfile  *string           `json:"active_profile_id,omitempty"`
	ManagerIDs     []string          `json:"manager_ids,omitempty"`
	ProfileID      *string           `json:"profile_id,omitempty"`
	Queues         []string          `json:"queues,omitempty"`
	Flows          []string          `json:"flows,omitempty"`
	HistoryAccess  *bool             `json:"history_access,omitempty"`
	Buttons        []Button          `json:"buttons,omitempty"`
	Inferred       *bool             `json:"inferred,omitempty"`
}

// reader collects the first problem while the payload's fields are read in order.
type reader struct{ err error }

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// failAt records a problem found by a check that was run without its field's name, and
// names it: paths such as "data.participants[3].name" are built only for a rejection,
// not for every field of every valid event.
func (r *reader) failAt(err *ValidationError, format string, args ...any) {
	err.Field = fmt.Sprintf(format, args...)
	r.fail(err)
}

func (r *reader) id(name string, v *string, required bool) string {
	s := deref(v)
	if err := checkID("", s, required); err != nil {
		r.failAt(err, "data.%s", name)
	}
	return s
}

func (r *reader) text(name string, v *string, max int, required bool) string {
	s := deref(v)
	if required && strings.TrimSpace(s) == "" {
		r.fail(invalid("data."+name, "is required"))
		return s
	}
	if err := checkText("", s, max); err != nil {
		r.failAt(err, "data.%s", name)
	}
	return s
}

func (r *reader) enum(name string, v *string, required bool, parse func(string) error) {
	if v == nil || *v == "" {
		if required {
			r.fail(invalid("data."+name, "is required"))
		}
		return
	}
	if err := parse(*v); err != nil {
		r.fail(&ValidationError{Field: "data." + name, Problem: err.Error(), cause: err})
	}
}

func (r *reader) list(name string, n int, required bool) {
	if required && n == 0 {
		r.fail(invalid("data."+name, "must hold at least one item"))
	}
	if n > MaxListItems {
		r.fail(invalid("data."+name, "holds %d items, more than the %d allowed", n, MaxListItems))
	}
}

func (r *reader) ids(name string, vs []string, required bool) []string {
	r.list(name, len(vs), required)
	for i, s := range vs {
		if err := checkID("", s, true); err != nil {
			r.failAt(err, "data.%s[%d]", name, i)
		}
	}
	return vs
}

// number reads a decimal kept as text: a JSON number, or a string holding one. It is read
// here rather than by the JSON decoder, whose error for a bad string ("abc") does not name
// the field.
func (r *reader) number(name string, raw json.RawMessage) json.Number {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var v json.Number
	if err := json.Unmarshal(raw, &v); err != nil {
		r.fail(invalid("data."+name, "%s is not a number", Clip(string(raw))))
		return ""
	}
	if _, err := v.Float64(); err != nil {
		r.fail(invalid("data."+name, "%q is not a number", Clip(v.String())))
	}
	return v
}

func (r *reader) nonNegative(name string, v *int64) int64 {
	if v == nil {
		return 0
	}
	if *v < 0 {
		r.fail(invalid("data."+name, "must not be negative"))
	}
	return *v
}

func (r *reader) changes(m map[string]Change, required bool) map[string]Change {
	if required && len(m) == 0 {
		r.fail(invalid("data.changes", "must name at least one field"))
	}
	if len(m) > MaxListItems {
		r.fail(invalid("data.changes", "holds %d fields, more than the %d allowed", len(m), MaxListItems))
	}
	for k := range m {
		if err := checkID("data.changes key", k, true); err != nil {
			r.fail(err)
		}
	}
	return m
}

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

func (r *reader) currency(v *string) string {
	s := deref(v)
	if s != "" && !currencyRE.MatchString(s) {
		r.fail(invalid("data.currency", "%q is not an ISO 4217 code (three capital letters)", Clip(s)))
	}
	return s
}

func deref(v *string) string {
	if v == nil {
		return ""
	}
	return *v
}

func (c codec) decodePayload(t EventType, raw []byte, customerID string) (Payload, error) {
	var w *wireData
	if c.reference {
		w = c.newWireData()
	} else {
		p := presetPool.Get().(*presetData)
		defer presetPool.Put(p)
		w = p.preset()
	}
	// The payload's RawMessages (sr_data, changes, ...) are handed out: they get copies.
	if err := c.strictUnmarshal(raw, w, "data", false); err != nil {
		return nil, err
	}
	r := &reader{}
	var p Payload
	switch t {
	case TypeInteractionStarted:
		d := &StartedData{InteractionID: r.id("interaction_id", w.InteractionID, true)}
		r.enum("flow", w.Flow, true, func(s string) (err error) { d.Flow, err = ParseFlow(s); return })
		r.enum("direction", w.Direction, true, func(s string) (err error) { d.Direction, err = ParseDirection(s); return })
		r.enum("routing", w.Routing, true, func(s string) (err error) { d.Routing, err = ParseRouting(s); return })
		d.QueueID = r.id("queue_id", w.QueueID, false)
		d.AgentID = r.id("agent_id", w.AgentID, false)
		if w.Contact != nil {
			d.Contact = *w.Contact
			if err := checkText("data.contact.phone", d.Contact.Phone, 64); err != nil {
				r.fail(err)
			}
			if err := checkText("data.contact.email", d.Contact.Email, 254); err != nil {
				r.fail(err)
			}
			if d.Contact.Email != "" && !strings.Contains(d.Contact.Email, "@") {
				r.fail(invalid("data.contact.email", "%q is not an email address", Clip(d.Contact.Email)))
			}
		}
		d.VoiceCampaign = r.text("voice_campaign", w.VoiceCampaign, MaxTextBytes, false)
		d.Template = r.text("template", w.Template, MaxTextBytes, false)
		d.Inferred = w.Inferred != nil && *w.Inferred
		r.list("participants", len(w.Participants), false)
		for i, pt := range w.Participants {
			if strings.TrimSpace(pt.Role) == "" {
				r.fail(invalid(fmt.Sprintf("data.participants[%d].role", i), "is required"))
			}
			if err := checkText("", pt.Name, MaxTextBytes); err != nil {
				r.failAt(err, "data.participants[%d].name", i)
			}
			if err := checkID("", pt.ID, false); err != nil {
				r.failAt(err, "data.participants[%d].id", i)
			}
		}
		d.Participants = w.Participants
		p = d
	case TypeInteractionRouted:
		d := &RoutedData{InteractionID: r.id("interaction_id", w.InteractionID, true)}
		r.enum("routing", w.Routing, true, func(s string) (err error) { d.Routing, err = ParseRouting(s); return })
		d.QueueID = r.id("queue_id", w.QueueID, false)
		d.AgentID = r.id("agent_id", w.AgentID, false)
		if len(w.SRData) > 0 && string(w.SRData) != "null" {
			if w.SRData[0] != '{' {
				r.fail(invalid("data.sr_data", "must be a JSON object"))
			}
			d.SRData = w.SRData
		}
		p = d
	case TypeInteractionMessage:
		d := &MessageData{InteractionID: r.id("interaction_id", w.InteractionID, true)}
		r.enum("direction", w.Direction, true, func(s string) (err error) { d.Direction, err = ParseDirection(s); return })
		d.MessageID = r.id("message_id", w.MessageID, false)
		p = d
	case TypeInteractionEnded:
		d := &EndedData{InteractionID: r.id("interaction_id", w.InteractionID, true)}
		r.enum("status", w.Status, true, func(s string) (err error) { d.Status, err = ParseStatus(s); return })
		d.Reason = r.text("reason", w.Reason, MaxTextBytes, false)
		if d.Status == StatusDissuaded && strings.TrimSpace(d.Reason) == "" {
			r.fail(invalid("data.reason", "is required when status is dissuaded"))
		}
		p = d
	case TypeInteractionLinked:
		d := &LinkedData{InteractionID: r.id("interaction_id", w.InteractionID, true)}
		r.enum("action", w.Action, true, func(s string) (err error) { d.Action, err = ParseLinkAction(s); return })
		d.CRMRecordID = r.id("crm_record_id", w.CRMRecordID, false)
		d.CaseID = r.id("case_id", w.CaseID, false)
		d.AgentID = r.id("agent_id", w.AgentID, false)
		if r.err == nil && d.CRMRecordID == "" && d.CaseID == "" {
			r.fail(invalid("data.crm_record_id", "or data.case_id is required"))
		}
		p = d
	case TypeInteractionQualified:
		d := &QualifiedData{InteractionID: r.id("interaction_id", w.InteractionID, true)}
		r.list("qualifications", len(w.Qualifications), true)
		for i, q := range w.Qualifications {
			if err := checkText("", q, MaxTextBytes); err != nil {
				r.failAt(err, "data.qualifications[%d]", i)
			}
		}
		d.Qualifications = w.Qualifications
		p = d
	case TypeSurveyAnswered:
		d := &SurveyData{InteractionID: r.id("interaction_id", w.InteractionID, true)}
		d.SurveyID = r.id("survey_id", w.SurveyID, true)
		r.list("answers", len(w.Answers), true)
		for i, a := range w.Answers {
			if strings.TrimSpace(a.Question) == "" {
				r.fail(invalid(fmt.Sprintf("data.answers[%d].question", i), "is required"))
			}
			if err := checkText("", a.Answer, MaxTextBytes); err != nil {
				r.failAt(err, "data.answers[%d].answer", i)
			}
		}
		d.Answers = w.Answers
		p = d
	case TypeInvoiceIssued:
		d := &InvoiceData{InteractionID: r.id("interaction_id", w.InteractionID, true)}
		d.InvoiceID = r.id("invoice_id", w.InvoiceID, true)
		d.Amount = r.number("amount", w.Amount)
		d.Currency = r.currency(w.Currency)
		d.Status = r.text("status", w.Status, MaxTextBytes, false)
		d.Reference = r.text("reference", w.Reference, MaxTextBytes, false)
		d.AgentID = r.id("agent_id", w.AgentID, false)
		p = d
	case TypeEmailOpened:
		p = &OpenedData{InteractionID: r.id("interaction_id", w.InteractionID, true)}
	case TypeEmailClicked:
		d := &ClickedData{InteractionID: r.id("interaction_id", w.InteractionID, true)}
		d.URL = r.text("url", w.URL, MaxURLBytes, false)
		p = d
	case TypeOrderCreated, TypeOrderUpdated:
		d := &OrderData{OrderID: r.id("order_id", w.OrderID, true)}
		d.Status = r.text("status", w.Status, MaxTextBytes, false)
		d.Total = r.number("total", w.Total)
		d.Currency = r.currency(w.Currency)
		d.Changes = r.changes(w.Changes, false)
		p = d
	case TypeSegmentJoined, TypeSegmentLeft:
		d := &SegmentData{SegmentID: r.id("segment_id", w.SegmentID, true)}
		d.Name = r.text("name", w.Name, MaxTextBytes, false)
		p = d
	case TypeTaskCreated, TypeTaskUpdated, TypeTaskCompleted, TypeTaskReopened, TypeTaskDeleted:
		d := &TaskData{TaskID: r.id("task_id", w.TaskID, true)}
		d.Title = r.text("title", w.Title, MaxTextBytes, false)
		if w.DueAt != nil && *w.DueAt != "" {
			due, err := ParseTime(*w.DueAt)
			if err != nil {
				r.fail(invalid("data.due_at", "%q is not an RFC 3339 time with offset", Clip(*w.DueAt)))
			} else {
				due = due.UTC()
				d.DueAt = &due
			}
		}
		d.AssigneeID = r.id("assignee_id", w.AssigneeID, false)
		p = d
	case TypeNoteAdded:
		d := &NoteData{NoteID: r.id("note_id", w.NoteID, true)}
		d.Text = r.text("text", w.Text, MaxNoteBytes, true)
		d.AuthorID = r.id("author_id", w.AuthorID, false)
		p = d
	case TypeFileAttached:
		d := &FileData{FileID: r.id("file_id", w.FileID, true)}
		d.Name = r.text("name", w.Name, MaxTextBytes, true)
		d.Size = r.nonNegative("size", w.Size)
		d.ContentType = r.text("content_type", w.ContentType, MaxTextBytes, false)
		d.URL = r.text("url", w.URL, MaxURLBytes, false)
		p = d
	case TypeVisitRecorded:
		d := &VisitData{VisitID: r.id("visit_id", w.VisitID, true)}
		d.Source = r.text("source", w.Source, MaxTextBytes, false)
		d.Channel = r.text("channel", w.Channel, MaxTextBytes, false)
		d.DurationS = r.nonNegative("duration_s", w.DurationS)
		if len(w.Pages) > 0 && string(w.Pages) != "null" {
			var n int
			if err := json.Unmarshal(w.Pages, &n); err == nil {
				if n < 0 {
					r.fail(invalid("data.pages", "must not be negative"))
				}
				d.PageCount = n
			} else if err := json.Unmarshal(w.Pages, &d.Pages); err == nil {
				r.list("pages", len(d.Pages), false)
				for i, pg := range d.Pages {
					if err := checkText("", pg, MaxURLBytes); err != nil {
						r.failAt(err, "data.pages[%d]", i)
					}
				}
				d.PageCount = len(d.Pages)
			} else {
				r.fail(invalid("data.pages", "must be a page count or an array of page URLs"))
			}
		}
		p = d
	case TypeCustomerUpdated:
		p = &CustomerUpdatedData{Changes: r.changes(w.Changes, true)}
	case TypeCustomerMerged:
		d := &MergedData{FromCustomerID: r.id("from_customer_id", w.FromCustomerID, true)}
		if r.err == nil && d.FromCustomerID == customerID {
			r.fail(invalid("data.from_customer_id", "must differ from customer_id (a customer cannot merge into itself)"))
		}
		p = d
	case TypeCustomerErased:
		p = &ErasedData{}
	case TypeDirectoryAgent:
		d := &AgentData{AgentID: r.id("agent_id", w.AgentID, true)}
		r.enum("role", w.Role, true, func(s string) (err error) { d.Role, err = ParseRole(s); return })
		d.Name = r.text("name", w.Name, MaxTextBytes, false)
		d.TeamID = r.id("team_id", w.TeamID, false)
		d.ActiveProfileID = r.id("active_profile_id", w.ActiveProfile, false)
		d.Buttons = r.buttons(w.Buttons)
		p = d
	case TypeDirectoryTeam:
		d := &TeamData{TeamID: r.id("team_id", w.TeamID, true)}
		d.Name = r.text("name", w.Name, MaxTextBytes, false)
		d.ManagerIDs = r.ids("manager_ids", w.ManagerIDs, false)
		p = d
	case TypeDirectoryProfile:
		d := &ProfileData{ProfileID: r.id("profile_id", w.ProfileID, true)}
		d.Name = r.text("name", w.Name, MaxTextBytes, false)
		d.Queues = r.ids("queues", w.Queues, false)
		r.list("flows", len(w.Flows), false)
		for i, s := range w.Flows {
			f, err := ParseFlow(s)
			if err != nil {
				r.fail(&ValidationError{Field: fmt.Sprintf("data.flows[%d]", i), Problem: err.Error(), cause: err})
			}
			d.Flows = append(d.Flows, f)
		}
		d.HistoryAccess = w.HistoryAccess != nil && *w.HistoryAccess
		d.Buttons = r.buttons(w.Buttons)
		p = d
	default:
		return nil, invalid("type", "%q has no data rules", t)
	}
	if r.err != nil {
		return nil, r.err
	}
	return p, nil
}
