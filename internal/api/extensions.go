package api

import (
	"encoding/json"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/service"
)

// extensionPrefix is where the extension operations are routed: POST /ivschatd/<Operation>.
// Their actions are ivschatd:<Operation>, outside the ivschat: namespace of the AWS model.
const extensionPrefix = "/ivschatd/"

// extensionOperations are ivschatd's own operations, signed and answered like the control
// plane's; no AWS client calls them (docs/extensions.md, docs/extensions.openapi.json).
var extensionOperations = map[string]operation{
	"BanUser":   handle(body[chat.BanUserInput], (*svc).BanUser, viewBan),
	"UnbanUser": handle(body[chat.UnbanUserInput], done((*svc).UnbanUser), emptyObject),
	"ListBans":  handle(body[chat.RoomPageInput], (*svc).ListBans, viewBanPage),

	"ListRoomMessages": handle(body[chat.ListRoomMessagesInput], (*svc).ListRoomMessages, viewMessagePage),

	"ListRoomUsers": handle(body[chat.RoomPageInput], (*svc).ListRoomUsers, viewRoomUsers),
}

type banView struct {
	UserID     string  `json:"userId"`
	Reason     string  `json:"reason,omitempty"`
	CreateTime string  `json:"createTime"`
	ExpireTime *string `json:"expireTime,omitempty"`
}

func viewBan(b *chat.Ban) *banView {
	v := &banView{UserID: b.UserID, Reason: b.Reason, CreateTime: timestamp(b.CreateTime)}
	if b.ExpireTime != nil {
		t := timestamp(*b.ExpireTime)
		v.ExpireTime = &t
	}
	return v
}

func viewBanPage(p *service.Page[chat.Ban]) *listBansView {
	out := &listBansView{Bans: make([]*banView, len(p.Items)), NextToken: p.NextToken}
	for i, b := range p.Items {
		out.Bans[i] = viewBan(b)
	}
	return out
}

type listBansView struct {
	Bans      []*banView `json:"bans"`
	NextToken string     `json:"nextToken,omitempty"`
}

// listRoomMessagesView carries each kept message as the MESSAGE payload its members
// received, byte for byte.
type listRoomMessagesView struct {
	Messages  []json.RawMessage `json:"messages"`
	NextToken string            `json:"nextToken,omitempty"`
}

func viewMessagePage(p *service.Page[chat.KeptMessage]) *listRoomMessagesView {
	out := &listRoomMessagesView{Messages: make([]json.RawMessage, len(p.Items)), NextToken: p.NextToken}
	for i, m := range p.Items {
		out.Messages[i] = m.Payload
	}
	return out
}

type roomUserView struct {
	UserID          string            `json:"userId"`
	Attributes      map[string]string `json:"attributes"`
	ConnectionCount int               `json:"connectionCount"`
	ConnectedAt     string            `json:"connectedAt"`
}

type listRoomUsersView struct {
	Users           []*roomUserView `json:"users"`
	UserCount       int             `json:"userCount"`
	ConnectionCount int             `json:"connectionCount"`
	NextToken       string          `json:"nextToken,omitempty"`
}

func viewRoomUsers(p *service.RoomUsers) *listRoomUsersView {
	out := &listRoomUsersView{Users: make([]*roomUserView, len(p.Items)), UserCount: p.UserCount,
		ConnectionCount: p.ConnectionCount, NextToken: p.NextToken}
	for i, u := range p.Items {
		attrs := u.Attributes
		if attrs == nil {
			attrs = map[string]string{}
		}
		out.Users[i] = &roomUserView{UserID: u.UserID, Attributes: attrs, ConnectionCount: u.Connections,
			ConnectedAt: timestamp(u.ConnectedAt)}
	}
	return out
}
