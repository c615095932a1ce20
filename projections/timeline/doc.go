// Package timeline holds the customer card view, "Previous interactions" (CONTRACT.md §2
// customer card events, §4 timeline and tabs): one time-ordered list of everything that
// happened with a customer (calls, emails, SMS, chats, orders, segments, tasks, notes,
// files, visits, card changes), the card's tabs (chats, tasks, visits, segments), the card
// summary (last email sent and whether it was opened, counts, merged customers) and the
// task state that the card's task commands check before they append.
//
// # Items
//
// An interaction (call, email, SMS or messaging dialogue) is ONE item, keyed by its
// interaction id, placed at its start and updated in place as its events arrive in any
// order: its folded state (domain.Interaction.Apply; only the fields the card shows, the
// stamps that decide them and the events' ids and times are stored, never the contact,
// participants or event data) lives in a global bucket keyed by the interaction's handle
// (the stream position of the first event that changed it; keys.go), which also records
// where its item sits. Its customer is the fold's (the latest event's
// customer_id, through merge aliases). An interaction whose interaction.started has not
// arrived yet has no flow, hence no kind: it is kept but not listed until the flow is known.
//
// Notes, files and visits are one item per note_id, file_id, visit_id (the latest event
// wins). Every other card event (order.*, segment.*, task.*, customer.updated) is one item
// of its own, keyed by event id: the card shows each change.
//
// # Key layout
//
// All keys put the customer first, then NUL (ids hold no control characters, see
// domain.checkID), so one customer is one contiguous key range.
//
//	items    customer \x00 kind(1) ^occurred_at_nanos(8, big-endian) itemkey  -> item (codec.go)
//	expiry   occurred_at_nanos(8) customer \x00 kind(1) itemkey               -> ""
//	counts   customer \x00 kind(1)                                             -> uint64
//	refs     customer \x00 kind(1) id                                          -> nanos(8) event id
//	tasks    customer \x00 task_id                                             -> task record (codec.go)
//	taskorder customer \x00 ^created_at_nanos(8) task_id                       -> "" (one per task record)
//	owned    customer \x00 interaction_id                                      -> ""
//	interactions  handle(8)                                                    -> interaction record (codec.go)
//	handles  interaction_id                                                    -> handle(8)
//	carried  customer \x00 interaction_id                                      -> "" (shared interactions only)
//	edges    into \x00 from                                                    -> "" (every merge, as its event named it)
//	aliases  merged customer                                                   -> survivor
//	merged   survivor \x00 merged customer                                     -> ""
//	layout   "version"                                                         -> layoutVersion(8) (projections.InitLayout)
//
// A file of another layout version that holds interactions is rebuilt from the stream
// (Init: projections.ErrLayoutChanged).
//
// The kind byte sits BEFORE the time: each (customer, kind) is its own newest-first run,
// so a kind filter seeks straight into the kinds asked for and never reads another kind,
// and the tabs (chats, visits, segments) are one Seek plus one Next per row. The
// unfiltered timeline is a k-way merge of the eleven per-kind runs: eleven Seeks, then one
// Next per row returned. This was chosen over a time-first primary key with per-kind
// secondary keys because it writes one index key per item instead of two (the view
// store's inserts set the projector's ceiling, DESIGN.md) while the extra ten Seeks cost
// microseconds (BenchmarkTimelineNewest50).
//
// Ordering is (occurred_at desc, item key asc, kind asc); the cursor is that triple of the
// last row returned, so paging is keyset: stable while newer items arrive, no duplicate
// and no gap (an interaction whose start moves because its interaction.started arrived
// late may move across a cursor: it is the one exception).
//
// The tabs (chats, visits, segments) are single-kind reads of the same runs and page
// with the same cursor; the tasks tab walks taskorder (created_at desc, task id; a
// record's created_at falls back to its first event's time) and looks each record up,
// and pages with a cursor of the same encoding over that pair. (It used to read and sort
// all of the customer's records for every page: 0.25 ms at the median for the busiest
// customer at 2M envelopes, a tail above PostgreSQL's.)
//
// # Who sees what
//
// An interaction's item starts with what the access rules look at (flow, original
// routing, current agent, every agent and queue it passed: domain.Visibility), and the
// view judges with the reader's own rule: a read for a reader takes a Visible, which the
// HTTP layer and the pages pass as the reader's domain.Reader.CanSee, the one
// implementation of the rule, the one the history's list and detail apply to their fold
// of the same events (TestCardHidesWhatTheHistoryHides holds the two to the same answer).
// Read, the chats tab and the card's interaction counts and last email skip what it
// refuses, while scanning, so pages stay full and the cursor is that of the last row
// returned; only the visibility at the item's start is read for a row skipped. The card's
// counts of interactions are then counted per reader, the other kinds' counts are still
// the stored counters. (The card used to ask the history view about every interaction it
// passed: two thirds of a busy card's CPU for a collaborator, who sees few of them.)
//
// A rebuild fills a fresh file in bulk mode (bulk.go): the interactions' items, the counts
// and the customers' positions (touched), which the fold never reads and which land on
// random pages, are written at the end in key order.
//
// expiry is time-first across all customers so that Sweep reads only what is expired.
// It also holds, with pseudo-kinds, the task records ('T', at the task's latest event)
// and the interactions not yet listed ('u', at their start).
//
// # Tasks
//
// The task record is folded from the task.* events: the event with the latest
// (occurred_at, event id) decides the status (domain.TaskStateAfter); title, due_at and
// assignee_id come from the latest event that carries each. Task.LastSeq is the highest
// stream sequence among the task's events stored on the keyed task subject
// ("ledger.events.task.<action>.k<hash>") AND addressed to the customer id the caller asks
// with: the subject key is derived from the envelope's customer_id and task id, so after a
// merge the merged id and the survivor each have their own subject and sequence. Events
// published straight to the plain subject ("ledger.events.task.<action>") change the
// state but never LastSeq, since the command's subject filter does not see them.
//
// # Retention
//
// Sweep removes what left the window by occurred_at: items and, for tasks, the task
// record whose LATEST event is older than the cutoff, pending or not. Keeping a pending
// task longer would make the view differ from a rebuild (the stream no longer holds its
// events), and its LastSeq would no longer match the stream, so every command on it
// would fail with a conflict. A task stays as long as any of its events is in the window:
// editing it keeps it.
//
// # Merge and erase
//
// An interaction whose events name several customers (a call started for one and routed
// for another) keeps, beside its fold, one partial fold per customer (the fold of that
// customer's events alone, as the events name it) and a carried key per customer. The
// fold is order-independent, so the parts merge into the whole (domain.Interaction.Merge).
// An erasure folds such an interaction again from the other customers' parts and moves
// its item where that fold puts it (the customer of its latest remaining event, at its
// remaining start): what a rebuild from the erased stream gives, as the history does. One
// that carried only erased customers goes whole. The parts cost nothing for the usual
// interaction of one customer.
//
// customer.merged moves every key of the merged customer under the survivor (item keys,
// counts, refs, tasks, interaction owners) and records an alias, so events still
// addressed to the merged id land under the survivor; aliases that pointed to the merged
// customer are repointed, so an alias is always one hop. Each merge is also kept as its
// event named it (edges), so that an erasure takes the customers the stream's eraser
// takes: the erased customer and, transitively, every customer merged into it.
// customer.erased removes every key of the customer and the aliases that point to it
// (the merged customers' data lives under the survivor and goes with it). Erasing an id
// that was merged into another (an alias) takes, from under the survivor, what the
// erased customers' events put there, which the view can tell apart: an item made by an
// event addressed to another customer than the one it is filed under, or moved there by
// a merge, names where it came from (Item.from, stored, never shown); an interaction's
// fold names its customer, or keeps a part per customer; a task record lists the
// customers its events were addressed to. Two things a rebuild would show otherwise:
// a task record that the survivor's events made too stays (without the erased id, but
// with the state the last event set, whoever sent it), and a note, file or visit whose
// latest version came from the erased id goes whole (the view keeps only the latest).
// And one order effect: a merged id merged again is repointed, its entries staying
// where they were; a shared interaction folded again without its latest event is filed
// where its new latest event's customer is merged into now, where a rebuild would have
// filed it where that customer was merged into when the event came. Otherwise the card
// after an erasure is the rebuild's (TestEraseEqualsRebuildOfTheErasedStream).
//
// # Caveats
//
// bbolt reuses freed pages but does not zero them: erased bytes stay in the file's free
// pages until overwritten. Nothing reachable through a key holds them.
//
// An event for an erased customer that arrives after the customer.erased creates a new
// card (events are facts; the stream is where erasure is enforced).
//
// Sweep drops an interaction with its item, by start time. An event of that interaction
// still inside the window brings back a partial item (started at that event), which is
// also what a rebuild from the stream would show.
package timeline
