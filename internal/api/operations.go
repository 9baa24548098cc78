package api

import (
	"context"
	"net/http"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/service"
)

// call is one authenticated request, ready for its operation.
type call struct {
	ctx     context.Context
	account string
	body    []byte
	// resourceARN is the decoded {resourceArn} label of the tag routes.
	resourceARN string
	// tagKeys come from UntagResource's query string.
	tagKeys []string
}

// operation answers one API call with a status and a JSON-able result, or an error.
type operation func(s *service.Service, c *call) (int, any, error)

// operations are the 14 operations routed as POST /<OperationName>.
var operations = map[string]operation{
	"CreateChatToken": func(s *service.Service, c *call) (int, any, error) {
		var in chat.CreateChatTokenInput
		if err := decode(c.body, &in); err != nil {
			return 0, nil, err
		}
		t, err := s.CreateChatToken(c.account, &in)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, &chatTokenView{Token: t.Token, TokenExpirationTime: timestamp(t.Grant.TokenExpirationTime),
			SessionExpirationTime: timestamp(t.Grant.SessionExpirationTime)}, nil
	},
	"CreateRoom": func(s *service.Service, c *call) (int, any, error) {
		var in chat.CreateRoomInput
		if err := decode(c.body, &in); err != nil {
			return 0, nil, err
		}
		r, err := s.CreateRoom(c.ctx, c.account, &in)
		return ok(viewRoomOrNil(r), err)
	},
	"GetRoom": func(s *service.Service, c *call) (int, any, error) {
		var in identifierInput
		if err := decode(c.body, &in); err != nil {
			return 0, nil, err
		}
		r, err := s.GetRoom(c.account, in.Identifier)
		return ok(viewRoomOrNil(r), err)
	},
	"UpdateRoom": func(s *service.Service, c *call) (int, any, error) {
		var in chat.UpdateRoomInput
		if err := decode(c.body, &in); err != nil {
			return 0, nil, err
		}
		r, err := s.UpdateRoom(c.ctx, c.account, &in)
		return ok(viewRoomOrNil(r), err)
	},
	"DeleteRoom": func(s *service.Service, c *call) (int, any, error) {
		var in identifierInput
		if err := decode(c.body, &in); err != nil {
			return 0, nil, err
		}
		return http.StatusNoContent, nil, s.DeleteRoom(c.ctx, c.account, in.Identifier)
	},
	"ListRooms": func(s *service.Service, c *call) (int, any, error) {
		var in service.ListRoomsInput
		if err := decode(c.body, &in); err != nil {
			return 0, nil, err
		}
		rooms, next, err := s.ListRooms(c.account, &in)
		if err != nil {
			return 0, nil, err
		}
		out := &listRoomsView{Rooms: make([]*roomView, len(rooms)), NextToken: next}
		for i, r := range rooms {
			out.Rooms[i] = viewRoomSummary(r)
		}
		return http.StatusOK, out, nil
	},
	"CreateLoggingConfiguration": func(s *service.Service, c *call) (int, any, error) {
		var in chat.CreateLoggingConfigurationInput
		if err := decode(c.body, &in); err != nil {
			return 0, nil, err
		}
		lc, err := s.CreateLoggingConfiguration(c.ctx, c.account, &in)
		return ok(viewLoggingConfigurationOrNil(lc), err)
	},
	"GetLoggingConfiguration": func(s *service.Service, c *call) (int, any, error) {
		var in identifierInput
		if err := decode(c.body, &in); err != nil {
			return 0, nil, err
		}
		lc, err := s.GetLoggingConfiguration(c.account, in.Identifier)
		return ok(viewLoggingConfigurationOrNil(lc), err)
	},
	"UpdateLoggingConfiguration": func(s *service.Service, c *call) (int, any, error) {
		var in chat.UpdateLoggingConfigurationInput
		if err := decode(c.body, &in); err != nil {
			return 0, nil, err
		}
		lc, err := s.UpdateLoggingConfiguration(c.ctx, c.account, &in)
		return ok(viewLoggingConfigurationOrNil(lc), err)
	},
	"DeleteLoggingConfiguration": func(s *service.Service, c *call) (int, any, error) {
		var in identifierInput
		if err := decode(c.body, &in); err != nil {
			return 0, nil, err
		}
		return http.StatusNoContent, nil, s.DeleteLoggingConfiguration(c.ctx, c.account, in.Identifier)
	},
	"ListLoggingConfigurations": func(s *service.Service, c *call) (int, any, error) {
		var in struct {
			NextToken  *string `json:"nextToken"`
			MaxResults *int    `json:"maxResults"`
		}
		if err := decode(c.body, &in); err != nil {
			return 0, nil, err
		}
		list, next, err := s.ListLoggingConfigurations(c.account, in.MaxResults, in.NextToken)
		if err != nil {
			return 0, nil, err
		}
		out := &listLoggingConfigurationsView{LoggingConfigurations: make([]*loggingConfigurationView, len(list)), NextToken: next}
		for i, lc := range list {
			out.LoggingConfigurations[i] = viewLoggingConfiguration(lc)
		}
		return http.StatusOK, out, nil
	},
	"SendEvent": func(s *service.Service, c *call) (int, any, error) {
		var in chat.SendEventInput
		if err := decode(c.body, &in); err != nil {
			return 0, nil, err
		}
		id, err := s.SendEvent(c.account, &in)
		return ok(&idView{ID: id}, err)
	},
	"DeleteMessage": func(s *service.Service, c *call) (int, any, error) {
		var in chat.DeleteMessageInput
		if err := decode(c.body, &in); err != nil {
			return 0, nil, err
		}
		id, err := s.DeleteMessage(c.account, &in)
		return ok(&idView{ID: id}, err)
	},
	"DisconnectUser": func(s *service.Service, c *call) (int, any, error) {
		var in chat.DisconnectUserInput
		if err := decode(c.body, &in); err != nil {
			return 0, nil, err
		}
		return ok(&empty{}, s.DisconnectUser(c.account, &in))
	},
}

// Tag operations, routed on /tags/{resourceArn} by method.
var tagOperations = map[string]struct {
	name string
	op   operation
}{
	http.MethodGet: {"ListTagsForResource", func(s *service.Service, c *call) (int, any, error) {
		tags, err := s.ListTagsForResource(c.account, c.resourceARN)
		return ok(&tagsView{Tags: tags}, err)
	}},
	http.MethodPost: {"TagResource", func(s *service.Service, c *call) (int, any, error) {
		var in chat.TagResourceInput
		if err := decode(c.body, &in); err != nil {
			return 0, nil, err
		}
		return ok(&empty{}, s.TagResource(c.ctx, c.account, c.resourceARN, &in))
	}},
	http.MethodDelete: {"UntagResource", func(s *service.Service, c *call) (int, any, error) {
		// The SDKs send no tagKeys parameter for an empty list, which the model allows (0–50
		// keys): an absent tagKeys is that empty list, not a missing member.
		return ok(&empty{}, s.UntagResource(c.ctx, c.account, c.resourceARN, c.tagKeys, true))
	}},
}

type identifierInput struct {
	Identifier string `json:"identifier"`
}

func ok(v any, err error) (int, any, error) {
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, v, nil
}

func viewRoomOrNil(r *chat.Room) any {
	if r == nil {
		return nil
	}
	return viewRoom(r)
}

func viewLoggingConfigurationOrNil(c *chat.LoggingConfiguration) any {
	if c == nil {
		return nil
	}
	return viewLoggingConfiguration(c)
}
