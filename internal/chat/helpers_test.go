package chat

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

func asError(err error, target **Error) bool { return errors.As(err, target) }

// fieldNames returns the sorted, de-duplicated names of err's failing members, or nil when
// err is nil. It fails the test when err is not a validation error.
func fieldNames(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *chat.Error", err, err)
	}
	if e.Kind != KindValidation {
		t.Fatalf("error %v has kind %v, want KindValidation", err, e.Kind)
	}
	if len(e.Fields) == 0 {
		t.Fatalf("validation error %v names no field", err)
	}
	var names []string
	for _, f := range e.Fields {
		if f.Message == "" {
			t.Fatalf("field %q has no message", f.Name)
		}
		if !strings.Contains(e.Message, f.Name) {
			t.Fatalf("message %q does not mention field %q", e.Message, f.Name)
		}
		names = append(names, f.Name)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// assertFields checks that err is a validation error naming exactly want (or nil for none).
func assertFields(t *testing.T, err error, want ...string) {
	t.Helper()
	got := fieldNames(t, err)
	want = slices.Clone(want)
	slices.Sort(want)
	want = slices.Compact(want)
	if !slices.Equal(got, want) {
		t.Fatalf("failing fields = %q, want %q (error: %v)", got, want, err)
	}
}

// str returns a string of n code points, each c.
func str(c string, n int) string { return strings.Repeat(c, n) }

// tagsOf returns n distinct tags.
func tagsOf(n int) map[string]string {
	m := make(map[string]string, n)
	for i := 0; i < n; i++ {
		m["k"+strings.Repeat("x", i)] = "v"
	}
	return m
}
