// Package eventstore holds the ledger's append-only log: three NATS JetStream streams, an
// embedded nats-server that serves them (or a connection to an existing cluster), and the
// operations the rest of the ledger needs on them: idempotent batched appends with optimistic
// concurrency, batched durable consumption for projectors, ordered bulk reads for replay,
// dead letters, statistics and secure erasure.
//
// The streams:
//
//   - LEDGER (StreamEvents) holds every envelope under "ledger.events.>" for Config.MaxAge.
//     The event id is the Nats-Msg-Id, so a resend inside Config.DuplicateWindow is stored
//     once and answered as a duplicate.
//   - LEDGER_DIRECTORY (StreamDirectory) sources the directory types' subjects
//     ("ledger.events.directory.agent", ".team", ".profile": literal filters, see
//     directorySources) from LEDGER and has no MaxAge: directory records are reference
//     data and survive the main stream's expiry.
//   - LEDGER_DEAD (StreamDead) holds, under "ledger.dead.<view>", envelopes that a projector
//     could not apply, with headers saying why, for operators to list (DeadLetters, a page
//     at a time). It is bounded by Config.DeadMaxAge, DeadMaxBytes and DeadMaxMsgs: the
//     oldest letters go first.
//   - LEDGER_AUDIT (StreamAudit) holds the read audit under
//     "ledger.audit.<agent key>.<customer key>" (AuditSubject), referring to the reads
//     under "ledger.audit.reads" (AuditReadsSubject), for Config.AuditMaxAge;
//     ReadFiltered reads one agent's or one customer's records, Get their reads.
//   - LEDGER_SEALS (StreamSeals) holds the hash chain over LEDGER and the redaction
//     records that Erase leaves (MessageHash, Redaction): hashes, never an event's data.
//
// The package knows nothing of views: it hands stream sequences and bytes to its callers,
// and projectors keep their own checkpoint (the last stream sequence applied) next to the
// view they write.
//
// # Who may connect
//
// The embedded server requires a user name and password (Credentials), kept in
// DataDir/nats-credentials.json (mode 0600, random passwords, created on first start and
// reused) unless the operator gives Config.Credentials:
//
//   - the ledger's own user has every right; every connection of the ledger (Connect, the
//     store's own) authenticates as it, in process too, and uses the inbox prefix
//     "_LEDGER_INBOX", where its consumers' deliveries and API answers arrive;
//   - a producer (ProducerURL: nats://user:password@host:port) may publish under
//     "ledger.events.>" except "ledger.events.directory.>" and "ledger.events.customer.erased",
//     and subscribe to "_INBOX.>" only, where JetStream sends its PubAcks. Every "$JS.API.>"
//     subject is denied: a producer reads nothing, and deletes, purges, creates or changes
//     nothing. Producers share "_INBOX.>": one producer could see another's PubAcks (stream
//     name, sequence), never an event.
//
// With Config.URL, the operator's server decides: the URL's user information or
// Config.CredsFile authenticate the ledger, a "tls://" URL requires TLS, and the ledger
// user needs to subscribe to "_LEDGER_INBOX.>".
//
// # Durability (sync policy)
//
// An acknowledged append survives a kill -9 of the process; fsync is periodic
// (Config.SyncInterval, default 1 s) unless Config.SyncAlways is set. Why this holds, as read
// in nats-server v2.15.2 server/filestore.go and server/stream.go:
//
//   - stream.go (newStream config of the file store): AsyncFlush = !SyncAlways && Replicas > 1,
//     and is forced on only by PersistMode "async", which this package never sets. So a
//     single-replica stream (the embedded server) runs with flush-in-place: fs.fip = true.
//   - filestore.go, fileStore.writeMsgRecord → msgBlock.writeMsgRecordLocked: with fip set,
//     every stored message calls flushPendingMsgsLocked, which writes the pending bytes to
//     the block file with WriteAt (a pwrite system call) before storeRawMsg returns; and
//     stream.go processJetStreamMsg sends the PubAck only after store.StoreMsg returned. Data handed to the kernel is in the
//     page cache and survives the death of the process; only the fsync is deferred
//     (mb.needSync = true, synced by the sync timer every SyncInterval).
//   - With SyncAlways, flushPendingMsgsLocked calls mfd.Sync() after each write: every
//     message is on disk before its ack (about 5k msg/s on our hardware instead of 160k+).
//   - Replicated streams (Replicas 3 on a cluster) flush asynchronously, but a message is
//     acknowledged only once a quorum has it in its Raft log, whose file store is created
//     with AsyncFlush false (jetstream_cluster.go): the same kill -9 argument holds per node,
//     and the loss of one node loses nothing.
//
// So the window of loss on a power failure (not a process crash) is at most SyncInterval.
//
// # Caveats
//
//   - Task events carry a per-task token in their subject (see Subject), so a consumer
//     filtering "ledger.events.task.*" misses them: filter "ledger.events.task.>".
//   - A durable consumer name is a position in the stream: one Consume per durable at a
//     time, and renaming a durable re-consumes the stream from the caller's StartAfter.
//   - JetStream keeps every Nats-Msg-Id of the duplicate window in memory (about 360 bytes
//     each): size Config.DuplicateWindow for the peak rate. Beyond the window, deduplication
//     is the projections' job (they are keyed by event id).
package eventstore
