package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/interaction-ledger/ledger/adapters/ingest"
	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/timeline"
)

// Errors of TaskCommands.Run that callers answer differently.
var (
	// ErrTaskChanged: another event of the task was stored between reading its state
	// and appending the command's event; the caller reloads and tries again.
	ErrTaskChanged = errors.New("the task was changed meanwhile; reload it and try again")
	// ErrStoreUnavailable: the event stream did not acknowledge the event; its outcome
	// is unknown and the caller may retry.
	ErrStoreUnavailable = errors.New("the event stream did not acknowledge the command")
)

// TaskRefusedError is a command the card's rules refuse in the task's current state.
type TaskRefusedError struct {
	TaskID string
	State  domain.TaskState
	Err    error // the *domain.InvalidTransitionError
}

func (e *TaskRefusedError) Error() string { return e.Err.Error() }
func (e *TaskRefusedError) Unwrap() error { return e.Err }

// NotFound reports whether the task does not exist (never created, or deleted) and the
// command was not a create.
func (e *TaskRefusedError) NotFound() bool { return e.State == domain.TaskAbsent }

// TaskInputError names the input field that is wrong.
type TaskInputError struct {
	Field string
	Err   error
}

func (e *TaskInputError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *TaskInputError) Unwrap() error { return e.Err }

// TaskInput is what create and edit accept; a nil field is left as it is.
type TaskInput struct {
	TaskID     string  `json:"task_id"` // create only; default a new UUIDv7
	Title      *string `json:"title"`
	DueAt      *string `json:"due_at"` // RFC 3339; "" clears it
	AssigneeID *string `json:"assignee_id"`
}

// TaskResult is the task once the command's event is applied.
type TaskResult struct {
	TaskID  string
	State   domain.TaskState
	EventID string
	Seq     uint64 // the stream position the command's event reached (Ledger-Position)
	Task    timeline.Task
}

// TaskCommands runs the card's task commands, for the API and the agents' pages alike.
type TaskCommands struct {
	Ingest     *ingest.Service
	Timeline   *timeline.View
	TimelineDB *projections.DB  // to answer once the event is visible in the card
	Now        func() time.Time // default time.Now
	Wait       time.Duration    // how long to wait for the card (default 5 s)
	Logger     *slog.Logger     // default slog.Default()
}

// Run reads the task's state and the stream sequence of its last event, decides by the
// card's rules (*TaskRefusedError otherwise), and appends the event only if no other
// event of that task was stored meanwhile (JetStream's expected last subject sequence;
// a lost race is ErrTaskChanged). It returns once the card shows the change, or after
// Wait. The caller has checked that rd may use the card. The customer need not have a
// card yet: customers live in the CRM, and the ledger knows one only from the events
// about them, of which a new task may be the first.
func (tc *TaskCommands) Run(ctx context.Context, rd domain.Reader, customer, taskID string, cmd domain.TaskCommand, in TaskInput) (TaskResult, error) {
	now, wait, log := commandDefaults(tc.Now, tc.Wait, tc.Logger)
	if cmd == domain.TaskCreate {
		taskID = in.TaskID
		if taskID == "" {
			taskID = uuid.Must(uuid.NewV7()).String()
		}
		if in.Title == nil || *in.Title == "" {
			return TaskResult{TaskID: taskID}, &TaskInputError{Field: "title", Err: errors.New("is required")}
		}
	}
	res := TaskResult{TaskID: taskID}
	state, cur, err := tc.Timeline.Task(customer, taskID)
	if err != nil {
		return res, fmt.Errorf("read task %s: %w", taskID, err)
	}
	typ, err := domain.DecideTask(state, cmd)
	if err != nil {
		return res, &TaskRefusedError{TaskID: taskID, State: state, Err: err}
	}
	data := &domain.TaskData{TaskID: taskID, Title: cur.Title, DueAt: cur.DueAt, AssigneeID: cur.AssigneeID}
	if in.Title != nil {
		data.Title = *in.Title
	}
	if in.AssigneeID != nil {
		data.AssigneeID = *in.AssigneeID
	}
	if in.DueAt != nil {
		data.DueAt = nil // an empty due_at clears it
		if *in.DueAt != "" {
			due, err := domain.ParseTime(*in.DueAt)
			if err != nil {
				return res, &TaskInputError{Field: "due_at", Err: err}
			}
			data.DueAt = &due
		}
	}
	t := now()
	ev, err := domain.NewEvent(uuid.Must(uuid.NewV7()).String(), typ, t, customer, "api:"+rd.AgentID, data, t)
	if err != nil {
		var ve *domain.ValidationError
		if errors.As(err, &ve) {
			return res, &TaskInputError{Field: ve.Field, Err: err}
		}
		return res, fmt.Errorf("task event: %w", err)
	}
	res.EventID = ev.ID
	res.Seq, err = appendAndWait(ctx, tc.Ingest, ev, eventstore.TaskSubjectFilter(customer, taskID), cur.LastSeq, tc.TimelineDB, wait, log)
	if errors.Is(err, eventstore.ErrConflict) {
		return res, fmt.Errorf("task %s: %w", taskID, ErrTaskChanged)
	}
	if err != nil {
		return res, err
	}
	if res.State, res.Task, err = tc.Timeline.Task(customer, taskID); err != nil {
		return res, fmt.Errorf("read task %s: %w", taskID, err)
	}
	return res, nil
}

// commandDefaults fills in a command runner's clock (time.Now), wait for its view (5 s)
// and logger (slog.Default()) where they are not set.
func commandDefaults(now func() time.Time, wait time.Duration, log *slog.Logger) (func() time.Time, time.Duration, *slog.Logger) {
	if now == nil {
		now = time.Now
	}
	if wait <= 0 {
		wait = 5 * time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	return now, wait, log
}
