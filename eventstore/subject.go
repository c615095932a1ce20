package eventstore

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/interaction-ledger/ledger/domain"
)

// Subject returns the subject an event is appended to (CONTRACT.md §4):
// "ledger.events.<type>", e.g. "ledger.events.interaction.started". Task events carry a
// per-task token as well, "ledger.events.<type>.<key>" (see TaskSubjectFilter), so that
// task commands can append with an expected last sequence on that one task.
func Subject(ev domain.Event) string {
	if ev.Type.IsTask() {
		if td, ok := ev.Payload.(*domain.TaskData); ok && td != nil {
			return subjectEvents + "." + ev.Type.String() + "." + taskKey(ev.CustomerID, td.TaskID)
		}
	}
	return subjectEvents + "." + ev.Type.String()
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
