package savedviews_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/projections/savedviews"
)

func open(t *testing.T, path string) *savedviews.Store {
	t.Helper()
	s, err := savedviews.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

var now = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

func names(t *testing.T, s *savedviews.Store, agent string) []string {
	t.Helper()
	vs, err := s.List(agent)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range vs {
		out = append(out, v.Name)
	}
	return out
}

// TestSaveListGetDelete: views are per agent, sorted by name, replaced by name, kept
// without their page position, and still there after the file is reopened.
func TestSaveListGetDelete(t *testing.T) {
	path := filepath.Join(t.TempDir(), "savedviews.db")
	s, err := savedviews.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct{ agent, name, query string }{
		{"a1", "Voice today", "flow=voice&cursor=abc"},
		{"a1", " Missed calls ", "?status=aborted"},
		{"a2", "Voice today", "flow=email"},
		{"a1", "Voice today", "flow=voice&status=processed"}, // replaces
	} {
		if _, err := s.Save(v.agent, v.name, v.query, now); err != nil {
			t.Fatalf("save %v: %v", v, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	if got := fmt.Sprint(names(t, s, "a1")); got != "[Missed calls Voice today]" {
		t.Fatalf("a1's views: %s", got)
	}
	tests := []struct{ agent, name, want string }{
		{"a1", "Voice today", "flow=voice&status=processed"},
		{"a1", "Missed calls", "status=aborted"},
		{"a2", "Voice today", "flow=email"},
	}
	for _, tc := range tests {
		t.Run(tc.agent+"/"+tc.name, func(t *testing.T) {
			v, err := s.Get(tc.agent, tc.name)
			if err != nil || v.Query != tc.want || !v.SavedAt.Equal(now) {
				t.Fatalf("get: %+v %v, want query %q", v, err, tc.want)
			}
		})
	}
	if _, err := s.Get("a2", "Missed calls"); !errors.Is(err, savedviews.ErrNotFound) {
		t.Fatalf("another agent's view: %v, want ErrNotFound", err)
	}
	if err := s.Delete("a1", "Voice today"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("a1", "Voice today"); !errors.Is(err, savedviews.ErrNotFound) {
		t.Fatalf("delete twice: %v, want ErrNotFound", err)
	}
	if got := fmt.Sprint(names(t, s, "a1"), names(t, s, "a2")); got != "[Missed calls] [Voice today]" {
		t.Fatalf("after delete: %s", got)
	}
}

// TestSaveRefuses names the field of a bad view and keeps nothing.
func TestSaveRefuses(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "savedviews.db"))
	tests := []struct {
		name, viewName, query, field string
	}{
		{"empty name", "  ", "flow=voice", "name"},
		{"long name", strings.Repeat("é", savedviews.MaxNameRunes+1), "", "name"},
		{"control character", "a\x00b", "", "name"},
		{"newline", "a\nb", "", "name"},
		{"bad UTF-8", "a\xffb", "", "name"},
		{"long query", "ok", "q=" + strings.Repeat("1", savedviews.MaxQueryBytes), "query"},
		{"not a query", "ok", "flow=%zz", "query"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Save("a1", tc.viewName, tc.query, now)
			var ie *savedviews.InputError
			if !errors.As(err, &ie) || ie.Field != tc.field {
				t.Fatalf("err %v, want an InputError on %s", err, tc.field)
			}
		})
	}
	if n := names(t, s, "a1"); len(n) != 0 {
		t.Fatalf("refused views were kept: %v", n)
	}
}

// TestSaveLimit: an agent keeps at most MaxPerAgent views; replacing one at the limit is
// allowed, a new name is not, and another agent is not affected.
func TestSaveLimit(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "savedviews.db"))
	for i := range savedviews.MaxPerAgent {
		if _, err := s.Save("a1", fmt.Sprintf("view %02d", i), "flow=voice", now); err != nil {
			t.Fatalf("save %d: %v", i, err)
		}
	}
	if _, err := s.Save("a1", "one too many", "", now); !errors.Is(err, savedviews.ErrFull) {
		t.Fatalf("save beyond the limit: %v, want ErrFull", err)
	}
	if _, err := s.Save("a1", "view 00", "flow=email", now); err != nil {
		t.Fatalf("replace at the limit: %v", err)
	}
	if _, err := s.Save("a10", "mine", "", now); err != nil {
		t.Fatalf("another agent (whose id shares a prefix) at a1's limit: %v", err)
	}
	if n := len(names(t, s, "a1")); n != savedviews.MaxPerAgent {
		t.Fatalf("a1 keeps %d views", n)
	}
}
