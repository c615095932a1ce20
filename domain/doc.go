// Package domain holds the ledger's vocabulary: the event envelope and its catalog
// (CONTRACT.md §2), the closed value sets (flow, direction, routing, status, role), the
// rules that fold an interaction's events into one state whatever their order, who may
// see an interaction (CONTRACT.md §3), and the task state machine of the customer card.
//
// It is pure Go: it imports only the standard library, performs no I/O and reads no clock;
// callers pass "now" in. Everything that crosses the ledger's edge is decoded here, and
// every rejection names the field that is wrong.
package domain
