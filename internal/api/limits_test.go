package api

import (
	"testing"
	"time"
)

func TestLimitsValidate(t *testing.T) {
	for _, tc := range []struct {
		rule   string
		limits Limits
		ok     bool
	}{
		{"the defaults are valid", DefaultLimits(), true},
		{"a zero body timeout is refused: bodies would be unbounded in time", Limits{BodyTimeout: 0, MaxPendingBodyBytes: MaxBodyBytes}, false},
		{"a negative body timeout is refused", Limits{BodyTimeout: -time.Second, MaxPendingBodyBytes: MaxBodyBytes}, false},
		{"a pending bound below one largest body is refused: such a body could never be read", Limits{BodyTimeout: time.Second, MaxPendingBodyBytes: MaxBodyBytes - 1}, false},
		{"a pending bound of exactly one largest body is valid", Limits{BodyTimeout: time.Second, MaxPendingBodyBytes: MaxBodyBytes}, true},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			if err := tc.limits.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate(%+v) = %v", tc.limits, err)
			}
		})
	}
}
