// Command gotest-report reads `go test -json` on stdin and prints what plain `go test` prints
// (a line per package, the full output of every failing test, build errors), then one line
// that counts the tests: scripts/test uses it for its summary.
//
//	go test -json ./... | go run ./scripts/gotest-report -counts FILE
//
// FILE gets "tests=N subtests=N skipped=N failed=N packages=N", one shell assignment per
// line. The exit status is 1 when a test, a package or a build failed.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json`: a test event, or a build event (ImportPath set).
type event struct {
	Action      string
	Package     string
	Test        string
	Output      string
	FailedBuild string
	ImportPath  string
}

type counts struct {
	tests, subtests, skipped, failed, packages int
	buildFailed                                bool
}

func main() {
	countsFile := flag.String("counts", "", "write the counts to this file as shell assignments")
	flag.Parse()
	c, err := report(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gotest-report:", err)
		os.Exit(1)
	}
	fmt.Printf("go test: %d tests and %d subtests passed, %d skipped, %d failed, in %d packages\n",
		c.tests, c.subtests, c.skipped, c.failed, c.packages)
	if *countsFile != "" {
		body := fmt.Sprintf("tests=%d\nsubtests=%d\nskipped=%d\nfailed=%d\npackages=%d\n",
			c.tests, c.subtests, c.skipped, c.failed, c.packages)
		if err := os.WriteFile(*countsFile, []byte(body), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gotest-report:", err)
			os.Exit(1)
		}
	}
	if c.failed > 0 || c.buildFailed {
		os.Exit(1)
	}
}

func report(in io.Reader, out io.Writer) (counts, error) {
	var c counts
	// Output of tests and packages still running, kept until they end: a failure prints it.
	running := map[string][]string{}
	key := func(e event) string { return e.Package + "\x00" + e.Test }
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(out, "%s\n", line) // not an event: go's own messages
			continue
		}
		switch e.Action {
		case "build-output":
			fmt.Fprint(out, e.Output)
		case "build-fail":
			c.buildFailed = true
		case "output":
			if e.Test == "" && isPackageResult(e.Output) {
				fmt.Fprint(out, e.Output)
				continue
			}
			running[key(e)] = append(running[key(e)], e.Output)
		case "pass", "skip", "fail":
			k := key(e)
			lines := running[k]
			delete(running, k)
			if e.Test == "" {
				if e.Action != "skip" {
					c.packages++
				}
				if e.Action == "fail" {
					c.failed += leftOver(out, e.Package, running)
					if e.FailedBuild == "" {
						printLines(out, lines)
					}
					c.failed++ // the package itself
				}
				continue
			}
			sub := strings.Contains(e.Test, "/")
			switch {
			case e.Action == "skip":
				c.skipped++
			case e.Action == "fail":
				c.failed++
				printLines(out, lines)
			case sub:
				c.subtests++
			default:
				c.tests++
			}
		}
	}
	return c, sc.Err()
}

// isPackageResult says whether a package-level line is the one plain `go test` prints for it.
func isPackageResult(s string) bool {
	return strings.HasPrefix(s, "ok  \t") || strings.HasPrefix(s, "FAIL\t") || strings.HasPrefix(s, "?   \t")
}

// leftOver prints the output of a failed package's tests that never ended (a timeout or a
// crash ends the binary under them) and says how many there were.
func leftOver(out io.Writer, pkg string, running map[string][]string) int {
	var keys []string
	for k := range running {
		if p, test, _ := strings.Cut(k, "\x00"); p == pkg && test != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		_, test, _ := strings.Cut(k, "\x00")
		fmt.Fprintf(out, "--- unfinished: %s\n", test)
		printLines(out, running[k])
		delete(running, k)
	}
	return len(keys)
}

// printLines prints a test's output without the runner's own === lines.
func printLines(out io.Writer, lines []string) {
	for _, l := range lines {
		t := strings.TrimLeft(l, " ")
		if strings.HasPrefix(t, "=== RUN") || strings.HasPrefix(t, "=== PAUSE") || strings.HasPrefix(t, "=== CONT") || strings.HasPrefix(t, "=== NAME") {
			continue
		}
		fmt.Fprint(out, l)
	}
}
