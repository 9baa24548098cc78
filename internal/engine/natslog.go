package engine

import (
	"context"
	"fmt"
	"log/slog"
)

// natsLog passes the embedded NATS server's log into ours: its warnings and errors (a damaged
// block file, a failed write, a lost route) at their level, its notices (startup, stream
// recovery) at debug. Every record carries component=nats. Errors are also shown to watch,
// which looks for the ones that mean the store stopped taking writes.
type natsLog struct {
	log   *slog.Logger
	watch func(msg string)
}

func (l natsLog) emit(level slog.Level, format string, v []any) {
	if !l.log.Enabled(context.Background(), level) && l.watch == nil {
		return
	}
	msg := fmt.Sprintf(format, v...)
	l.log.Log(context.Background(), level, msg, "component", "nats")
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
