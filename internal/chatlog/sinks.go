package chatlog

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/engine"
)

// limits bound a batch: records, bytes (as the destination counts them), and how long its
// first record may wait.
type limits struct {
	count, bytes int
	interval     time.Duration
}

// sink is a kind of destination.
type sink interface {
	limits() limits
	// group names the batch a record belongs to.
	group(x *engine.ChatLogEntry) string
	// size is what a record counts toward limits.bytes.
	size(x *engine.ChatLogEntry) int
	// ship delivers a batch. On error, either every record failed, or the failed ones are marked.
	ship(ctx context.Context, b *batch) error
}

// sinks are the destinations' clients, made once from the AWS configuration.
type sinks struct {
	s3, cloudWatchLogs, firehose sink
}

func newSinks(ctx context.Context, cfg Config, log *slog.Logger) *sinks {
	ac, err := loadAWS(ctx, cfg)
	if err != nil {
		log.Error("chat log: records will wait in the stream until the AWS configuration loads", "err", err)
	}
	s3s := &s3Sink{cfg: cfg, localDirs: cfg.S3LocalDirs, err: err}
	cwl := &cloudWatchSink{interval: cfg.BatchInterval, err: err, log: log}
	fh := &firehoseSink{interval: cfg.BatchInterval, err: err}
	if err == nil {
		s3s.client = s3.NewFromConfig(ac, func(o *s3.Options) { o.UsePathStyle = cfg.S3PathStyle })
		cwl.client = cloudwatchlogs.NewFromConfig(ac)
		fh.client = firehose.NewFromConfig(ac)
	}
	return &sinks{s3: s3s, cloudWatchLogs: cwl, firehose: fh}
}

func (ss *sinks) forKind(d chat.Destination) sink {
	switch {
	case d.CloudWatchLogs != nil:
		return ss.cloudWatchLogs
	case d.Firehose != nil:
		return ss.firehose
	}
	return ss.s3
}
