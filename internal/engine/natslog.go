package engine

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
)

// natsLog passes the embedded NATS server's log into ours: its warnings and errors (a damaged
// block file, a failed write, a lost route) at their level, its notices (startup, stream
// recovery) at debug. Every record carries component=nats. Errors are also shown to watch,
// which looks for the ones that mean the store stopped taking writes.
type natsLog struct {
	log   *slog.Logger
	watch func(msg string)
}

// The server names a store's stream as "Filestore [NAME]" or "stream '$G > NAME'", and its
// files by path; records about them carry both as attributes.
var (
	storeNamePattern = regexp.MustCompile(`Filestore \[([^\]]+)\]|stream '[^']* > ([^']+)'`)
	storeFilePattern = regexp.MustCompile(`/\S+\.(?:blk|db|idx|dat|key)\b`)
)

func (l natsLog) emit(level slog.Level, format string, v []any) {
	if !l.log.Enabled(context.Background(), level) && l.watch == nil {
		return
	}
	msg := fmt.Sprintf(format, v...)
	attrs := []any{"component", "nats"}
	if m := storeNamePattern.FindStringSubmatch(msg); m != nil {
		attrs = append(attrs, "stream", m[1]+m[2])
	}
	if m := storeFilePattern.FindString(msg); m != "" {
		attrs = append(attrs, "file", m)
	}
	l.log.Log(context.Background(), level, msg, attrs...)
	if l.watch != nil && level >= slog.LevelError {
		l.watch(msg)
	}
}

func (l natsLog) Noticef(format string, v ...any) { l.emit(slog.LevelDebug, format, v) }
func (l natsLog) Warnf(format string, v ...any)   { l.emit(slog.LevelWarn, format, v) }
func (l natsLog) Errorf(format string, v ...any)  { l.emit(slog.LevelError, format, v) }

// Fatalf is an error here: the library calls it for what stops the server (a store it cannot
// open, a port in use), and the engine reports that failure itself.
func (l natsLog) Fatalf(format string, v ...any) { l.emit(slog.LevelError, format, v) }
func (l natsLog) Debugf(string, ...any)          {}
func (l natsLog) Tracef(string, ...any)          {}
