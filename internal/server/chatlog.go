package server

import (
	"log/slog"

	"github.com/ivschatd/ivschatd/internal/chatlog"
	"github.com/ivschatd/ivschatd/internal/engine"
)

// startChatlog starts shipping chat logs; destinations default to the node's region.
func startChatlog(eng *engine.Engine, cfg Config, log *slog.Logger) *chatlog.Shipper {
	c := cfg.Chatlog
	if c.Region == "" {
		c.Region = cfg.Region
	}
	return chatlog.Start(eng, c, log)
}
