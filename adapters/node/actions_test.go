package node

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/interaction-ledger/ledger/adapters/auth"
)

// seedActors gives the directory a profile over queue q with My buttons, the managers
// agents (who see every smart interaction through q) and bob, a collaborator who sees
// only his own interactions.
func seedActors(t *testing.T, in *instance, agents ...string) {
	t.Helper()
	dir := []map[string]any{
		ev("directory.profile", "", 60, map[string]any{"profile_id": "act-p", "queues": []string{"q"}, "flows": []string{"voice"}, "history_access": true,
			"buttons": []map[string]any{{"label": "Open in CRM", "url": "https://crm.example/records/{crm_record}?contact={contact}&case={case}#{interaction_id}"}}}),
		ev("directory.agent", "", 60, map[string]any{"agent_id": "bob", "role": "collaborator", "active_profile_id": "act-p"}),
	}
	for _, a := range agents {
		dir = append(dir, ev("directory.agent", "", 60, map[string]any{"agent_id": a, "role": "manager", "active_profile_id": "act-p",
			"buttons": []map[string]any{{"label": "Mine", "url": "http://tools.example/{agent_id}/{customer_id}"}}}))
	}
	if code := in.do("POST", "/v1/events", token(t, "svc", auth.ScopeDirectoryWrite), dir, nil); code != 200 {
		t.Fatalf("post directory = %d", code)
	}
	last := agents[len(agents)-1]
	eventually(t, last+" is in the directory", func() (bool, string) {
		code := in.do("GET", "/v1/customers/nobody/timeline", token(t, last, auth.ScopeHistoryRead), nil, nil)
		return code == 200, fmt.Sprint(code)
	})
}

// startInteractions posts a smart voice call through queue q for each id, handled by
// agent x, and waits until reader sees them all.
func startInteractions(t *testing.T, in *instance, reader string, ids ...string) {
	t.Helper()
	var evs []map[string]any
	for _, id := range ids {
		evs = append(evs, ev("interaction.started", "cus-act", 30, map[string]any{"interaction_id": id, "flow": "voice",
			"direction": "incoming", "routing": "smart", "queue_id": "q", "agent_id": "x", "contact": map[string]any{"phone": "+1 202 555 0147"}}))
	}
	if code := in.do("POST", "/v1/events", token(t, "svc", auth.ScopeIngest), evs, nil); code != 200 {
		t.Fatalf("post interactions = %d", code)
	}
	tok := token(t, reader, auth.ScopeHistoryRead)
	eventually(t, "the interactions are visible", func() (bool, string) {
		for _, id := range ids {
			if code := in.do("GET", "/v1/interactions/"+id, tok, nil, nil); code != 200 {
				return false, id + ": " + fmt.Sprint(code)
			}
		}
		return true, ""
	})
}

// invoice is one of the detail's invoices.
type invoice struct {
	InvoiceID string `json:"invoice_id"`
	Amount    any    `json:"amount"`
	Currency  string `json:"currency"`
	Status    string `json:"status"`
	Reference string `json:"reference"`
	AgentID   string `json:"agent_id"`
}

// detail is what these tests read of an interaction's detail.
type detail struct {
	CRMRecord string    `json:"crm_record"`
	Case      string    `json:"case"`
	Invoices  []invoice `json:"invoices"`
	Events    []struct {
		Type   string         `json:"type"`
		Source string         `json:"source"`
		Data   map[string]any `json:"data"`
	} `json:"events"`
	Buttons []struct{ Label, URL string } `json:"buttons"`
}

func (in *instance) detail(t *testing.T, agent, id string) detail {
	t.Helper()
	var d detail
	if code := in.do("GET", "/v1/interactions/"+id, token(t, agent, auth.ScopeHistoryRead), nil, &d); code != 200 {
		t.Fatalf("detail of %s as %s = %d", id, agent, code)
	}
	return d
}

