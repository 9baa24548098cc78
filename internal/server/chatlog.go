package server

import (
	"log/slog"

	"github.com/ivschatd/ivschatd/internal/chatlog"
	"github.com/ivschatd/ivschatd/internal/engine"
)

// newShipper makes the chat-log shipper; destinations are in the node's region unless the
// chat-log configuration names another.
func newShipper(eng *engine.Engine, cfg Config, log *slog.Logger) *chatlog.Shipper {
	c := cfg.Chatlog
	if c.Region == "" {
		c.Region = cfg.Region
	}
	return chatlog.New(eng, c, log)
}
