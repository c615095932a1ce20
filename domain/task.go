package domain

// TaskState is where a task of the customer card stands.
type TaskState struct{ enum }

// The task states. TaskAbsent is a task that does not exist (never created, or deleted).
var (
	TaskAbsent    = TaskState{enum{"absent"}}
	TaskPending   = TaskState{enum{"pending"}}
	TaskCompleted = TaskState{enum{"completed"}}
	TaskDeleted   = TaskState{enum{"deleted"}}
)

// TaskCommand is what a person asks of a task from the card.
type TaskCommand struct{ enum }

// The five task commands.
var (
	TaskCreate   = TaskCommand{enum{"create"}}
	TaskEdit     = TaskCommand{enum{"edit"}}
	TaskComplete = TaskCommand{enum{"complete"}}
	TaskReopen   = TaskCommand{enum{"reopen"}}
	TaskDelete   = TaskCommand{enum{"delete"}}
)

// TaskCommands lists the five commands.
func TaskCommands() []TaskCommand {
	return []TaskCommand{TaskCreate, TaskEdit, TaskComplete, TaskReopen, TaskDelete}
}

// TaskStates lists the four states.
func TaskStates() []TaskState {
	return []TaskState{TaskAbsent, TaskPending, TaskCompleted, TaskDeleted}
}

// DecideTask applies the card's rules (a pending task can be edited, completed or deleted;
// a completed task can be reopened or deleted; only an absent task can be created) and
// returns the event type the command appends. Anything else is an *InvalidTransitionError.
func DecideTask(from TaskState, cmd TaskCommand) (EventType, error) {
	switch {
	case from == TaskAbsent && cmd == TaskCreate:
		return TypeTaskCreated, nil
	case from == TaskPending && cmd == TaskEdit:
		return TypeTaskUpdated, nil
	case from == TaskPending && cmd == TaskComplete:
		return TypeTaskCompleted, nil
	case from == TaskCompleted && cmd == TaskReopen:
		return TypeTaskReopened, nil
	case (from == TaskPending || from == TaskCompleted) && cmd == TaskDelete:
		return TypeTaskDeleted, nil
	}
	return EventType{}, &InvalidTransitionError{From: from, Command: cmd}
}

// TaskStateAfter is the state a task is in after an event of type t. Events are facts:
// they are recorded whatever the state before (the rules bind commands, not producers).
func TaskStateAfter(t EventType) TaskState {
	switch t {
	case TypeTaskCreated, TypeTaskUpdated, TypeTaskReopened:
		return TaskPending
	case TypeTaskCompleted:
		return TaskCompleted
	case TypeTaskDeleted:
		return TaskDeleted
	}
	return TaskAbsent
}
