// Package scenario simulates a contact centre, deterministically: a directory of
// profiles, teams and agents, and the stream of customer-scoped events that months of
// calls, emails, SMS and messaging dialogues produce, with the customer card's orders,
// segments, tasks, notes, files, visits and card changes around them. `make run` loads it
// as demo data, `ledger bench` replays millions of interactions from it, and property
// tests use it as a source of realistic, valid, disorderly input.
//
// The same Config gives the same events, byte for byte: every random choice comes from a
// PCG seeded with Config.Seed, "now" comes from Config.Now, and nothing reads a clock,
// the environment or the global random source.
//
// Events streams: its memory depends on the directory, the customers (nothing is kept
// per customer: a customer's name, phone and email are derived from the seed) and a
// bounded window of scheduled events, never on the number of interactions.
//
// # Caveats
//
//   - Events are built on a fast path: their JSON data is written with strconv/append and
//     their typed payload is filled in directly, not decoded. The package's tests check
//     that every event equals what domain.DecodeIncoming reads back from its encoding at
//     its occurred_at; keep them passing when adding a field.
//   - Delivery order is roughly chronological. Up to maxPending events wait to be
//     delivered at their time; beyond that the earliest are delivered early, so at very
//     high densities some late facts (an email opened days later, a task completed next
//     week) arrive before events that occurred before them.
//   - Events that would occur after Config.Now are not produced: an interaction that
//     starts just before Now may have no interaction.ended yet.
package scenario
