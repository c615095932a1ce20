package domain

import (
	"fmt"
	"sort"
	"strings"
)

// enum is the shared representation of a closed value set: a struct with an unexported
// string so that no package outside domain can invent a value. The zero value means
// "unknown/absent".
type enum struct{ s string }

func (e enum) String() string { return e.s }

// IsZero reports whether the value is absent.
func (e enum) IsZero() bool { return e.s == "" }

// EnumError reports a value that is not in a closed value set.
type EnumError struct {
	Kind    string   // "flow", "direction", ...
	Value   string   // what was given
	Allowed []string // what would have been accepted
}

func (e *EnumError) Error() string {
	return fmt.Sprintf("unknown %s %q (allowed: %s)", e.Kind, e.Value, strings.Join(e.Allowed, ", "))
}

func str[T ~struct{ enum }](v T) string { return struct{ enum }(v).s }

func parseEnum[T ~struct{ enum }](kind, s string, all []T) (T, error) {
	for _, v := range all {
		if str(v) == s {
			return v, nil
		}
	}
	return T{}, &EnumError{Kind: kind, Value: s, Allowed: names(all)}
}

func names[T ~struct{ enum }](all []T) []string {
	out := make([]string, len(all))
	for i, v := range all {
		out[i] = str(v)
	}
	sort.Strings(out)
	return out
}

// Flow is the channel of an interaction.
type Flow struct{ enum }

// The eight flows of the History of interactions.
var (
	FlowVoice            = Flow{enum{"voice"}}
	FlowEmail            = Flow{enum{"email"}}
	FlowSMS              = Flow{enum{"sms"}}
	FlowWhatsApp         = Flow{enum{"whatsapp"}}
	FlowWhatsAppCampaign = Flow{enum{"whatsapp_campaign"}}
	FlowTelegram         = Flow{enum{"telegram"}}
	FlowChat             = Flow{enum{"chat"}}
	FlowMessenger        = Flow{enum{"messenger"}}
)

// Flows lists every flow, in the order the product shows them.
func Flows() []Flow {
	return []Flow{FlowVoice, FlowEmail, FlowSMS, FlowWhatsApp, FlowWhatsAppCampaign, FlowTelegram, FlowChat, FlowMessenger}
}

// ParseFlow returns the flow named s, or an *EnumError.
func ParseFlow(s string) (Flow, error) { return parseEnum("flow", s, Flows()) }

// IsMessaging reports whether the flow is a dialogue of messages (the card's Chats tab).
func (f Flow) IsMessaging() bool {
	switch f {
	case FlowWhatsApp, FlowWhatsAppCampaign, FlowTelegram, FlowChat, FlowMessenger:
		return true
	}
	return false
}

// Direction says who started an interaction or sent a message.
type Direction struct{ enum }

// The two directions.
var (
	DirectionIncoming = Direction{enum{"incoming"}}
	DirectionOutgoing = Direction{enum{"outgoing"}}
)

// Directions lists both directions.
func Directions() []Direction { return []Direction{DirectionIncoming, DirectionOutgoing} }

// ParseDirection returns the direction named s, or an *EnumError.
func ParseDirection(s string) (Direction, error) { return parseEnum("direction", s, Directions()) }

// Routing says how an interaction reached an agent: by queue (smart) or to a person (direct).
type Routing struct{ enum }

// The two routings.
var (
	RoutingSmart  = Routing{enum{"smart"}}
	RoutingDirect = Routing{enum{"direct"}}
)

// Routings lists both routings.
func Routings() []Routing { return []Routing{RoutingSmart, RoutingDirect} }

// ParseRouting returns the routing named s, or an *EnumError.
func ParseRouting(s string) (Routing, error) { return parseEnum("routing", s, Routings()) }

// Status is how an interaction ended.
type Status struct{ enum }

// The statuses of the History of interactions.
var (
	StatusProcessed = Status{enum{"processed"}}
	StatusDelivered = Status{enum{"delivered"}}
	StatusWarning   = Status{enum{"warning"}}
	StatusAborted   = Status{enum{"aborted"}}
	StatusDissuaded = Status{enum{"dissuaded"}}
)

// Statuses lists every status.
func Statuses() []Status {
	return []Status{StatusProcessed, StatusDelivered, StatusWarning, StatusAborted, StatusDissuaded}
}

// ParseStatus returns the status named s, or an *EnumError.
func ParseStatus(s string) (Status, error) { return parseEnum("status", s, Statuses()) }

// Role is what kind of reader an agent is (CONTRACT.md §3).
type Role struct{ enum }

// The three roles.
var (
	RoleCollaborator  = Role{enum{"collaborator"}}
	RoleManager       = Role{enum{"manager"}}
	RoleAdministrator = Role{enum{"administrator"}}
)

// Roles lists the three roles.
func Roles() []Role { return []Role{RoleCollaborator, RoleManager, RoleAdministrator} }

// ParseRole returns the role named s, or an *EnumError.
func ParseRole(s string) (Role, error) { return parseEnum("role", s, Roles()) }

// LinkAction is what interaction.linked does to a CRM record or case.
type LinkAction struct{ enum }

// The two link actions.
var (
	LinkAssigned   = LinkAction{enum{"assigned"}}
	LinkUnassigned = LinkAction{enum{"unassigned"}}
)

// ParseLinkAction returns the link action named s, or an *EnumError.
func ParseLinkAction(s string) (LinkAction, error) {
	return parseEnum("action", s, []LinkAction{LinkAssigned, LinkUnassigned})
}

// SegmentAction says whether a customer joined or left a segment.
type SegmentAction struct{ enum }

// The two segment actions.
var (
	SegmentJoined = SegmentAction{enum{"joined"}}
	SegmentLeft   = SegmentAction{enum{"left"}}
)

// MarshalText writes the value's contract name; the zero value writes "".
func (e enum) MarshalText() ([]byte, error) { return []byte(e.s), nil }

// UnmarshalText reads the contract names of the closed value sets back from storage.
func (f *Flow) UnmarshalText(b []byte) error { return unmarshalEnum(f, "flow", b, Flows()) }

// UnmarshalText reads a direction back from storage.
func (d *Direction) UnmarshalText(b []byte) error {
	return unmarshalEnum(d, "direction", b, Directions())
}

// UnmarshalText reads a routing back from storage.
func (r *Routing) UnmarshalText(b []byte) error { return unmarshalEnum(r, "routing", b, Routings()) }

// UnmarshalText reads a status back from storage.
func (s *Status) UnmarshalText(b []byte) error { return unmarshalEnum(s, "status", b, Statuses()) }

// UnmarshalText reads a role back from storage.
func (r *Role) UnmarshalText(b []byte) error { return unmarshalEnum(r, "role", b, Roles()) }

// UnmarshalText reads a task state back from storage.
func (t *TaskState) UnmarshalText(b []byte) error {
	return unmarshalEnum(t, "task state", b, TaskStates())
}

func unmarshalEnum[T ~struct{ enum }](dst *T, kind string, b []byte, all []T) error {
	if len(b) == 0 {
		*dst = T{}
		return nil
	}
	v, err := parseEnum(kind, string(b), all)
	if err != nil {
		return err
	}
	*dst = v
	return nil
}
