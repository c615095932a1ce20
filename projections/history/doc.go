// Package history is the History of interactions view (seeds/history-of-interactions.md,
// CONTRACT.md §3 and §4): one folded domain.Interaction per interaction, the list rows,
// the bbolt indexes that answer GET /v1/interactions without a full scan, the query
// engine, and retention.
//
// # Storage
//
// The design follows DESIGN.md's known fact: random bbolt inserts are the ceiling, so an
// interaction writes one row, one detail and a handful of small posting entries, all keys
// sorted within a batch, and each interaction is written once per batch whatever the
// number of its events in it.
//
//	rows     start_at(8, big-endian unix nanos, sign flipped) | id -> compact binary row
//	         The list columns plus Agents and Queues (what CanSee needs). It is the time
//	         index itself: the default list (today, start_at desc) is one cursor walked
//	         backwards from `to`, reading rows in place, stopping at a full page.
//	handles  id -> handle(8) | start(8): the interaction's handle (the stream sequence
//	         of the first event applied to it) and its row's start (handles.go). The
//	         details, events and change positions are keyed by handle: those of recent
//	         interactions sit together at the end of their trees whatever ids the
//	         producers send, so a batch rewrites a few pages there, not one per event
//	         across the file.
//	details  handle(8) -> binary domain.Interaction and the customers it
//	         carried (codec.go; the former forms are still read). The fold's state for
//	         Apply and the detail for Get. Its events are a stub: they are entries of
//	         their own (events, eventids: events.go), so its size, and the cost of an
//	         event, do not grow with a long dialogue. Binary rather than JSON:
//	         encoding/json was about 16% of Apply and its decode the main cost of
//	         applying a later event of a stored interaction; the codec is several times
//	         faster both ways and the value smaller. A reflection test fails when
//	         domain.Interaction gains a field the codec does not write.
//	index    col | value | 0x00 | start(8) | id -> the row's enums, current agent and
//	         queue in the counted lists (a, q, d, v, t: postingValue), empty in the
//	         others: a list driven by one turns most candidates away without a
//	         lookup. Posting
//	         lists, each in time order:
//	           a  every agent the interaction passed (current and before a transfer)
//	           q  every queue it passed
//	           d  original_routing = direct
//	           p  the E.164 phone's digits reversed: an exact number is a value, the
//	              last 6+ digits are a key prefix (a suffix search is a Seek)
//	           e  the lower-case email
//	           v  voice_campaign; t template
//	           u  every customer_id the interaction carried, as stored (customer.erased
//	              finds every interaction that carried the customer)
//	         Low-cardinality columns (flow, status, direction, routings) have no lists: a
//	         list of 1/2 to 1/8 of everything is never a better driver than the time index.
//	sorts    col | esc(value) | 0x00 0x01 | start(8) | id -> screen: sort indexes, for
//	         agent_id (A) and queue_id (Q) only, the empty value included. Key order is
//	         the list's order (value, start_at, id). See sortIndexCols for why only these
//	         two (ingest cost, measured). The screen (screen.go) holds the row's enums
//	         and what the access rule reads, so a walk turns most candidates away
//	         without looking their rows up.
//	counts   col | value -> uint64 for the bounded lists (a, q, d, v, t), plus totals.
//	merges   from -> to (its latest merge), and merged: to | 0x00 | from (every merge, also
//	         one a later merge of the same id replaced: an erasure follows each, as the
//	         stream's eraser does). Lists and details show the surviving customer (chains
//	         resolved at read time, so a merge is order-independent).
//	actionseqs id | 0x00 | customer_id -> seq(8): the stream sequence that the commands on
//	         an interaction expect on its keyed subject (actions.go).
//
// The file records its key layout (layoutVersion, projections.InitLayout). A file of
// another that holds interactions is not read: Init reports projections.ErrLayoutChanged
// and the runner rebuilds the view from the stream.
//
// Pages of the buckets whose keys grow at the end (rows, details, events, eventids,
// sorts, changes, changedat: start times, handles, stream positions) split full
// (projections.AppendFill) instead of half full; index keeps bbolt's default, its phone, email and
// customer lists insert at random. A rebuild fills a fresh file in bulk mode (bulk.go):
// the lists, the sort indexes and the counts are derived from the final rows at the end,
// in key order (the customers' lists from the first erasure on, which reads them, are
// kept as events come).
//
// The access rules use the same lists: a collaborator reads a:self; a manager the union
// of a:self, a:team agents and q:profile queues; an administrator d:direct and (when the
// profile has flows) q:profile queues. Those unions are supersets; every candidate is
// then checked against every filter and domain.Reader.CanSee on its row, so filters never
// widen visibility and nothing CanSee refuses is ever listed.
//
// # Planning
//
// Each selective filter (agent_id, queue_id, original_routing=direct, voice_campaign,
// template, customer_id, contact, q, id) and the reader's visibility is a candidate
// source, estimated by its counts (contacts and customers: a small constant). The
// smallest source drives; when none is smaller than the whole table the time index does.
// Sorted by start_at, the driver is read in sort order (a k-way merge of the posting
// lists between `from` and `to`) and stops at a full page. Sorted by another column,
// there are two plans (useSortIndex picks the cheaper estimate):
//
//   - heap: the driver's candidates in the range are all checked, and the page is the
//     limit+1 smallest by (column value, start_at, interaction_id), picked with a
//     bounded heap. Cost grows with the candidates: right for selective queries. A
//     candidate is decoded without allocating (rowView: strings into the page, valid
//     in the transaction) and looked up with one reused cursor; only rows entering the
//     heap are copied. Sorted by agent_id or queue_id, the posting entry's value gives
//     the sort value first, and only a candidate that could enter the heap is looked
//     up (a queue's three months sorted by agent at 500k interactions: 21 → 4.4 ms).
//   - walk (agent_id, queue_id, interaction_id): the column's sort index is read in
//     sort order from the cursor, entries outside the time range skipped by key (one
//     Seek per value), each other entry's row checked against every filter and CanSee,
//     stopping at a full page. Cost is about (limit+1) / (share of rows that match):
//     right for wide ranges and broad readers (an administrator over three months).
//
// The share is estimated from the counts, the time range against the data's span and
// the enum filters, assumed independent. Both plans give the same pages (the property
// test runs every query under each).
//
// The cursor is keyset: the last item's (sort value, start_at, id) and a hash of the
// query, so it survives inserts (no offsets) and a cursor of another query is refused.
//
// # Caveats
//
//   - agent_id and queue_id filter the current agent and queue (the columns); the
//     posting lists hold every agent and queue, so such a filter reads the lists of the
//     values and drops rows where the value is no longer current.
//   - A sort on a column without a sort index (every one but start_at, agent_id,
//     queue_id and interaction_id) over a large, dense range reads every matching row:
//     its cost grows with the result, not with the page.
//   - A walk over a query whose filters match far fewer rows than estimated (correlated
//     filters) reads up to every entry of the range before it knows the page is short.
//   - Retention removes whole interactions by start_at (Sweep), in bounded transactions.
//   - customer.erased removes the customer's interactions and those of every customer
//     merged into it, and the merge records naming them. An interaction that also
//     carried another customer keeps that customer's events, folded again: what a
//     rebuild from the erased stream gives.
//   - A file written before events had entries of their own is migrated by Init; its
//     interactions know only their last customer (the former form kept no other): a
//     replay gives them every customer they carried.
package history
