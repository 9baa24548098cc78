package api

import (
	"net/http"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/service"
)

// extensionPrefix is where the extension operations are routed: POST /ivschatd/<Operation>.
// Their actions are ivschatd:<Operation>, outside the ivschat: namespace of the AWS model.
const extensionPrefix = "/ivschatd/"

// extensionOperations are ivschatd's own operations, signed and answered like the control
// plane's; no AWS client calls them (docs/extensions.md, docs/extensions.openapi.json).
var extensionOperations = map[string]operation{
	"BanUser": func(s *service.Service, c *call) (int, any, error) {
		var in chat.BanUserInput
		if err := decode(c.body, &in); err != nil {
			return 0, nil, err
		}
		b, err := s.BanUser(c.ctx, c.account, &in)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, viewBan(b), nil
	},
	"UnbanUser": func(s *service.Service, c *call) (int, any, error) {
		var in chat.UnbanUserInput
		if err := decode(c.body, &in); err != nil {
			return 0, nil, err
		}
		return ok(&empty{}, s.UnbanUser(c.ctx, c.account, &in))
	},
	"ListBans": func(s *service.Service, c *call) (int, any, error) {
		var in chat.RoomPageInput
		if err := decode(c.body, &in); err != nil {
			return 0, nil, err
		}
		bans, next, err := s.ListBans(c.account, &in)
		if err != nil {
			return 0, nil, err
		}
		out := &listBansView{Bans: make([]*banView, len(bans)), NextToken: next}
		for i, b := range bans {
			out.Bans[i] = viewBan(b)
		}
		return http.StatusOK, out, nil
	},
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

type listBansView struct {
	Bans      []*banView `json:"bans"`
	NextToken string     `json:"nextToken,omitempty"`
}
