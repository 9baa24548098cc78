package bench

import "testing"

func TestJudgeComparesWithTheBaselineOfTheSameRun(t *testing.T) {
	idle := func(target string, kib float64, correct bool) *Result {
		return &Result{Scenario: "idle 100", Kind: "idle", Target: target, Correct: correct,
			Metrics: map[string]float64{"kib_per_conn": kib}}
	}
	tests := []struct {
		name    string
		results []*Result
		want    string
	}{
		{"within the ratio passes", []*Result{idle("ivschatd", 10, true), idle("baseline", 8, true)}, "PASS"},
		{"beyond the ratio fails", []*Result{idle("ivschatd", 20, true), idle("baseline", 8, true)}, "FAIL"},
		{"a wrong result fails within the ratio", []*Result{idle("ivschatd", 10, false), idle("baseline", 8, true)}, "FAIL"},
		{"no baseline in the run is not judged", []*Result{idle("ivschatd", 10, true)}, "not judged"},
		{"a wrong result fails without a baseline", []*Result{idle("ivschatd", 10, false)}, "FAIL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Judge(tt.results)
			if len(v) != 1 {
				t.Fatalf("got %d verdicts, want 1", len(v))
			}
			if got := v[0].Outcome(); got != tt.want {
				t.Fatalf("outcome %q, want %q (%+v)", got, tt.want, v[0])
			}
		})
	}
}

func TestJudgeAbsoluteGoalsNeedNoBaseline(t *testing.T) {
	mint := func(calls float64) []*Result {
		return []*Result{{Scenario: "mint sdk", Kind: "mint", Target: "ivschatd", Correct: true,
			Metrics: map[string]float64{"calls_per_s": calls}}}
	}
	for _, tt := range []struct {
		calls float64
		want  string
	}{{25000, "PASS"}, {15000, "FAIL"}} {
		if got := Judge(mint(tt.calls))[0].Outcome(); got != tt.want {
			t.Errorf("%v calls/s: %q, want %q", tt.calls, got, tt.want)
		}
	}
}
