// Package erasure carries out customer.erased (CONTRACT.md §2): it removes the customer
// from the stream so that no replay brings them back, and rewrites the view files so that
// none of their personal data is left in the data directory's files.
//
// An Eraser consumes "ledger.events.customer.erased" through watermill (watermill-nats
// pkg/nats, JetStream, durable "erasure"; a low-rate handler, as DESIGN.md advises). For
// each erase event E at stream sequence s, for customer C:
//
//  1. it waits until every view of StreamEvents has applied the stream up to s: each
//     view deletes C's entries when it applies E, and must see E before E is erased;
//  2. it reads StreamEvents from 1 to s and collects every message whose customer_id is C
//     or a customer merged into C (customer.merged, transitively), or that names one of
//     them as data.from_customer_id; a message that is not a JSON envelope matches on its
//     raw bytes. It reads StreamDead whole and collects every dead letter whose raw bytes
//     hold one of those ids, and StreamDirectory whole for their messages (a customer event
//     published on a directory subject is copied there, and that stream never expires).
//     It securely deletes them all but E (eventstore.Store.Erase);
//  3. it asks each view to compact its file (View.Compact: projections.Runner copies it with
//     bbolt's Compact and swaps it in between two projector batches): bbolt never
//     overwrites a freed page by itself, and erasure opens no view file of its own;
//  4. it securely deletes E (its customer_id, e.g. tel:+E164, is personal data) and acks.
//
// Every step is idempotent and E goes last, so a failure or a crash at any point delivers
// E again and the erasure starts over.
//
// # Retries: forever, with backoff, and no poison queue
//
// A failed attempt is negatively acknowledged with a delay that doubles from RetryMin to
// RetryMax, and delivered again by the server, forever (MaxDeliver -1): the backoff
// survives restarts and never parks an erasure. A poison queue was rejected: it would copy
// the erase request (personal data) into another stream and leave an erasure that the law
// requires undone; the failures seen (a view lagging or stopped, the store unavailable, a
// full disk) are transient or need an operator, who sees them in the log. An envelope
// that is not a valid customer.erased is acknowledged and logged: the projectors have set
// it aside in LEDGER_DEAD, and no view applied it. While an attempt runs, in-progress acks
// every AckWait/3 keep the server from delivering it again.
//
// # Cost
//
// Finding a customer's messages is a full read of StreamEvents (twice when merges are
// involved) and of StreamDead: the stream has no index by customer, and erasure is rare.
// Measured with BenchmarkScanEvents (2-core machine shared with other builds, 300k
// ~520-byte envelopes of 1000 customers): 48k-71k messages/s, while eventstore's
// BenchmarkRead gave 110k-136k/s at the same time: the read dominates, the matching is
// bytes.Contains for the ids and a JSON decode only of candidates. So a stream of 100
// million messages takes about 25-35 minutes; in-progress acks keep the erasure alive
// meanwhile. Each erasure also rewrites every view file once.
//
// # Caveats
//
//   - Events of C appended after E are new facts and are kept (a customer may come back);
//     a producer that delivers an event of the erased period late must send
//     customer.erased again.
//   - Only customer_id and data.from_customer_id identify a customer's message. Another
//     customer's event that quotes C's phone or email is that customer's data and stays.
//   - Online rebuilds must take Config.Maintenance too (see Config).
//   - StreamDirectory copies from StreamEvents asynchronously: a customer event published on
//     a directory subject just before the erase event could, in principle, be copied after
//     the scan. Producers cannot publish on directory subjects (only the ledger's own
//     credentials can), so only a lying message from the ledger's side could be missed.
//   - Deleted bytes are gone from every file; they may still lie in the file system's
//     free blocks or an SSD's remapped cells. Full-disk encryption covers those.
//   - Logs never carry customer ids; the projectors' own logs of set-aside envelopes
//     (their validation messages) may quote them.
package erasure
