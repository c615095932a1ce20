// Package domain holds the ledger's vocabulary: the event envelope and its catalog
// (CONTRACT.md §2), the closed value sets (flow, direction, routing, status, role), the
// rules that fold an interaction's events into one state whatever their order, who may
// see an interaction (CONTRACT.md §3), and the task state machine of the customer card.
//
// It is pure Go: it performs no I/O and reads no clock; callers pass "now" in. Beside the
// standard library it imports google/uuid and one JSON codec,
// github.com/segmentio/encoding/json: envelopes are decoded at ingest and again by every
// view's replay, and encoding/json's decoder was the largest single cost of both. The fast
// codec reads valid input; encoding/json still words every rejection (codec.go says how
// the two are held to the same answers). Everything that crosses the ledger's edge is
// decoded here, and every rejection names the field that is wrong.
package domain
