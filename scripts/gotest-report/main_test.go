package main

import (
	"strings"
	"testing"
)

func TestReportCountsAndShowsFailures(t *testing.T) {
	const (
		passing = `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"run","Package":"p","Test":"TestA/one"}
{"Action":"pass","Package":"p","Test":"TestA/one"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"skip","Package":"p","Test":"TestB"}
{"Action":"output","Package":"p","Output":"ok  \tp\t0.1s\n"}
{"Action":"pass","Package":"p"}
{"Action":"output","Package":"q","Output":"?   \tq\t[no test files]\n"}
{"Action":"skip","Package":"q"}
`
		failing = `{"Action":"run","Package":"f","Test":"TestF"}
{"Action":"output","Package":"f","Test":"TestF","Output":"=== RUN   TestF\n"}
{"Action":"output","Package":"f","Test":"TestF","Output":"    f_test.go:9: got 2, want 3\n"}
{"Action":"output","Package":"f","Test":"TestF","Output":"--- FAIL: TestF (0.00s)\n"}
{"Action":"fail","Package":"f","Test":"TestF"}
{"Action":"output","Package":"f","Output":"FAIL\tf\t0.1s\n"}
{"Action":"fail","Package":"f"}
`
		timedOut = `{"Action":"run","Package":"h","Test":"TestHang"}
{"Action":"output","Package":"h","Test":"TestHang","Output":"    h_test.go:5: waiting\n"}
{"Action":"output","Package":"h","Output":"panic: test timed out after 1s\n"}
{"Action":"output","Package":"h","Output":"FAIL\th\t1.0s\n"}
{"Action":"fail","Package":"h"}
`
		buildFailed = `{"ImportPath":"b [b.test]","Action":"build-output","Output":"b/b.go:2:12: undefined: x\n"}
{"ImportPath":"b [b.test]","Action":"build-fail"}
{"Action":"output","Package":"b","Output":"FAIL\tb [build failed]\n"}
{"Action":"fail","Package":"b","FailedBuild":"b [b.test]"}
`
	)
	tests := []struct {
		name        string
		in          string
		want        counts
		shows       []string
		doesNotShow []string
	}{
		{"passing tests are counted and their output is not shown", passing,
			counts{tests: 1, subtests: 1, skipped: 1, packages: 1}, []string{"ok  \tp\t0.1s\n", "?   \tq"}, []string{"=== RUN"}},
		{"a failing test shows its output", failing,
			counts{failed: 2, packages: 1}, []string{"f_test.go:9: got 2, want 3", "--- FAIL: TestF", "FAIL\tf\t0.1s"}, []string{"=== RUN"}},
		{"a test a timeout ended shows its output and the panic", timedOut,
			counts{failed: 2, packages: 1}, []string{"--- unfinished: TestHang", "h_test.go:5: waiting", "panic: test timed out"}, nil},
		{"a build failure shows the compiler's message", buildFailed,
			counts{failed: 1, packages: 1, buildFailed: true}, []string{"undefined: x", "FAIL\tb [build failed]"}, nil},
		{"lines that are not events pass through", "go: downloading example.com/m v1.0.0\n",
			counts{}, []string{"go: downloading example.com/m"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			got, err := report(strings.NewReader(tt.in), &out)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("counts %+v, want %+v", got, tt.want)
			}
			for _, s := range tt.shows {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
			for _, s := range tt.doesNotShow {
				if strings.Contains(out.String(), s) {
					t.Errorf("output has %q:\n%s", s, out.String())
				}
			}
		})
	}
}
