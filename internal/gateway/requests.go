package gateway

import (
	"context"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/metrics"
)

// handle carries out one request frame from the client.
func (c *conn) handle(data []byte) {
	req, rerr := chat.ParseRequest(data)
	now := time.Now()
	isSend := req.Action == chat.ActionSendMessage
	// Every frame counts toward the connection's rate, garbage included.
	if !c.limit.take(now, c.gw.cfg.ConnectionRequestRate) {
		c.countSend(isSend, metrics.MessageRateLimited)
		c.sendError("", req.RequestID, chat.KindThrottling, "too many requests on this connection")
		return
	}
	if rerr != nil {
		c.countSend(isSend, metrics.MessageInvalid)
		c.sendError("", req.RequestID, rerr.Kind, rerr.Message)
		return
	}
	if now.After(c.token.SessionExpirationTime) {
		return // the expiry timer is closing the connection
	}
	room := c.hub.room()
	if rerr := req.Check(c.token, room); rerr != nil {
		if rerr.Kind == chat.KindAccessDenied {
			c.countSend(isSend, metrics.MessageForbidden)
		} else {
			c.countSend(isSend, metrics.MessageInvalid)
		}
		c.sendError("", req.RequestID, rerr.Kind, rerr.Message)
		return
	}
	ctx, end := c.requestContext()
	defer end()
	switch req.Action {
	case chat.ActionSendMessage:
		c.gw.metrics.Message(c.sendMessage(ctx, req, room, now))
	case chat.ActionDeleteMessage:
		id := chat.NewID()
		event := chat.NewDeleteMessageEvent(id, req.RequestID, *req.ID, chat.Deref(req.Reason), now)
		if err := c.gw.service.DeliverDeletion(ctx, room, c.hub.state.Load().settings.History, *req.ID, chat.Encode(event)); err != nil {
			c.sendError(id, req.RequestID, chat.KindInternal, "the event could not be delivered; retry")
			return
		}
		c.gw.metrics.Event(metrics.EventDeleteMessage)
	case chat.ActionDisconnectUser:
		id := chat.NewID()
		if err := c.gw.service.Disconnect(ctx, room, id, req.RequestID, *req.UserID, chat.Deref(req.Reason)); err != nil {
			c.sendError(id, req.RequestID, chat.KindInternal, "the user could not be disconnected; retry")
			return
		}
		c.gw.metrics.Event(metrics.EventDisconnectUser)
	}
}

// review asks the room's handler about a message. The sender waits for its own review; other
// senders and deliveries do not. A handler the room's account may no longer name is not
// invoked: the room's fallback result decides, as for a handler that cannot be reached.
func (c *conn) review(ctx context.Context, id string, room *chat.Room, content string, attributes map[string]string) chat.ReviewVerdict {
	if err := c.gw.service.CheckReviewHandler(room); err != nil {
		c.gw.log.Warn("review handler not invoked", "room", room.ARN().String(), "reason", err.Error())
		return chat.Fallback(room, content, attributes)
	}
	return c.gw.reviewer.Review(ctx, room, chat.NewReviewRequest(id, room, content, attributes, c.token, c.ip))
}

// countSend counts a SEND_MESSAGE request refused before it reached the room.
func (c *conn) countSend(isSend bool, o metrics.MessageOutcome) {
	if isSend {
		c.gw.metrics.Message(o)
	}
}

// sendMessage admits a message under the room's rate and delivers it to the room; it says
// what became of the message.
func (c *conn) sendMessage(ctx context.Context, req *chat.Request, room *chat.Room, now time.Time) metrics.MessageOutcome {
	id := chat.NewID()
	// Slow mode comes first: a user over it must not use up the room's rate.
	if slow := c.hub.state.Load().settings.UserRate; slow != nil {
		admitted, refusal, err := c.gw.service.AdmitUserMessage(ctx, room, *slow, c.token.UserID, now)
		if err != nil {
			// The engine did not answer in time (it is loaded or electing a leader): a
			// throttle, as the client sees it, not a failure of the message.
			c.gw.log.Warn("admitting a message under slow mode", "error", err)
			c.sendError(id, req.RequestID, chat.KindThrottling, "the room's slow mode could not be checked in time; retry")
			return metrics.MessageRateLimited
		}
		if !admitted {
			c.sendError(id, req.RequestID, chat.KindThrottling, refusal)
			return metrics.MessageRateLimited
		}
	}
	admitted, err := c.gw.service.AdmitMessage(ctx, room, now)
	if err != nil {
		c.gw.log.Warn("admitting a message", "error", err)
		c.sendError(id, req.RequestID, chat.KindThrottling, "the room's message rate could not be checked in time; retry")
		return metrics.MessageRateLimited
	}
	if !admitted {
		c.sendError(id, req.RequestID, chat.KindThrottling, "the room's maximum message rate has been reached")
		return metrics.MessageRateLimited
	}
	content, attributes := *req.Content, req.Attributes
	if room.HasReviewHandler() {
		v := c.review(ctx, id, room, content, attributes)
		if ctx.Err() != nil {
			// The sender is gone: its review was cut short, and a verdict forced by that must
			// not deliver the message unreviewed.
			return metrics.MessageFailed
		}
		if !v.Allowed {
			c.sendError(id, req.RequestID, chat.KindRejected, v.DenialMessage())
			if v.Fallback {
				return metrics.MessageReviewFailed
			}
			return metrics.MessageDenied
		}
		content, attributes = v.Content, v.Attributes
	}
	msg := chat.NewMessage(id, req.RequestID, content, attributes, c.token, now)
	if err := c.gw.service.DeliverMessage(ctx, room, c.hub.state.Load().settings.History, id, chat.Encode(msg)); err != nil {
		c.sendError(id, req.RequestID, chat.KindInternal, "the message could not be delivered; retry")
		return metrics.MessageFailed
	}
	return metrics.MessageDelivered
}
