package eventstore

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/interaction-ledger/ledger/domain"
)

// Subject returns the subject an event is appended to (CONTRACT.md §4):
// "ledger.events.<type>", e.g. "ledger.events.interaction.started". Task events carry a
// per-task token as well, "ledger.events.<type>.<key>" (see TaskSubjectFilter), so that
// task commands can append with an expected last sequence on that one task; the events of
// the commands on an interaction carry a per-interaction token (InteractionSubjectFilter).
func Subject(ev domain.Event) string {
	if ev.Type.IsTask() {
		if td, ok := ev.Payload.(*domain.TaskData); ok && td != nil {
			return subjectEvents + "." + ev.Type.String() + "." + taskKey(ev.CustomerID, td.TaskID)
		}
	}
	if ev.Type.IsAction() {
		if ref, ok := ev.Payload.(domain.InteractionRef); ok && ref != nil {
			return subjectEvents + "." + ev.Type.String() + "." + interactionKey(ref.InteractionKey())
		}
	}
	return subjectEvents + "." + ev.Type.String()
}

// InteractionSubjectFilter returns the subject filter of the events that the commands on
// interaction id decide by and append (interaction.linked and invoice.issued on its key,
// "ledger.events.*.*.<key>"): the ExpectSubject of such a command's Message. Events
// published straight to the plain subjects ("ledger.events.interaction.linked") are
// outside it, as for tasks.
func InteractionSubjectFilter(id string) string {
	return subjectEvents + ".*.*." + interactionKey(id)
}

// interactionKey is "i" and the first 32 hex digits of sha256("interaction" NUL id): a
// subject token whatever the id holds, never equal to a task's key (which starts "k").
func interactionKey(id string) string {
	h := sha256.New()
	h.Write([]byte("interaction"))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return "i" + hex.EncodeToString(h.Sum(nil))[:32]
}

// TaskSubjectFilter returns the subject filter of every event of one task,
// "ledger.events.task.*.<key>": the ExpectSubject of a task command's Message.
func TaskSubjectFilter(customerID, taskID string) string {
	return subjectEvents + ".task.*." + taskKey(customerID, taskID)
}

// taskKey is "k" and the first 32 hex digits of sha256(customerID NUL taskID): a subject
// token whatever the ids hold (dots, spaces, wildcards).
func taskKey(customerID, taskID string) string {
	h := sha256.New()
	h.Write([]byte(customerID))
	h.Write([]byte{0})
	h.Write([]byte(taskID))
	return "k" + hex.EncodeToString(h.Sum(nil))[:32]
}

// directorySources are the DIRECTORY stream's filters on LEDGER: one literal subject per
// directory type, each kept as it is. Not the one wildcard "ledger.events.directory.>":
// the tasks' and the commanded interactions' tokens give LEDGER a subject per task, and
// nats-server looks its subject index up for a wildcard filter only while a stream holds
// fewer than 65,536 subjects (a literal filter, up to a million). Past that, the sourcing
// consumer, which a start resumes after the last directory record (records are rare),
// read every block of the stream to find that none followed: at 2 million events, tens
// of seconds of a core after every start, beside the first queries (the manager's list of
// the day at 8 ms p99 instead of 0.6). Changing the filters makes nats-server source
// the directory records still in LEDGER once more; the directory view keeps the newest
// stamp of each record (putIfNewer), so the copies change nothing.
func directorySources() []jetstream.SubjectTransformConfig {
	var out []jetstream.SubjectTransformConfig
	for _, t := range domain.EventTypes() {
		if t.IsDirectory() {
			subj := subjectEvents + "." + t.String()
			out = append(out, jetstream.SubjectTransformConfig{Source: subj, Destination: subj})
		}
	}
	return out
}
