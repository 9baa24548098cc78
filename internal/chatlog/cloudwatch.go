package chatlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/engine"
)

// PutLogEvents limits: events per call, bytes per call (each event counts 26 bytes more than
// its message), and the span of event times in one call.
const (
	cwlMaxEvents   = 10000
	cwlMaxBytes    = 1048576
	cwlEventExtra  = 26
	cwlMaxTimeSpan = 24 * time.Hour
)

// cloudWatchSink puts each room's records into the log stream aws/IVSChatLogs/1.0/room_<id>
// of the configured log group, creating the stream when it is missing. The group itself must
// exist, as on AWS.
type cloudWatchSink struct {
	interval time.Duration
	client   *cloudwatchlogs.Client
	err      error
	log      *slog.Logger
}

func (s *cloudWatchSink) limits() limits {
	return limits{count: cwlMaxEvents, bytes: cwlMaxBytes, interval: s.interval}
}

func (s *cloudWatchSink) group(x *engine.ChatLogEntry) string { return x.RoomID }

func (s *cloudWatchSink) size(x *engine.ChatLogEntry) int { return len(x.Data) + cwlEventExtra }

func (s *cloudWatchSink) ship(ctx context.Context, b *batch) error {
	if s.err != nil {
		return s.err
	}
	group, stream := b.dest.CloudWatchLogs.LogGroupName, chat.CloudWatchLogStream(b.room)
	// Events of a call must be in time order, within 24 hours of each other.
	items := slices.Clone(b.items)
	slices.SortStableFunc(items, func(a, b *item) int { return a.at.Compare(b.at) })
	for start := 0; start < len(items); {
		end := start + 1
		for end < len(items) && items[end].at.Sub(items[start].at) < cwlMaxTimeSpan {
			end++
		}
		if err := s.put(ctx, group, stream, items[start:end]); err != nil {
			if start > 0 {
				for _, it := range items[start:] {
					it.failed = true
				}
			}
			return err
		}
		start = end
	}
	return nil
}

func (s *cloudWatchSink) put(ctx context.Context, group, stream string, items []*item) error {
	events := make([]types.InputLogEvent, len(items))
	for i, it := range items {
		events[i] = types.InputLogEvent{Message: aws.String(string(it.x.Data)), Timestamp: aws.Int64(it.at.UnixMilli())}
	}
	in := &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), LogEvents: events}
	out, err := s.client.PutLogEvents(ctx, in)
	var missing *types.ResourceNotFoundException
	if errors.As(err, &missing) {
		// The stream is made on first use; a missing group fails here and is retried later.
		_, cerr := s.client.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)})
		var exists *types.ResourceAlreadyExistsException
		if cerr != nil && !errors.As(cerr, &exists) {
			return fmt.Errorf("cloudwatch logs CreateLogStream %s %s: %w", group, stream, cerr)
		}
		out, err = s.client.PutLogEvents(ctx, in)
	}
	if err != nil {
		return fmt.Errorf("cloudwatch logs PutLogEvents %s %s: %w", group, stream, err)
	}
	// Events refused for their time (older than the group's retention or 14 days, or too far
	// ahead) would be refused again: they are dropped, as AWS would drop them.
	if r := out.RejectedLogEventsInfo; r != nil && s.log != nil {
		s.log.Warn("chat log: CloudWatch Logs refused events for their time; they are dropped", "group", group, "stream", stream,
			"too_old_before", aws.ToInt32(r.TooOldLogEventEndIndex), "expired_before", aws.ToInt32(r.ExpiredLogEventEndIndex),
			"too_new_from", aws.ToInt32(r.TooNewLogEventStartIndex))
	}
	return nil
}
