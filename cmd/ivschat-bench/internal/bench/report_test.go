package bench

import "testing"

func TestJudge(t *testing.T) {
	result := func(target, kind string, params map[string]any, metric string, value float64, correct bool) *Result {
		return &Result{Scenario: kind, Kind: kind, Target: target, Params: params,
			Metrics: map[string]float64{metric: value}, Correct: correct}
	}
	at := func(rate float64) map[string]any { return map[string]any{"rate": rate} }
	minting := map[string]any{"mint_during": true}
	const (
		idle   = "memory per idle connection ≤ 1.0× baseline"
		fanout = "deliveries/s ≥ 0.95× baseline, nothing lost"
		storm  = "connections/s ≥ 0.4× baseline with a token minted per member during the storm, every token opened once"
		mint   = "≥ 20,000 signed CreateChatToken/s"
	)
	for _, tc := range []struct {
		rule    string
		results []*Result
		want    string
		goal    string
	}{
		{"a ratio at most its limit passes", []*Result{result("ivschatd", "idle", nil, "kib_per_conn", 8, true), result("baseline", "idle", nil, "kib_per_conn", 8, true)},
			"PASS", idle},
		{"a ratio past its limit fails", []*Result{result("ivschatd", "idle", nil, "kib_per_conn", 8.1, true), result("baseline", "idle", nil, "kib_per_conn", 8, true)},
			"FAIL", idle},
		{"a fan-out at 90/s is judged by deliveries", []*Result{result("ivschatd", "fanout", at(90), "deliveries_per_s", 95, true), result("baseline", "fanout", at(90), "deliveries_per_s", 100, true)},
			"PASS", fanout},
		{"a ratio goal without its baseline is not judged", []*Result{result("ivschatd", "storm", minting, "connections_per_s", 1, true)},
			"not judged", storm},
		{"wrong results fail without a baseline too", []*Result{result("ivschatd", "storm", minting, "connections_per_s", 1, false)},
			"FAIL", storm},
		{"a floor needs no baseline", []*Result{result("ivschatd", "mint", nil, "calls_per_s", 20000, true)},
			"PASS", mint},
		{"below the floor fails", []*Result{result("ivschatd", "mint", nil, "calls_per_s", 19999, true)},
			"FAIL", mint},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			found := false
			for _, v := range Judge(tc.results) {
				if v.Goal == tc.goal {
					found = true
					if v.Outcome() != tc.want {
						t.Fatalf("verdict %+v, want %s", *v, tc.want)
					}
				}
			}
			if !found {
				t.Fatalf("no verdict on %q", tc.goal)
			}
		})
	}
	t.Run("a storm with tokens minted beforehand is not judged", func(t *testing.T) {
		if v := Judge([]*Result{result("ivschatd", "storm", map[string]any{"mint_during": false}, "connections_per_s", 1, true)}); len(v) != 0 {
			t.Fatalf("verdicts %+v", v)
		}
	})
}
