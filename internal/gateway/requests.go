package gateway

import (
	"context"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// handle carries out one request frame from the client.
func (c *conn) handle(data []byte) {
	req, rerr := chat.ParseRequest(data)
	now := time.Now()
	// Every frame counts toward the connection's rate, garbage included.
	if !c.limit.take(now, c.gw.cfg.ConnectionRequestRate) {
		c.sendError("", req.RequestID, chat.CodeTooManyRequests, "too many requests on this connection")
		return
	}
	if rerr != nil {
		c.sendError("", req.RequestID, rerr.Code, rerr.Message)
		return
	}
	if now.After(c.token.SessionExpirationTime) {
		return // the expiry timer is closing the connection
	}
	room := c.hub.room()
	if rerr := req.Check(c.token, room); rerr != nil {
		c.sendError("", req.RequestID, rerr.Code, rerr.Message)
		return
	}
	switch req.Action {
	case chat.ActionSendMessage:
		c.sendMessage(req, room, now)
	case chat.ActionDeleteMessage:
		id := chat.NewID()
		event := chat.NewDeleteMessageEvent(id, req.RequestID, *req.ID, chat.Deref(req.Reason), now)
		if err := c.gw.service.Deliver(room, chat.Encode(event)); err != nil {
			c.sendError(id, req.RequestID, chat.CodeInternalFailure, "the event could not be delivered; retry")
		}
	case chat.ActionDisconnectUser:
		id := chat.NewID()
		if err := c.gw.service.Disconnect(room, id, req.RequestID, *req.UserID, chat.Deref(req.Reason)); err != nil {
			c.sendError(id, req.RequestID, chat.CodeInternalFailure, "the user could not be disconnected; retry")
		}
	}
}

// review asks the room's handler about a message. The sender waits for its own review; other
// senders and deliveries do not. A handler the room's account may no longer name is not
// invoked: the room's fallback result decides, as for a handler that cannot be reached.
func (c *conn) review(id string, room *chat.Room, content string, attributes map[string]string) chat.ReviewVerdict {
	if err := c.gw.service.CheckReviewHandler(room); err != nil {
		c.gw.log.Warn("review handler not invoked", "room", room.ARN().String(), "reason", err.Error())
		return chat.Fallback(room, content, attributes)
	}
	return c.gw.reviewer.Review(context.Background(), room, chat.NewReviewRequest(id, room, content, attributes, c.token, c.ip))
}

// sendMessage admits a message under the room's rate and delivers it to the room.
func (c *conn) sendMessage(req *chat.Request, room *chat.Room, now time.Time) {
	id := chat.NewID()
	admitted, err := c.gw.service.AdmitMessage(context.Background(), room, now)
	if err != nil {
		c.gw.log.Error("admitting a message", "error", err)
		c.sendError(id, req.RequestID, chat.CodeInternalFailure, "the room's message rate could not be checked; retry")
		return
	}
	if !admitted {
		c.sendError(id, req.RequestID, chat.CodeTooManyRequests, "the room's maximum message rate has been reached")
		return
	}
	content, attributes := *req.Content, req.Attributes
	if room.HasReviewHandler() {
		v := c.review(id, room, content, attributes)
		if !v.Allowed {
			c.sendError(id, req.RequestID, chat.CodeRejected, v.DenialMessage())
			return
		}
		content, attributes = v.Content, v.Attributes
	}
	msg := chat.NewMessage(id, req.RequestID, content, attributes, c.token, now)
	if err := c.gw.service.Deliver(room, chat.Encode(msg)); err != nil {
		c.sendError(id, req.RequestID, chat.CodeInternalFailure, "the message could not be delivered; retry")
	}
}
