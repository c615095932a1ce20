package domain

import (
	"errors"
	"fmt"
)

// ErrInvalid is matched (errors.Is) by every rejection of input: a *ValidationError
// wraps it. Callers use it to answer 400 rather than 500.
var ErrInvalid = errors.New("invalid event")

// ErrOutsideWindow is matched by a rejection of occurred_at for being older than the
// retention window or too far in the future. Projectors replaying old messages use it to
// skip, rather than set aside, what simply expired.
var ErrOutsideWindow = errors.New("occurred_at outside the retention window")

// ValidationError names the field of an envelope that is wrong and why.
type ValidationError struct {
	Field   string // JSON path, e.g. "data.flow", "occurred_at"
	Problem string
	cause   error
}

func (e *ValidationError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Problem) }

// Is makes every ValidationError match ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Unwrap returns the underlying cause (an *EnumError, ErrOutsideWindow, ...), if any.
func (e *ValidationError) Unwrap() error { return e.cause }

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// InvalidTransitionError is returned when a task command does not apply to the task's
// current state (CONTRACT.md §2: the card's task rules).
type InvalidTransitionError struct {
	From    TaskState
	Command TaskCommand
}

func (e *InvalidTransitionError) Error() string {
	return fmt.Sprintf("cannot %s a task that is %s", e.Command, e.From)
}
