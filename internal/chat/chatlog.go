package chat

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// Chat logging: what a record looks like and where each destination puts it. The pipeline
// that carries records is in internal/engine (the stream) and internal/chatlog (shipping).

// LogRecordVersion is the version member of every chat-log record.
const LogRecordVersion = "1.0"

// logRecordPrefix starts every record, so that its time sits at a fixed offset.
const logRecordPrefix = `{"event_timestamp":"`

// NewLogRecord wraps an encoded MESSAGE or EVENT payload, exactly as clients received it, in
// a chat-log record: {"event_timestamp","type","version","payload"}. The type is the payload's.
func NewLogRecord(payload []byte, at time.Time) []byte {
	typ := payloadType(payload)
	b := make([]byte, 0, len(logRecordPrefix)+len(TimeLayout)+len(typ)+len(payload)+48)
	b = append(b, logRecordPrefix...)
	b = at.UTC().AppendFormat(b, TimeLayout)
	b = append(b, `","type":"`...)
	b = append(b, typ...)
	b = append(b, `","version":"`+LogRecordVersion+`","payload":`...)
	b = append(b, payload...)
	return append(b, '}')
}

// payloadType is the Type member of an encoded payload. Payloads made by Encode start with it;
// anything else is decoded.
func payloadType(payload []byte) string {
	for _, t := range [...]string{TypeMessage, TypeEvent} {
		if bytes.HasPrefix(payload, []byte(`{"Type":"`+t+`"`)) {
			return t
		}
	}
	var p struct{ Type string }
	if json.Unmarshal(payload, &p) == nil && p.Type == TypeMessage {
		return TypeMessage
	}
	return TypeEvent
}

// LogRecordTime is the event_timestamp of a record made by NewLogRecord; ok is false for
// anything else.
func LogRecordTime(record []byte) (time.Time, bool) {
	end := len(logRecordPrefix) + len(TimeLayout)
	if len(record) < end || !bytes.HasPrefix(record, []byte(logRecordPrefix)) {
		return time.Time{}, false
	}
	t, err := time.Parse(TimeLayout, string(record[len(logRecordPrefix):end]))
	return t, err == nil
}

// Destination kinds, as the short names used in keys.
const (
	DestinationS3             = "s3"
	DestinationCloudWatchLogs = "cwl"
	DestinationFirehose       = "firehose"
)

// Kind and Name say which destination this is: its type and its bucket, log group or
// delivery stream name. Kind is "" for an empty union.
func (d Destination) Kind() (kind, name string) {
	switch {
	case d.S3 != nil:
		return DestinationS3, d.S3.BucketName
	case d.CloudWatchLogs != nil:
		return DestinationCloudWatchLogs, d.CloudWatchLogs.LogGroupName
	case d.Firehose != nil:
		return DestinationFirehose, d.Firehose.DeliveryStreamName
	}
	return "", ""
}

// ParseDestination is the inverse of Kind.
func ParseDestination(kind, name string) (Destination, bool) {
	if name == "" {
		return Destination{}, false
	}
	switch kind {
	case DestinationS3:
		return Destination{S3: &S3Destination{BucketName: name}}, true
	case DestinationCloudWatchLogs:
		return Destination{CloudWatchLogs: &CloudWatchLogsDestination{LogGroupName: name}}, true
	case DestinationFirehose:
		return Destination{Firehose: &FirehoseDestination{DeliveryStreamName: name}}, true
	}
	return Destination{}, false
}

// Key names a destination with letters, digits and '-' only, so that it can be a subject token
// and a consumer name: the kind, then a hash of the name. Records for one key are shipped
// together, and one key's outage never holds up another's.
func (d Destination) Key() string {
	kind, name := d.Kind()
	sum := sha256.Sum256([]byte(kind + ":" + name))
	return kind + "-" + hex.EncodeToString(sum[:12])
}

// LoggingConfigurationID is the id at the end of a logging configuration's ARN, as a room lists
// it; the ARN is not parsed again on the delivery path.
func LoggingConfigurationID(arn string) string {
	return arn[strings.LastIndexByte(arn, '/')+1:]
}

// S3LogKey is the object key of a batch of one room's records whose earliest record is at t:
// AWSLogs/<account>/IVSChatLogs/1.0/<region>/room_<id>/<YYYY>/<MM>/<DD>/<HH>/
// <account>_IVSChatLogs_1.0_<region>_room_<id>_<YYYYMMDDTHHmmZ>_<unique>.log.gz
func S3LogKey(account, region, roomID string, t time.Time, unique string) string {
	t = t.UTC()
	return "AWSLogs/" + account + "/IVSChatLogs/" + LogRecordVersion + "/" + region + "/room_" + roomID + "/" +
		t.Format("2006/01/02/15") + "/" +
		account + "_IVSChatLogs_" + LogRecordVersion + "_" + region + "_room_" + roomID + "_" +
		t.Format("20060102T1504Z") + "_" + unique + ".log.gz"
}

// CloudWatchLogStream is the log stream that receives a room's records.
func CloudWatchLogStream(roomID string) string {
	return "aws/IVSChatLogs/" + LogRecordVersion + "/room_" + roomID
}
