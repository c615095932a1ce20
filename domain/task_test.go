package domain

import (
	"errors"
	"fmt"
	"testing"
)

func TestDecideTask(t *testing.T) {
	refused := EventType{}
	tests := []struct {
		from TaskState
		cmd  TaskCommand
		want EventType // zero: refused
	}{
		{TaskAbsent, TaskCreate, TypeTaskCreated},
		{TaskAbsent, TaskEdit, refused},
		{TaskAbsent, TaskComplete, refused},
		{TaskAbsent, TaskReopen, refused},
		{TaskAbsent, TaskDelete, refused},

		{TaskPending, TaskCreate, refused},
		{TaskPending, TaskEdit, TypeTaskUpdated},
		{TaskPending, TaskComplete, TypeTaskCompleted},
		{TaskPending, TaskReopen, refused},
		{TaskPending, TaskDelete, TypeTaskDeleted},

		{TaskCompleted, TaskCreate, refused},
		{TaskCompleted, TaskEdit, refused},
		{TaskCompleted, TaskComplete, refused},
		{TaskCompleted, TaskReopen, TypeTaskReopened},
		{TaskCompleted, TaskDelete, TypeTaskDeleted},

		{TaskDeleted, TaskCreate, refused},
		{TaskDeleted, TaskEdit, refused},
		{TaskDeleted, TaskComplete, refused},
		{TaskDeleted, TaskReopen, refused},
		{TaskDeleted, TaskDelete, refused},
	}
	if len(tests) != len(TaskStates())*len(TaskCommands()) {
		t.Fatalf("%d cases, want %d", len(tests), len(TaskStates())*len(TaskCommands()))
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%s", tc.from, tc.cmd), func(t *testing.T) {
			got, err := DecideTask(tc.from, tc.cmd)
			if tc.want == refused {
				var ite *InvalidTransitionError
				if !errors.As(err, &ite) {
					t.Fatalf("DecideTask = %v, %v; want an *InvalidTransitionError", got, err)
				}
				if ite.From != tc.from || ite.Command != tc.cmd {
					t.Errorf("From, Command = %v, %v; want %v, %v", ite.From, ite.Command, tc.from, tc.cmd)
				}
				if want := fmt.Sprintf("cannot %s a task that is %s", tc.cmd, tc.from); err.Error() != want {
					t.Errorf("message %q, want %q", err, want)
				}
				if !got.IsZero() {
					t.Errorf("refused command returned type %v", got)
				}
				if errors.Is(err, ErrInvalid) {
					t.Errorf("a refused transition matches ErrInvalid (it is a 409, not a 400)")
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("DecideTask = %v, %v; want %v", got, err, tc.want)
			}
			if !got.IsTask() {
				t.Errorf("%v is not a task event", got)
			}
		})
	}
}

func TestTaskStateAfter(t *testing.T) {
	tests := []struct {
		typ  EventType
		want TaskState
	}{
		{TypeTaskCreated, TaskPending},
		{TypeTaskUpdated, TaskPending},
		{TypeTaskReopened, TaskPending},
		{TypeTaskCompleted, TaskCompleted},
		{TypeTaskDeleted, TaskDeleted},
		{TypeNoteAdded, TaskAbsent},
		{TypeInteractionStarted, TaskAbsent},
		{EventType{}, TaskAbsent},
	}
	for _, tc := range tests {
		t.Run(tc.typ.String(), func(t *testing.T) {
			if got := TaskStateAfter(tc.typ); got != tc.want {
				t.Errorf("TaskStateAfter(%v) = %v, want %v", tc.typ, got, tc.want)
			}
		})
	}
}

// TestTaskLifecycle walks the machine: every accepted command's event leads to the state
// the next command is judged against.
func TestTaskLifecycle(t *testing.T) {
	state := TaskAbsent
	for i, step := range []struct {
		cmd  TaskCommand
		want TaskState
	}{
		{TaskCreate, TaskPending},
		{TaskEdit, TaskPending},
		{TaskComplete, TaskCompleted},
		{TaskReopen, TaskPending},
		{TaskComplete, TaskCompleted},
		{TaskDelete, TaskDeleted},
	} {
		typ, err := DecideTask(state, step.cmd)
		if err != nil {
			t.Fatalf("step %d: %s from %s: %v", i, step.cmd, state, err)
		}
		state = TaskStateAfter(typ)
		if state != step.want {
			t.Fatalf("step %d: state %s, want %s", i, state, step.want)
		}
	}
}

func TestTaskStateText(t *testing.T) {
	for _, s := range TaskStates() {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back TaskState
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("%v round trip = %v, %v", s, back, err)
		}
	}
	var s TaskState
	if err := s.UnmarshalText([]byte("archived")); err == nil {
		t.Errorf("UnmarshalText(archived) accepted")
	}
}
