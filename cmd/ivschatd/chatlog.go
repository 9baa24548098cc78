package main

import (
	"flag"
	"path/filepath"

	"github.com/ivschatd/ivschatd/internal/chatlog"
)

// chatlogFlags registers the flags of chat-log shipping.
func chatlogFlags(fs *flag.FlagSet, c *chatlog.Config) {
	fs.BoolVar(&c.S3PathStyle, "s3-path-style", c.S3PathStyle, "address S3 buckets by path (http://host/bucket/key), as S3-compatible stores and emulators need")
	fs.Var(pairsFlag{&c.S3LocalDirs, "<bucket>=<directory>", localDir}, "s3-local-dir", "`BUCKET=DIR`: write the chat logs meant for S3 bucket BUCKET under DIR, with the same keys, instead of S3 (repeatable; comma-separated in the environment)")
	fs.IntVar(&c.S3BatchBytes, "s3-batch-bytes", c.S3BatchBytes, "chat-log records of a room gathered into one S3 object at most (bytes before compression)")
	fs.DurationVar(&c.S3BatchInterval, "s3-batch-interval", c.S3BatchInterval, "how long a chat-log record waits for others before its S3 object is written")
	fs.DurationVar(&c.BatchInterval, "chatlog-batch-interval", c.BatchInterval, "how long a chat-log record waits for others before a CloudWatch Logs or Firehose call")
	fs.DurationVar(&c.RetryMax, "chatlog-retry-max", c.RetryMax, "longest delay between attempts to ship to a failing destination (the delay doubles from 1s)")
	fs.DurationVar(&c.AckWait, "chatlog-ack-wait", c.AckWait, "how long chat-log records taken by a node that stopped answering wait before another node ships them")
	fs.DurationVar(&c.Stream.MaxAge, "chatlog-max-age", c.Stream.MaxAge, "how long a chat-log record may wait for its destination before it is dropped")
	fs.Int64Var(&c.Stream.MaxBytes, "chatlog-max-bytes", c.Stream.MaxBytes, "disk the chat-log records waiting for their destinations may take; the oldest are dropped beyond it (-1: no limit but the engine's)")
}

// localDir checks an --s3-local-dir pair and makes its directory absolute.
func localDir(bucket, dir string) (string, bool) {
	if bucket == "" || dir == "" {
		return "", false
	}
	abs, err := filepath.Abs(dir)
	return abs, err == nil
}
