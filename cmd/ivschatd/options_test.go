package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ivschatd/ivschatd/internal/server"
)

// env is an environment for load.
func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ivschatd.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPrecedenceFlagEnvFileDefault(t *testing.T) {
	file := writeFile(t, "max-rooms: 30\nregion: eu-west-1\nreview-timeout: 300ms\nws-connection-rate: 5\ns3-path-style: true\n"+
		"review-handler:\n  arn:aws:lambda:us-east-1:123456789012:function:f: http://127.0.0.1:9/review\n"+
		"trusted-proxies: [10.0.0.0/8, 192.168.1.1]\n")
	for _, tt := range []struct {
		rule  string
		args  []string
		env   []string
		check func(c *server.Config) bool
	}{
		{"the file sets what nothing else does", []string{"--config", file}, nil,
			func(c *server.Config) bool {
				return c.MaxRooms == 30 && c.Region == "eu-west-1" && c.Review.Timeout == 300*time.Millisecond
			}},
		{"the file sets floats, bools, pairs and lists", []string{"--config", file}, nil,
			func(c *server.Config) bool {
				return c.Gateway.ConnectionRequestRate == 5 && c.Chatlog.S3PathStyle && len(c.Gateway.TrustedProxies) == 2 &&
					c.Review.HTTPEndpoints["arn:aws:lambda:us-east-1:123456789012:function:f"] == "http://127.0.0.1:9/review"
			}},
		{"the environment beats the file", []string{"--config", file}, []string{"IVSCHATD_MAX_ROOMS", "40"},
			func(c *server.Config) bool { return c.MaxRooms == 40 && c.Region == "eu-west-1" }},
		{"a flag beats the environment and the file", []string{"--config", file, "--max-rooms", "50"}, []string{"IVSCHATD_MAX_ROOMS", "40"},
			func(c *server.Config) bool { return c.MaxRooms == 50 }},
		{"the file can be named in the environment", nil, []string{"IVSCHATD_CONFIG", file},
			func(c *server.Config) bool { return c.MaxRooms == 30 }},
		{"without a file the defaults stand", nil, nil,
			func(c *server.Config) bool { return reflect.DeepEqual(*c, server.DefaultConfig()) }},
		{"the environment alone sets a flag", nil, []string{"IVSCHATD_REGION", "ap-south-1"},
			func(c *server.Config) bool { return c.Region == "ap-south-1" }},
		{"access keys come from the environment only", nil, []string{"IVSCHATD_ACCESS_KEY_ID", "AKID", "IVSCHATD_SECRET_ACCESS_KEY", "s"},
			func(c *server.Config) bool { return c.AccessKeyID == "AKID" && c.SecretAccessKey == "s" }},
	} {
		t.Run(tt.rule, func(t *testing.T) {
			o, err := load(tt.args, env(tt.env...), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(&o.cfg) {
				t.Errorf("configuration %+v", o.cfg)
			}
		})
	}
}

func TestConfigFileIsStrict(t *testing.T) {
	for _, tt := range []struct {
		rule, file, want string
	}{
		{"an unknown key is named with its line", "region: us-east-1\nmax-room: 5\n", `ivschatd.yaml:2: unknown key "max-room"`},
		{"an integer setting refuses a string", "max-rooms: many\n", `ivschatd.yaml:1: max-rooms: must be an integer, not "many"`},
		{"an integer setting refuses a list", "\n\nmax-rooms: [1]\n", `ivschatd.yaml:3: max-rooms: must be an integer, not a list`},
		{"a duration refuses a bare number", "review-timeout: 200\n", `ivschatd.yaml:1: review-timeout: must be a duration`},
		{"a duration that does not parse is named", "review-timeout: soon\n", `ivschatd.yaml:1: review-timeout: time: invalid duration "soon"`},
		{"a bool refuses a string", "s3-path-style: yes please\n", `ivschatd.yaml:1: s3-path-style: must be true or false`},
		{"a key given twice is refused", "region: a\nregion: b\n", `ivschatd.yaml:2: region is set twice (first at line 1)`},
		{"the file cannot name another file", "config: other.yaml\n", `unknown key "config"`},
		{"the file must be a mapping", "- region\n", `ivschatd.yaml:1: the configuration must be a mapping`},
		{"YAML that does not parse is refused with its line", "region: [\n", `ivschatd.yaml: yaml: line`},
		{"a bad value in a list is named", "trusted-proxies: [10.0.0.0/8, nonsense]\n", `trusted-proxies: "nonsense" is not an address or CIDR`},
		{"a choice outside its set is named", "log-level: loud\n", `log-level: "loud" is not one of debug, info, warn, error`},
		{"the rules apply to values from the file", "max-rooms: -5\n", `--max-rooms -5: must be from 1`},
	} {
		t.Run(tt.rule, func(t *testing.T) {
			_, err := load([]string{"--config", writeFile(t, tt.file)}, env(), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	t.Run("a missing file is an error", func(t *testing.T) {
		if _, err := load([]string{"--config", "/nonexistent/ivschatd.yaml"}, env(), &bytes.Buffer{}); err == nil {
			t.Error("loaded")
		}
	})
	t.Run("an empty file sets nothing", func(t *testing.T) {
		o, err := load([]string{"--config", writeFile(t, "")}, env(), &bytes.Buffer{})
		if err != nil || !reflect.DeepEqual(o.cfg, server.DefaultConfig()) {
			t.Errorf("%v %+v", err, o)
		}
	})
}

func TestNonsenseValuesAreRefused(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-rooms", "-5"}, "--max-rooms -5: must be from 1"},
		{[]string{"--max-rooms", "0"}, "--max-rooms 0: must be from 1"},
		{[]string{"--max-logging-configurations", "0"}, "--max-logging-configurations 0: must be from 1"},
		{[]string{"--token-lifetime", "0"}, "--token-lifetime 0s: must be at least 1s"},
		{[]string{"--review-timeout", "-1s"}, "--review-timeout -1s: must be more than 0"},
		{[]string{"--review-timeout", "2h"}, "--review-timeout 2h0m0s: must be more than 0 and at most 1m"},
		{[]string{"--review-concurrency", "0"}, "--review-concurrency 0: must be at least 1"},
		{[]string{"--replicas", "-1"}, "--replicas -1: must be from 0"},
		{[]string{"--replicas", "7"}, "--replicas 7: must be from 0"},
		{[]string{"--ws-frame-rate", "-1"}, "--ws-frame-rate -1: must be 0 (no limit) or more"},
		{[]string{"--ws-frame-burst", "0"}, "--ws-frame-burst 0: must be at least 1"},
		{[]string{"--ws-connection-rate", "-1"}, "--ws-connection-rate -1: must be 0 (no limit) or more"},
		{[]string{"--ws-max-frame-bytes", "10"}, "--ws-max-frame-bytes 10: must be from 1024"},
		{[]string{"--ws-queue-frames", "0"}, "--ws-queue-frames 0: must be at least 1"},
		{[]string{"--ws-ping-interval", "0"}, "--ws-ping-interval 0s: must be at least 1s"},
		{[]string{"--token-key-rotation", "1s"}, "--token-key-rotation 1s: must be 0 (never) or at least 1m"},
		{[]string{"--s3-batch-bytes", "0"}, "--s3-batch-bytes 0: must be at least 1"},
		{[]string{"--s3-batch-interval", "0"}, "--s3-batch-interval 0s: must be more than 0"},
		{[]string{"--chatlog-batch-interval", "-1s"}, "--chatlog-batch-interval -1s: must be more than 0"},
		{[]string{"--chatlog-retry-max", "0"}, "--chatlog-retry-max 0s: must be more than 0"},
		{[]string{"--chatlog-ack-wait", "10ms"}, "--chatlog-ack-wait 10ms: must be at least 1s"},
		{[]string{"--chatlog-max-age", "0"}, "--chatlog-max-age 0s: must be more than 0"},
		{[]string{"--chatlog-max-bytes", "-2"}, "--chatlog-max-bytes -2: must be -1"},
		{[]string{"--body-timeout", "0"}, "--body-timeout must be positive"},
		{[]string{"--max-pending-body-bytes", "1"}, "--max-pending-body-bytes must be at least"},
		{[]string{"--log-level", "verbose"}, `"verbose" is not one of debug, info, warn, error`},
		{[]string{"--log-format", "xml"}, `"xml" is not one of text, json`},
		{[]string{"--max-rooms", "ten"}, `invalid value "ten" for flag -max-rooms`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := load(tt.args, env(), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	t.Run("values from the environment are checked too", func(t *testing.T) {
		_, err := load(nil, env("IVSCHATD_MAX_ROOMS", "-5"), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "--max-rooms -5") {
			t.Errorf("error %v", err)
		}
	})
}

// Every numeric and duration setting has a rule: a new flag cannot slip in unbounded.
func TestEveryNumericSettingHasARule(t *testing.T) {
	o := &options{}
	fs := newFlags(o)
	bounded := map[string]bool{}
	for _, r := range rules {
		if fs.Lookup(r.flag) == nil {
			t.Errorf("rule for %s, which is not a flag", r.flag)
		}
		bounded[r.flag] = true
	}
	fs.VisitAll(func(f *flag.Flag) {
		switch kindOf(f) {
		case kindInt, kindFloat, kindDuration:
			if !bounded[f.Name] && !checkedByTheirPackage[f.Name] {
				t.Errorf("--%s has no rule", f.Name)
			}
		}
	})
}

func TestConfigCommandPrintsAFileThatLoadsBack(t *testing.T) {
	args := []string{"--max-rooms", "7", "--region", "eu-central-1", "--review-timeout", "150ms", "--ws-connection-rate", "2.5",
		"--s3-path-style", "--review-handler", "arn:aws:lambda:us-east-1:123456789012:function:f=http://127.0.0.1:9/r",
		"--trusted-proxies", "10.0.0.0/8,::1", "--s3-local-dir", "logs=/tmp/logs", "--log-format", "json", "--ws-addr", "127.0.0.1:9000"}
	var out bytes.Buffer
	if err := run(append([]string{"config"}, args...), &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	want, err := load(args, env(), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := load([]string{"--config", writeFile(t, out.String())}, env(), &bytes.Buffer{})
	if err != nil {
		t.Fatalf("the printed configuration does not load: %v\n%s", err, out.String())
	}
	if !reflect.DeepEqual(got.cfg, want.cfg) || got.logFormat != want.logFormat || got.logLevel != want.logLevel {
		t.Errorf("loaded back\n%+v\nwant\n%+v\nfrom\n%s", got.cfg, want.cfg, out.String())
	}
	t.Run("passwords in URLs are masked", func(t *testing.T) {
		var out bytes.Buffer
		if err := run([]string{"config", "--nats-url", "nats://ivschatd:hunter2@10.0.0.1:4222,nats://10.0.0.2:4222"}, &out, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), "hunter2") || !strings.Contains(out.String(), "nats://ivschatd:xxxxx@10.0.0.1:4222,nats://10.0.0.2:4222") {
			t.Errorf("printed:\n%s", out.String())
		}
	})
}

func TestCommandLine(t *testing.T) {
	t.Run("--help goes to stdout and is no error", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		err := run([]string{"--help"}, &stdout, &stderr)
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stdout.String(), "-admin-addr") || stderr.Len() != 0 {
			t.Errorf("err %v, stdout %d bytes, stderr %q", err, stdout.Len(), stderr.String())
		}
	})
	t.Run("a bad flag is one line with a hint", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		err := run([]string{"--no-such-flag"}, &stdout, &stderr)
		if err == nil || strings.Count(err.Error(), "\n") != 0 || !strings.Contains(err.Error(), "see ivschatd --help") {
			t.Errorf("err %q", err)
		}
		if stdout.Len()+stderr.Len() != 0 {
			t.Errorf("printed the usage: %q %q", stdout.String(), stderr.String())
		}
	})
	t.Run("--pprof-addr says what replaced it", func(t *testing.T) {
		err := run([]string{"--pprof-addr", "127.0.0.1:6060"}, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "replaced by --admin-addr") {
			t.Errorf("err %v", err)
		}
	})
	for _, args := range [][]string{{"version"}, {"--version"}} {
		t.Run(strings.Join(args, " ")+" prints the version", func(t *testing.T) {
			var stdout bytes.Buffer
			if err := run(args, &stdout, &bytes.Buffer{}); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"ivschatd ", "revision ", "committed ", "go1."} {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("%q lacks %q", stdout.String(), want)
				}
			}
		})
	}
}

func TestUnreachableNATSFailsClearlyInBoundedTime(t *testing.T) {
	var stdout, stderr bytes.Buffer
	start := time.Now()
	err := run([]string{"--nats-url", "nats://ivschatd:secret@127.0.0.1:1", "--nats-connect-timeout", "2s",
		"--addr", "127.0.0.1:0", "--admin-addr", "", "--data-dir", t.TempDir()}, &stdout, &stderr)
	if err == nil {
		t.Fatal("started without NATS")
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("gave up after %v, bound 2s", took)
	}
	for _, want := range []string{"NATS at nats://ivschatd:xxxxx@127.0.0.1:1 did not answer within 2s", "--nats-url"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !strings.Contains(stderr.String(), `msg="connecting to NATS" url=nats://ivschatd:xxxxx@127.0.0.1:1`) {
		t.Errorf("no progress line in the log:\n%s", stderr.String())
	}
	if strings.Contains(err.Error()+stderr.String(), "secret") {
		t.Error("the NATS password is in the output")
	}
}
