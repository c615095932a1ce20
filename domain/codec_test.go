package domain

import (
	"reflect"
	"testing"
)

// TestPresetCoversEveryPointer: the fast codec's wire structs start with every pointer
// field pointing at a slot of their block (a field left out would cost an allocation
// per member again), and the reference codec's start with none.
func TestPresetCoversEveryPointer(t *testing.T) {
	for _, tc := range []struct {
		name            string
		fast, reference any
	}{
		{"wireEnvelope", codec{}.newWireEnvelope(), codec{reference: true}.newWireEnvelope()},
		{"wireData", codec{}.newWireData(), codec{reference: true}.newWireData()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fast, ref := reflect.ValueOf(tc.fast).Elem(), reflect.ValueOf(tc.reference).Elem()
			pointers := 0
			for i := range fast.NumField() {
				if fast.Field(i).Kind() != reflect.Pointer {
					continue
				}
				pointers++
				name := fast.Type().Field(i).Name
				if fast.Field(i).IsNil() {
					t.Errorf("fast %s.%s is nil, want a preset slot", tc.name, name)
				} else if !fast.Field(i).Elem().IsZero() {
					t.Errorf("fast %s.%s points to %v, want a zero value", tc.name, name, fast.Field(i).Elem())
				}
				if !ref.Field(i).IsNil() {
					t.Errorf("reference %s.%s is preset, want nil", tc.name, name)
				}
			}
			if pointers == 0 {
				t.Fatalf("%s has no pointer fields", tc.name)
			}
		})
	}
}
