package chat

import (
	"strings"
	"testing"
)

func TestReachReviewHandler(t *testing.T) {
	const own, other = "111111111111", "999999999999"
	fnOwn := "arn:aws:lambda:us-east-1:" + own + ":function:review"
	fnOther := "arn:aws:lambda:us-east-1:" + other + ":function:review"
	multi := &Reach{Allow: map[string]Allowance{"222222222222": {Lambda: []string{"arn:aws:lambda:*:" + other + ":function:*"}}}}
	for _, tc := range []struct {
		rule    string
		reach   *Reach
		account string
		uri     string
		allowed bool
	}{
		{"an account may name its own function", multi, own, fnOwn, true},
		{"an alias of its own function is its own", multi, own, fnOwn + ":live", true},
		{"another account's function is refused", multi, own, fnOther, false},
		{"an allowance names another account's functions", multi, "222222222222", fnOther, true},
		{"an allowance is for its account only", multi, own, fnOther, false},
		{"an alias of an allowed function is allowed", multi, "222222222222", fnOther + ":live", true},
		{"a wildcard cannot stretch over the account field", multi, "222222222222", "arn:aws:lambda:us-east-1:888888888888:function:" + other + ":function:f", false},
		{"no handler names nothing", multi, own, "", true},
		{"in a single-account setup every function is the account's", &Reach{SingleAccount: true}, own, fnOther, true},
		{"the zero Reach allows only an account's own functions", &Reach{}, own, fnOther, false},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			err := tc.reach.CheckReviewHandler(tc.account, tc.uri)
			checkReach(t, err, tc.allowed, tc.uri)
		})
	}
}

func TestReachDestination(t *testing.T) {
	const a = "111111111111"
	reach := &Reach{Allow: map[string]Allowance{a: {S3: []string{"bucket-a"}, Logs: []string{"/ivs/a/*"}, Firehose: []string{"stream-*-a"}}}}
	s3 := func(n string) Destination { return Destination{S3: &S3Destination{BucketName: n}} }
	logs := func(n string) Destination {
		return Destination{CloudWatchLogs: &CloudWatchLogsDestination{LogGroupName: n}}
	}
	firehose := func(n string) Destination { return Destination{Firehose: &FirehoseDestination{DeliveryStreamName: n}} }
	for _, tc := range []struct {
		rule    string
		reach   *Reach
		account string
		dest    Destination
		name    string
		allowed bool
	}{
		{"an allowed bucket", reach, a, s3("bucket-a"), "bucket-a", true},
		{"a bucket not allowed is refused", reach, a, s3("bucket-b"), "bucket-b", false},
		{"a bucket name is matched whole", reach, a, s3("bucket-a2"), "bucket-a2", false},
		{"a log group under an allowed prefix", reach, a, logs("/ivs/a/room"), "/ivs/a/room", true},
		{"a log group outside it is refused", reach, a, logs("/ivs/b/room"), "/ivs/b/room", false},
		{"a delivery stream matching the pattern", reach, a, firehose("stream-chat-a"), "stream-chat-a", true},
		{"a delivery stream not matching it is refused", reach, a, firehose("stream-chat-b"), "stream-chat-b", false},
		{"another account gets nothing from this one's allowance", reach, "222222222222", s3("bucket-a"), "bucket-a", false},
		{"an allowance of one kind does not cover another", reach, a, logs("bucket-a"), "bucket-a", false},
		{"in a single-account setup every destination is the account's", &Reach{SingleAccount: true}, a, s3("anything"), "anything", true},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			checkReach(t, tc.reach.CheckDestination(tc.account, tc.dest), tc.allowed, tc.name)
		})
	}
}

func checkReach(t *testing.T, err error, allowed bool, resource string) {
	t.Helper()
	if allowed {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	var e *Error
	if !asError(err, &e) || e.Kind != KindAccessDenied {
		t.Fatalf("got %v, want an access-denied error", err)
	}
	if !strings.Contains(e.Message, resource) {
		t.Fatalf("message %q does not name %s", e.Message, resource)
	}
}

func TestMatchPattern(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"abc", "abc", true},
		{"abc", "abcd", false},
		{"*", "", true},
		{"*", "a/b.c", true},
		{"*", "a:b", false},
		{"a*", "a", true},
		{"a*c", "abc", true},
		{"a*c", "ab", false},
		{"a*b*c", "axbyc", true},
		{"a*b*c", "acb", false},
		{"*ab", "ab", true},
		{"a*ab", "ab", false},
		{"arn:aws:lambda:*:999999999999:function:*", "arn:aws:lambda:eu-west-1:999999999999:function:f", true},
		{"a*", "a:b", false},
		{"*:b", "a:b", true},
		{"a**c", "abc", true},
		{"arn:aws:lambda:*:999999999999:function:*", "arn:aws:lambda:eu-west-1:888888888888:function:999999999999:function:f", false},
	} {
		if got := matchPattern(tc.pattern, tc.s); got != tc.want {
			t.Errorf("matchPattern(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestAllowanceValidate(t *testing.T) {
	for _, tc := range []struct {
		rule string
		a    Allowance
		ok   bool
	}{
		{"names and patterns of every kind", Allowance{Lambda: []string{"arn:aws:lambda:*:999999999999:function:*"}, S3: []string{"b"}, Logs: []string{"/g/*"}, Firehose: []string{"s"}}, true},
		{"an empty entry is refused", Allowance{S3: []string{""}}, false},
		{"surrounding spaces are refused", Allowance{Logs: []string{" g"}}, false},
		{"a lambda entry must be a function ARN pattern", Allowance{Lambda: []string{"*"}}, false},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			if err := tc.a.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