// action sends one command on interaction id as agent and returns the code and answer.
func (in *instance) action(t *testing.T, agent, cmd, id string) (int, map[string]any) {
	t.Helper()
	tok := token(t, agent, auth.ScopeHistoryRead, auth.ScopeInteractionsWrite)
	var out map[string]any
	var code int
	switch cmd {
	case "assign-crm":
		code = in.do(http.MethodPut, "/v1/interactions/"+id+"/crm-record", tok, map[string]any{"crm_record_id": "crm-" + agent}, &out)
	case "unassign-crm":
		code = in.do(http.MethodDelete, "/v1/interactions/"+id+"/crm-record", tok, nil, &out)
	case "assign-case":
		code = in.do(http.MethodPut, "/v1/interactions/"+id+"/case", tok, map[string]any{"case_id": "case-" + agent}, &out)
	case "unassign-case":
		code = in.do(http.MethodDelete, "/v1/interactions/"+id+"/case", tok, nil, &out)
	case "payment":
		code = in.do(http.MethodPost, "/v1/interactions/"+id+"/payments", tok, map[string]any{"payment_id": "pay-1",
			"amount": "12.50", "currency": "EUR", "status": "paid", "reference": "psp-9"}, &out)
	default:
		t.Fatalf("unknown command %s", cmd)
	}
	return code, out
}

// TestInteractionCommands is the table of state × command: each cell starts from a fresh
// interaction brought to the state by the commands themselves, sends the command, and
// checks the answer, that a success appended exactly one event naming the agent and that
// a refusal (409, with the current state) appended nothing.
func TestInteractionCommands(t *testing.T) {
	in := startLedger(t, "")
	seedActors(t, in, "ann")
	commands := []string{"assign-crm", "unassign-crm", "assign-case", "unassign-case", "payment"}
	want := map[string]map[string]int{
		"nothing":     {"assign-crm": 200, "unassign-crm": 409, "assign-case": 200, "unassign-case": 409, "payment": 201},
		"crm":         {"assign-crm": 409, "unassign-crm": 200, "assign-case": 200, "unassign-case": 409, "payment": 201},
		"case":        {"assign-crm": 200, "unassign-crm": 409, "assign-case": 409, "unassign-case": 200, "payment": 201},
		"crm-removed": {"assign-crm": 200, "unassign-crm": 409, "assign-case": 200, "unassign-case": 409, "payment": 201},
		"paid":        {"assign-crm": 200, "unassign-crm": 409, "assign-case": 200, "unassign-case": 409, "payment": 409},
	}
	reach := map[string][]string{"nothing": nil, "crm": {"assign-crm"}, "case": {"assign-case"},
		"crm-removed": {"assign-crm", "unassign-crm"}, "paid": {"payment"}}
	var ids []string
	for state := range want {
		for _, cmd := range commands {
			ids = append(ids, state+"."+cmd)
		}
	}
	startInteractions(t, in, "ann", ids...)
	for state, cmds := range want {
		for _, cmd := range commands {
			t.Run(state+"/"+cmd, func(t *testing.T) {
				id := state + "." + cmd
				for _, step := range reach[state] {
					if code, out := in.action(t, "ann", step, id); code != 200 && code != 201 {
						t.Fatalf("reaching %s: %s = %d %v", state, step, code, out)
					}
				}
				before := in.detail(t, "ann", id)
				code, out := in.action(t, "ann", cmd, id)
				if code != cmds[cmd] {
					t.Fatalf("%s on %s = %d %v, want %d", cmd, state, code, out, cmds[cmd])
				}
				after := in.detail(t, "ann", id)
				if code == 409 {
					if out["crm_record"] != before.CRMRecord || out["case"] != before.Case || out["error"] == "" {
						t.Errorf("409 answer %v does not carry the current state (crm %q, case %q)", out, before.CRMRecord, before.Case)
					}
					if len(after.Events) != len(before.Events) || after.CRMRecord != before.CRMRecord || after.Case != before.Case || len(after.Invoices) != len(before.Invoices) {
						t.Errorf("a refused %s changed the interaction: before %+v, after %+v", cmd, before, after)
					}
					return
				}
				if len(after.Events) != len(before.Events)+1 {
					t.Fatalf("%s appended %d events, want 1", cmd, len(after.Events)-len(before.Events))
				}
				last := after.Events[len(after.Events)-1]
				if last.Source != "api:ann" || last.Data["agent_id"] != "ann" {
					t.Errorf("the event does not name the agent: %+v", last)
				}
				switch cmd {
				case "assign-crm":
					if after.CRMRecord != "crm-ann" || out["crm_record"] != "crm-ann" {
						t.Errorf("crm_record = %q (answer %v), want crm-ann", after.CRMRecord, out["crm_record"])
					}
				case "unassign-crm":
					if after.CRMRecord != "" || last.Data["action"] != "unassigned" || last.Data["crm_record_id"] != before.CRMRecord {
						t.Errorf("after unassign: crm_record %q, event %v", after.CRMRecord, last.Data)
					}
				case "assign-case":
					if after.Case != "case-ann" {
						t.Errorf("case = %q, want case-ann", after.Case)
					}
				case "unassign-case":
					if after.Case != "" || last.Data["case_id"] != before.Case {
						t.Errorf("after unassign: case %q, event %v", after.Case, last.Data)
					}
				case "payment":
					k := slices.IndexFunc(after.Invoices, func(v invoice) bool { return v.InvoiceID == "pay-1" })
					if k < 0 {
						t.Fatalf("payment not in the invoices: %+v", after.Invoices)
					}
					if v := after.Invoices[k]; fmt.Sprint(v.Amount) != "12.5" || v.Currency != "EUR" || v.Status != "paid" || v.Reference != "psp-9" || v.AgentID != "ann" {
						t.Errorf("payment = %+v", v)
					}
				}
			})
		}
	}
}

