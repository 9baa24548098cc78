package chat

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestNewLogRecord(t *testing.T) {
	at := time.Date(2023, 1, 5, 14, 33, 32, 894089757, time.FixedZone("CET", 3600))
	sender := &Token{UserID: "u", Attributes: map[string]string{"a": "b"}}
	for _, c := range []struct {
		name    string
		payload []byte
		typ     string
	}{
		{"a message", Encode(NewMessage("WhO6MW6iRdS5", "", "bbiab!", nil, sender, at)), TypeMessage},
		{"an event", Encode(NewEvent("AYk6xKitV4On", "r1", "app:x", map[string]string{"k": "v"}, at)), TypeEvent},
		{"a deletion", Encode(NewDeleteMessageEvent("AYk6xKitV4On", "", "WhO6MW6iRdS5", "spam", at)), TypeEvent},
		{"a disconnection", Encode(NewDisconnectUserEvent("AYk6xKitV4On", "", "u", "", at)), TypeEvent},
		{"a message not made by Encode", []byte(` {"Id":"x","Type":"MESSAGE"}`), TypeMessage},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := NewLogRecord(c.payload, at)
			want := `{"event_timestamp":"2023-01-05T13:33:32.894Z","type":"` + c.typ + `","version":"1.0","payload":` + string(c.payload) + `}`
			if string(rec) != want {
				t.Fatalf("record\n%s\nwant\n%s", rec, want)
			}
			var r struct {
				Payload json.RawMessage `json:"payload"`
			}
			if err := json.Unmarshal(rec, &r); err != nil || string(r.Payload) != strings.TrimSpace(string(c.payload)) {
				t.Fatalf("record is not JSON carrying the payload unchanged: %v", err)
			}
			got, ok := LogRecordTime(rec)
			if !ok || !got.Equal(at.Truncate(time.Millisecond)) {
				t.Fatalf("LogRecordTime = %v, %v", got, ok)
			}
		})
	}
	for _, bad := range []string{"", "{}", `{"event_timestamp":"yesterday at noon, roughly"}`} {
		if _, ok := LogRecordTime([]byte(bad)); ok {
			t.Errorf("LogRecordTime(%q) ok", bad)
		}
	}
}

func TestDestinationNaming(t *testing.T) {
	dests := []Destination{
		{S3: &S3Destination{BucketName: "logs"}},
		{CloudWatchLogs: &CloudWatchLogsDestination{LogGroupName: "logs"}},
		{CloudWatchLogs: &CloudWatchLogsDestination{LogGroupName: "/aws/ivs#chat.logs_1"}},
		{Firehose: &FirehoseDestination{DeliveryStreamName: "logs"}},
	}
	token := regexp.MustCompile(`^[a-z0-9]+-[0-9a-f]{24}$`)
	seen := map[string]bool{}
	for _, d := range dests {
		key := d.Key()
		if !token.MatchString(key) || seen[key] {
			t.Fatalf("key %q: not a subject token and consumer name, or not unique", key)
		}
		seen[key] = true
		kind, name := d.Kind()
		back, ok := ParseDestination(kind, name)
		if !ok || back.Key() != key {
			t.Fatalf("ParseDestination(%q, %q) does not give the destination back", kind, name)
		}
	}
	for _, bad := range [][2]string{{"s3", ""}, {"sqs", "q"}, {"", "x"}} {
		if _, ok := ParseDestination(bad[0], bad[1]); ok {
			t.Errorf("ParseDestination(%q, %q) ok", bad[0], bad[1])
		}
	}
}

func TestLogLocations(t *testing.T) {
	at := time.Date(2023, 1, 5, 9, 3, 32, 894e6, time.FixedZone("PST", -8*3600))
	if got, want := S3LogKey("123456789012", "us-west-2", "WhO6MW6iRdS5", at, "0a1b2c3d"),
		"AWSLogs/123456789012/IVSChatLogs/1.0/us-west-2/room_WhO6MW6iRdS5/2023/01/05/17/123456789012_IVSChatLogs_1.0_us-west-2_room_WhO6MW6iRdS5_20230105T1703Z_0a1b2c3d.log.gz"; got != want {
		t.Errorf("S3LogKey = %s, want %s", got, want)
	}
	if got := CloudWatchLogStream("WhO6MW6iRdS5"); got != "aws/IVSChatLogs/1.0/room_WhO6MW6iRdS5" {
		t.Errorf("CloudWatchLogStream = %s", got)
	}
	if got := LoggingConfigurationID("arn:aws:ivschat:us-east-1:123456789012:logging-configuration/ABcd1234EFgh"); got != "ABcd1234EFgh" {
		t.Errorf("LoggingConfigurationID = %s", got)
	}
}
