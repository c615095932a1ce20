// Package projections holds the projector: the loop that takes batches of envelopes from
// the stream, validates them, and applies each batch to a view in ONE bbolt transaction
// together with the stream sequence reached (the checkpoint), before the batch is acked.
// A crash between commit and ack therefore repeats nothing: on restart the projector
// resumes after its stored checkpoint and skips what it already applied.
//
// Each view lives in its own bbolt file (a DB), so that any one view can be rebuilt into a
// fresh file and swapped in while the others keep serving. The views themselves live in
// the sub-packages: history, timeline, directory.
//
// # Caveats
//
// bbolt allows one writer per file and locks the file for the whole process: an offline
// `ledger replay` cannot open a view that a running `ledger serve` holds.
package projections
