package chatlog

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/ivschatd/ivschatd/internal/engine"
)

// PutRecordBatch limits: records and bytes per call.
const (
	firehoseMaxRecords = 500
	firehoseMaxBytes   = 4 << 20
)

// firehoseSink puts records into the delivery stream, one Firehose record per chat-log record,
// each ending with a newline so that whatever the stream writes is newline-delimited JSON.
type firehoseSink struct {
	interval time.Duration
	client   *firehose.Client
	err      error
}

func (s *firehoseSink) limits() limits {
	return limits{count: firehoseMaxRecords, bytes: firehoseMaxBytes, interval: s.interval}
}

// One delivery stream takes the records of every room together.
func (s *firehoseSink) group(*engine.ChatLogEntry) string { return "" }

func (s *firehoseSink) size(x *engine.ChatLogEntry) int { return len(x.Data) + 1 }

func (s *firehoseSink) ship(ctx context.Context, b *batch) error {
	if s.err != nil {
		return s.err
	}
	name := b.dest.Firehose.DeliveryStreamName
	records := make([]types.Record, len(b.items))
	for i, it := range b.items {
		data := make([]byte, 0, len(it.x.Data)+1)
		records[i] = types.Record{Data: append(append(data, it.x.Data...), '\n')}
	}
	out, err := s.client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(name), Records: records})
	if err != nil {
		return fmt.Errorf("firehose PutRecordBatch %s: %w", name, err)
	}
	if aws.ToInt32(out.FailedPutCount) == 0 {
		return nil
	}
	// Some records failed (throttling, an internal error): only those are tried again.
	var first string
	failed := 0
	for i, r := range out.RequestResponses {
		if i < len(b.items) && r.ErrorCode != nil {
			b.items[i].failed = true
			failed++
			if first == "" {
				first = aws.ToString(r.ErrorCode) + ": " + aws.ToString(r.ErrorMessage)
			}
		}
	}
	if failed == 0 { // A count without details: nothing tells which, so all are tried again.
		for _, it := range b.items {
			it.failed = true
		}
	}
	return fmt.Errorf("firehose PutRecordBatch %s: %d of %d records failed (%s)", name, aws.ToInt32(out.FailedPutCount), len(records), first)
}