// TestInteractionCommandsAccess: an agent who may not see the interaction gets 404 for
// every command, as for the detail, and nothing is appended; without the scope, 403.
func TestInteractionCommandsAccess(t *testing.T) {
	in := startLedger(t, "")
	seedActors(t, in, "ann")
	startInteractions(t, in, "ann", "hidden")
	for _, cmd := range []string{"assign-crm", "unassign-crm", "assign-case", "unassign-case", "payment"} {
		t.Run(cmd, func(t *testing.T) {
			if code, out := in.action(t, "bob", cmd, "hidden"); code != 404 {
				t.Errorf("%s by bob = %d %v, want 404", cmd, code, out)
			}
			if code, _ := in.action(t, "ann", cmd, "no-such-interaction"); code != 404 {
				t.Errorf("%s on an unknown interaction = %d, want 404", cmd, code)
			}
		})
	}
	code := in.do(http.MethodPut, "/v1/interactions/hidden/crm-record", token(t, "ann", auth.ScopeHistoryRead), map[string]any{"crm_record_id": "c"}, nil)
	if code != 403 {
		t.Errorf("without interactions:write = %d, want 403", code)
	}
	// Anything bob appended would have a lower stream position than ann's command, which
	// answers once the detail applied it: the detail then holds every event there is.
	if code, out := in.action(t, "ann", "assign-case", "hidden"); code != 200 {
		t.Fatalf("ann's command = %d %v", code, out)
	}
	d := in.detail(t, "ann", "hidden")
	var types []string
	for _, e := range d.Events {
		types = append(types, e.Type+" by "+e.Source)
	}
	if want := []string{"interaction.started by test", "interaction.linked by api:ann"}; !slices.Equal(types, want) {
		t.Errorf("events = %v, want %v", types, want)
	}
}

// TestConcurrentInteractionCommands: N agents assign a CRM record to one interaction at
// once; exactly one wins (200) and the others get 409, and the interaction holds exactly
// the winner's record and one linked event.
func TestConcurrentInteractionCommands(t *testing.T) {
	in := startLedger(t, "")
	agents := []string{"a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"}
	seedActors(t, in, agents...)
	rounds := []string{"race-0", "race-1", "race-2"}
	startInteractions(t, in, agents[len(agents)-1], rounds...)
	for _, id := range rounds {
		codes := make([]int, len(agents))
		var wg sync.WaitGroup
		for i, a := range agents {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i], _ = in.action(t, a, "assign-crm", id)
			}()
		}
		wg.Wait()
		winner := ""
		for i, c := range codes {
			switch c {
			case 200:
				if winner != "" {
					t.Errorf("%s: both %s and %s won (codes %v)", id, winner, agents[i], codes)
				}
				winner = agents[i]
			case 409:
			default:
				t.Errorf("%s: %s got %d", id, agents[i], c)
			}
		}
		if winner == "" {
			t.Fatalf("%s: nobody won (codes %v)", id, codes)
		}
		d := in.detail(t, winner, id)
		linked := 0
		for _, e := range d.Events {
			if e.Type == "interaction.linked" {
				linked++
			}
		}
		if d.CRMRecord != "crm-"+winner || linked != 1 {
			t.Errorf("%s: crm_record %q with %d linked events, want crm-%s and 1", id, d.CRMRecord, linked, winner)
		}
	}
}

