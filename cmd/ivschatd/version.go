package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// printVersion writes the module version, the VCS revision and time the binary was built from,
// and the Go version, as the build recorded them.
func printVersion(w io.Writer) {
	version, revision, at, modified := "(unknown)", "(unknown)", "(unknown)", ""
	goVersion := runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		version, goVersion = bi.Main.Version, bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = " (with uncommitted changes)"
				}
			}
		}
	}
	fmt.Fprintf(w, "ivschatd %s\nrevision %s%s\ncommitted %s\n%s %s/%s\n", version, revision, modified, at, goVersion, runtime.GOOS, runtime.GOARCH)
}
