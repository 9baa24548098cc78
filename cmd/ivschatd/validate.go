package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/ivschatd/ivschatd/internal/server"
)

// rule bounds one numeric or duration setting. A value outside it stops the server with a
// message naming the flag, its value and the rule: nothing falls back to a default.
type rule struct {
	flag string
	ok   func(c *server.Config) bool
	want string
}

// Largest values that are still plausible: beyond them a typo (an extra zero or two) is likelier
// than intent, and some would overflow what the value feeds.
const (
	maxReplicas  = 5 // JetStream's own limit
	maxFrameSize = 16 << 20
	maxQuota     = 1_000_000
)

var rules = []rule{
	{"replicas", func(c *server.Config) bool { return c.Replicas >= 0 && c.Replicas <= maxReplicas }, fmt.Sprintf("must be from 0 (3 on a cluster of three or more servers, else 1) to %d (JetStream's limit)", maxReplicas)},
	{"max-rooms", func(c *server.Config) bool { return c.MaxRooms >= 1 && c.MaxRooms <= maxQuota }, fmt.Sprintf("must be from 1 to %d", maxQuota)},
	{"max-logging-configurations", func(c *server.Config) bool {
		return c.MaxLoggingConfigurations >= 1 && c.MaxLoggingConfigurations <= maxQuota
	}, fmt.Sprintf("must be from 1 to %d", maxQuota)},
	{"token-lifetime", func(c *server.Config) bool { return c.TokenLifetime >= time.Second }, "must be at least 1s (and well above a minute for the messaging SDKs, which fetch a new token 60 s before it ends)"},
	{"token-key-rotation", func(c *server.Config) bool { return c.TokenKeyRotation == 0 || c.TokenKeyRotation >= time.Minute }, "must be 0 (never) or at least 1m"},
	{"ws-connection-rate", func(c *server.Config) bool { return c.Gateway.ConnectionRequestRate >= 0 }, "must be 0 (no limit) or more"},
	{"ws-frame-rate", func(c *server.Config) bool { return c.Gateway.ConnectionFrameRate >= 0 }, "must be 0 (no limit) or more"},
	{"ws-frame-burst", func(c *server.Config) bool { return c.Gateway.ConnectionFrameBurst >= 1 }, "must be at least 1"},
	{"ws-max-frame-bytes", func(c *server.Config) bool {
		return c.Gateway.MaxFrameBytes >= 1024 && c.Gateway.MaxFrameBytes <= maxFrameSize
	}, fmt.Sprintf("must be from 1024 to %d", maxFrameSize)},
	{"ws-queue-frames", func(c *server.Config) bool { return c.Gateway.QueueFrames >= 1 }, "must be at least 1"},
	{"ws-ping-interval", func(c *server.Config) bool { return c.Gateway.PingInterval >= time.Second }, "must be at least 1s"},
	{"review-timeout", func(c *server.Config) bool { return c.Review.Timeout > 0 && c.Review.Timeout <= time.Minute }, "must be more than 0 and at most 1m"},
	{"review-concurrency", func(c *server.Config) bool { return c.Review.Concurrency >= 1 }, "must be at least 1"},
	{"s3-batch-bytes", func(c *server.Config) bool { return c.Chatlog.S3BatchBytes >= 1 }, "must be at least 1"},
	{"s3-batch-interval", func(c *server.Config) bool { return c.Chatlog.S3BatchInterval > 0 }, "must be more than 0"},
	{"chatlog-batch-interval", func(c *server.Config) bool { return c.Chatlog.BatchInterval > 0 }, "must be more than 0"},
	{"chatlog-retry-max", func(c *server.Config) bool { return c.Chatlog.RetryMax > 0 }, "must be more than 0"},
	{"chatlog-ack-wait", func(c *server.Config) bool { return c.Chatlog.AckWait >= time.Second }, "must be at least 1s"},
	{"chatlog-max-age", func(c *server.Config) bool { return c.Chatlog.Stream.MaxAge > 0 }, "must be more than 0"},
	{"chatlog-max-bytes", func(c *server.Config) bool {
		return c.Chatlog.Stream.MaxBytes == -1 || c.Chatlog.Stream.MaxBytes >= 1<<20
	}, "must be -1 (no limit but the engine's) or at least 1048576"},
}

// checkedByTheirPackage are numeric settings whose bounds their own package checks, with
// messages that name the flag (server.Start calls it too).
var checkedByTheirPackage = map[string]bool{"body-timeout": true, "max-pending-body-bytes": true,
	"nats-connect-timeout": true} // an option of the command, checked by load

// validate applies every rule.
func validate(fs *flag.FlagSet, c *server.Config) error {
	for _, r := range rules {
		if !r.ok(c) {
			return fmt.Errorf("--%s %s: %s", r.flag, fs.Lookup(r.flag).Value.String(), r.want)
		}
	}
	return c.API.Validate()
}