// TestInteractionActionsShow: the detail's buttons are filled in from the current
// assignment with every value escaped for its place, the list's item carries the CRM
// record assigned now, an id is minted when the caller names none, and bad payments are
// refused naming the field.
func TestInteractionActionsShow(t *testing.T) {
	in := startLedger(t, "")
	seedActors(t, in, "ann")
	startInteractions(t, in, "ann", "shown")
	tok := token(t, "ann", auth.ScopeHistoryRead, auth.ScopeInteractionsWrite)
	if code := in.do(http.MethodPut, "/v1/interactions/shown/crm-record", tok, map[string]any{"crm_record_id": "r/1 &x"}, nil); code != 200 {
		t.Fatalf("assign = %d", code)
	}
	var minted map[string]any
	if code := in.do(http.MethodPut, "/v1/interactions/shown/case", tok, nil, &minted); code != 200 || minted["case_id"] == "" || minted["case"] != minted["case_id"] {
		t.Fatalf("assign a minted case = %d %v", code, minted)
	}
	d := in.detail(t, "ann", "shown")
	wantButtons := []struct{ Label, URL string }{
		{"Mine", "http://tools.example/x/cus-act"}, // the interaction's agent
		{"Open in CRM", "https://crm.example/records/r%2F1%20&x?contact=%2B12025550147&case=" + minted["case_id"].(string) + "#shown"},
	}
	if !slices.Equal(d.Buttons, wantButtons) {
		t.Errorf("buttons = %+v, want %+v", d.Buttons, wantButtons)
	}
	item := func() string {
		var page struct {
			Items []struct {
				InteractionID string `json:"interaction_id"`
				CRMRecord     string `json:"crm_record"`
			} `json:"items"`
		}
		if code := in.do("GET", "/v1/interactions?id=shown", tok, nil, &page); code != 200 || len(page.Items) != 1 {
			t.Fatalf("list = %d %+v", code, page)
		}
		return page.Items[0].CRMRecord
	}
	if got := item(); got != "r/1 &x" {
		t.Errorf("list item crm_record = %q, want the assigned one", got)
	}
	if code := in.do(http.MethodDelete, "/v1/interactions/shown/crm-record", tok, nil, nil); code != 200 {
		t.Fatalf("unassign = %d", code)
	}
	if got := item(); got != "" {
		t.Errorf("list item crm_record after unassign = %q, want none", got)
	}

	for _, c := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"amount as a number", map[string]any{"amount": 12.5, "currency": "EUR", "status": "paid"}, "amount"},
		{"amount not a decimal", map[string]any{"amount": "12,50", "currency": "EUR", "status": "paid"}, "amount"},
		{"amount zero", map[string]any{"amount": "0.00", "currency": "EUR", "status": "paid"}, "amount"},
		{"amount finer than the currency", map[string]any{"amount": "12.505", "currency": "EUR", "status": "paid"}, "amount"},
		{"yen with cents", map[string]any{"amount": "100.5", "currency": "JPY", "status": "paid"}, "amount"},
		{"currency lower case", map[string]any{"amount": "1", "currency": "eur", "status": "paid"}, "currency"},
		{"currency not ISO 4217", map[string]any{"amount": "1", "currency": "ABC", "status": "paid"}, "currency"},
		{"currency missing", map[string]any{"amount": "1", "status": "paid"}, "currency"},
		{"status unknown", map[string]any{"amount": "1", "currency": "EUR", "status": "done"}, "status"},
		{"unknown field", map[string]any{"amount": "1", "currency": "EUR", "status": "paid", "fee": "1"}, "fee"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out map[string]any
			if code := in.do(http.MethodPost, "/v1/interactions/shown/payments", tok, c.body, &out); code != 400 || out["field"] != c.field {
				t.Errorf("= %d %v, want 400 naming %s", code, out, c.field)
			}
		})
	}
	if n := len(in.detail(t, "ann", "shown").Invoices); n != 0 {
		t.Errorf("refused payments left %d invoices", n)
	}
}
