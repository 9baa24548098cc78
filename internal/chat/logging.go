package chat

import (
	"encoding/json"
	"time"
)

// Logging configuration states. Every change completes synchronously, so stored
// configurations are always ACTIVE; the other states exist only on the wire model.
const StateActive = "ACTIVE"

// DefaultMaxLoggingConfigurations is the default per-account quota.
const DefaultMaxLoggingConfigurations = 10

// DefaultMaxRooms is the default per-account quota of rooms.
const DefaultMaxRooms = 50000

// Destination is where a logging configuration ships chat logs: exactly one member is set.
type Destination struct {
	S3             *S3Destination             `json:"s3,omitempty"`
	CloudWatchLogs *CloudWatchLogsDestination `json:"cloudWatchLogs,omitempty"`
	Firehose       *FirehoseDestination       `json:"firehose,omitempty"`
}

// S3Destination ships chat logs to an S3 bucket.
type S3Destination struct {
	BucketName string `json:"bucketName"`
}

// CloudWatchLogsDestination ships chat logs to a CloudWatch Logs log group.
type CloudWatchLogsDestination struct {
	LogGroupName string `json:"logGroupName"`
}

// FirehoseDestination ships chat logs to a Kinesis Data Firehose delivery stream.
type FirehoseDestination struct {
	DeliveryStreamName string `json:"deliveryStreamName"`
}

// LoggingConfiguration is a chat-log destination as stored.
type LoggingConfiguration struct {
	Resource
	Destination Destination `json:"destinationConfiguration"`
	State       string      `json:"state"`
}

// ARN is the logging configuration's ARN.
func (c *LoggingConfiguration) ARN() ARN { return LoggingConfigurationARN(c.Region, c.Account, c.ID) }

// parseDestination decodes the destination union. The raw form is kept so that a union with
// zero, two or unknown members is reported rather than silently narrowed.
func (v *validator) destination(name string, raw json.RawMessage) (Destination, bool) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		v.fail(name, "must be an object with exactly one of s3, cloudWatchLogs, firehose")
		return Destination{}, false
	}
	var d Destination
	set := 0
	for key, body := range members {
		if string(body) == "null" {
			continue
		}
		set++
		var err error
		switch key {
		case "s3":
			d.S3 = new(S3Destination)
			err = json.Unmarshal(body, d.S3)
		case "cloudWatchLogs":
			d.CloudWatchLogs = new(CloudWatchLogsDestination)
			err = json.Unmarshal(body, d.CloudWatchLogs)
		case "firehose":
			d.Firehose = new(FirehoseDestination)
			err = json.Unmarshal(body, d.Firehose)
		default:
			v.fail(name+"."+key, "is not a destination type; use one of s3, cloudWatchLogs, firehose")
			return Destination{}, false
		}
		if err != nil {
			v.fail(name+"."+key, "must be an object of string members")
			return Destination{}, false
		}
	}
	if set != 1 {
		v.fail(name, "must set exactly one of s3, cloudWatchLogs, firehose, got %d", set)
		return Destination{}, false
	}
	switch {
	case d.S3 != nil:
		if v.length(name+".s3.bucketName", d.S3.BucketName, 3, 63) {
			v.pattern(name+".s3.bucketName", d.S3.BucketName, bucketPattern, "lowercase letters, digits, '-' and '.' only")
		}
	case d.CloudWatchLogs != nil:
		if v.length(name+".cloudWatchLogs.logGroupName", d.CloudWatchLogs.LogGroupName, 1, 512) {
			v.pattern(name+".cloudWatchLogs.logGroupName", d.CloudWatchLogs.LogGroupName, logGroupPattern, "letters, digits and . - _ / # only")
		}
	case d.Firehose != nil:
		if v.length(name+".firehose.deliveryStreamName", d.Firehose.DeliveryStreamName, 1, 64) {
			v.pattern(name+".firehose.deliveryStreamName", d.Firehose.DeliveryStreamName, streamPattern, "letters, digits, '_', '.' and '-' only")
		}
	}
	return d, true
}

// CreateLoggingConfigurationInput is the CreateLoggingConfiguration request.
type CreateLoggingConfigurationInput struct {
	Name                     *string           `json:"name"`
	DestinationConfiguration json.RawMessage   `json:"destinationConfiguration"`
	Tags                     map[string]string `json:"tags"`
}

// Validate checks the request and returns its destination.
func (in *CreateLoggingConfigurationInput) Validate() (Destination, error) {
	var v validator
	v.resourceName("name", in.Name)
	var d Destination
	if v.required("destinationConfiguration", len(in.DestinationConfiguration) > 0 && string(in.DestinationConfiguration) != "null") {
		d, _ = v.destination("destinationConfiguration", in.DestinationConfiguration)
	}
	v.tags("tags", in.Tags)
	return d, v.err()
}

// NewLoggingConfiguration builds a configuration from a validated request.
func NewLoggingConfiguration(in *CreateLoggingConfigurationInput, d Destination, region, account, id string, now time.Time) *LoggingConfiguration {
	return &LoggingConfiguration{Resource: newResource(region, account, id, in.Name, in.Tags, now), Destination: d, State: StateActive}
}

// UpdateLoggingConfigurationInput is the UpdateLoggingConfiguration request; absent members stay.
type UpdateLoggingConfigurationInput struct {
	Identifier               string          `json:"identifier"`
	Name                     *string         `json:"name"`
	DestinationConfiguration json.RawMessage `json:"destinationConfiguration"`
}

// Validate checks the request; it returns the configuration's ARN and the new destination, if any.
func (in *UpdateLoggingConfigurationInput) Validate() (ARN, *Destination, error) {
	var v validator
	a, _ := v.arnOf("identifier", in.Identifier, arnLoggingConfiguration)
	v.resourceName("name", in.Name)
	var dest *Destination
	if len(in.DestinationConfiguration) > 0 && string(in.DestinationConfiguration) != "null" {
		if d, ok := v.destination("destinationConfiguration", in.DestinationConfiguration); ok {
			dest = &d
		}
	}
	return a, dest, v.err()
}

// Apply returns the configuration with the update applied.
func (in *UpdateLoggingConfigurationInput) Apply(c *LoggingConfiguration, dest *Destination, now time.Time) *LoggingConfiguration {
	out := *c
	if in.Name != nil {
		out.Name = *in.Name
	}
	if dest != nil {
		out.Destination = *dest
	}
	out.UpdateTime = nextUpdateTime(c.UpdateTime, now)
	return &out
}
