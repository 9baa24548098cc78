package bench

import "testing"

func TestJudge(t *testing.T) {
	result := func(target, kind string, rate float64, metric string, value float64, correct bool) *Result {
		return &Result{Scenario: kind, Kind: kind, Target: target, Params: map[string]any{"rate": rate},
			Metrics: map[string]float64{metric: value}, Correct: correct}
	}
	for _, tc := range []struct {
		rule    string
		results []*Result
		want    string
		goal    string
	}{
		{"a ratio at most its limit passes", []*Result{result("ivschatd", "idle", 0, "kib_per_conn", 12, true), result("baseline", "idle", 0, "kib_per_conn", 8, true)},
			"PASS", "memory per idle connection ≤ 1.5× baseline"},
		{"a ratio past its limit fails", []*Result{result("ivschatd", "idle", 0, "kib_per_conn", 13, true), result("baseline", "idle", 0, "kib_per_conn", 8, true)},
			"FAIL", "memory per idle connection ≤ 1.5× baseline"},
		{"a fan-out at 100/s is judged by deliveries", []*Result{result("ivschatd", "fanout", 100, "deliveries_per_s", 70, true), result("baseline", "fanout", 100, "deliveries_per_s", 100, true)},
			"PASS", "deliveries/s ≥ 0.7× baseline, nothing lost"},
		{"a ratio goal without its baseline is not judged", []*Result{result("ivschatd", "storm", 0, "connections_per_s", 1, true)},
			"not judged", "connections/s ≥ 0.5× baseline, every token opened once"},
		{"wrong results fail without a baseline too", []*Result{result("ivschatd", "storm", 0, "connections_per_s", 1, false)},
			"FAIL", "connections/s ≥ 0.5× baseline, every token opened once"},
		{"a floor needs no baseline", []*Result{result("ivschatd", "mint", 0, "calls_per_s", 20000, true)},
			"PASS", "≥ 20,000 signed CreateChatToken/s"},
		{"below the floor fails", []*Result{result("ivschatd", "mint", 0, "calls_per_s", 19999, true)},
			"FAIL", "≥ 20,000 signed CreateChatToken/s"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			got := Judge(tc.results)
			if len(got) != 1 || got[0].Goal != tc.goal || got[0].Outcome() != tc.want {
				for _, v := range got {
					t.Logf("verdict %+v", *v)
				}
				t.Fatalf("want one verdict %q on %q", tc.want, tc.goal)
			}
		})
	}
}
