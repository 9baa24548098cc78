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

// svc shortens the method expressions of the tables.
type svc = service.Service

// operations are the 14 operations routed as POST /<OperationName>: each reads its request,
// calls the service with the caller's context and account, and views the result.
var operations = map[string]operation{
	"CreateChatToken":            handle(body[chat.CreateChatTokenInput], (*svc).CreateChatToken, viewChatToken),
	"CreateRoom":                 handle(body[chat.CreateRoomInput], (*svc).CreateRoom, viewRoom),
	"GetRoom":                    handle(body[chat.IdentifierInput], (*svc).GetRoom, viewRoom),
	"UpdateRoom":                 handle(body[chat.UpdateRoomInput], (*svc).UpdateRoom, viewRoom),
	"DeleteRoom":                 handle(body[chat.IdentifierInput], done((*svc).DeleteRoom), noContent),
	"ListRooms":                  handle(body[service.ListRoomsInput], (*svc).ListRooms, viewRoomPage),
	"CreateLoggingConfiguration": handle(body[chat.CreateLoggingConfigurationInput], (*svc).CreateLoggingConfiguration, viewLoggingConfiguration),
	"GetLoggingConfiguration":    handle(body[chat.IdentifierInput], (*svc).GetLoggingConfiguration, viewLoggingConfiguration),
	"UpdateLoggingConfiguration": handle(body[chat.UpdateLoggingConfigurationInput], (*svc).UpdateLoggingConfiguration, viewLoggingConfiguration),
	"DeleteLoggingConfiguration": handle(body[chat.IdentifierInput], done((*svc).DeleteLoggingConfiguration), noContent),
	"ListLoggingConfigurations":  handle(body[service.ListLoggingConfigurationsInput], (*svc).ListLoggingConfigurations, viewLoggingConfigurationPage),
	"SendEvent":                  handle(body[chat.SendEventInput], (*svc).SendEvent, viewID),
	"DeleteMessage":              handle(body[chat.DeleteMessageInput], (*svc).DeleteMessage, viewID),
	"DisconnectUser":             handle(body[chat.DisconnectUserInput], done((*svc).DisconnectUser), emptyObject),
}

// Tag operations, routed on /tags/{resourceArn} by method.
var tagOperations = map[string]struct {
	name string
	op   operation
}{
	http.MethodGet:    {"ListTagsForResource", handle(resourceRequest, (*svc).ListTagsForResource, viewTags)},
	http.MethodPost:   {"TagResource", handle(tagResourceRequest, done((*svc).TagResource), emptyObject)},
	http.MethodDelete: {"UntagResource", handle(untagResourceRequest, done((*svc).UntagResource), emptyObject)},
}

// handle is the one adapter from a service method to an operation: read the request, call
// the method, view its result (with 200, or 204 for noBody).
func handle[In, Out, View any](read func(*call) (*In, error), method func(*svc, context.Context, string, *In) (Out, error), view func(Out) View) operation {
	return func(s *service.Service, c *call) (int, any, error) {
		in, err := read(c)
		if err != nil {
			return 0, nil, err
		}
		out, err := method(s, c.ctx, c.account, in)
		if err != nil {
			return 0, nil, err
		}
		v := view(out)
		if _, none := any(v).(noBody); none {
			return http.StatusNoContent, nil, nil
		}
		return http.StatusOK, v, nil
	}
}

// done makes a service method without a result fit handle.
func done[In any](method func(*svc, context.Context, string, *In) error) func(*svc, context.Context, string, *In) (struct{}, error) {
	return func(s *svc, ctx context.Context, account string, in *In) (struct{}, error) {
		return struct{}{}, method(s, ctx, account, in)
	}
}

// body reads a request from the JSON body.
func body[In any](c *call) (*In, error) {
	var in In
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
	return &in, nil
}

// The tag routes' requests take the ARN from the path, and UntagResource its keys from the
// query string.
func resourceRequest(c *call) (*chat.ResourceInput, error) {
	return &chat.ResourceInput{ResourceARN: c.resourceARN}, nil
}

func tagResourceRequest(c *call) (*chat.TagResourceInput, error) {
	in, err := body[chat.TagResourceInput](c)
	if err != nil {
		return nil, err
	}
	in.ResourceARN = c.resourceARN
	return in, nil
}

func untagResourceRequest(c *call) (*chat.UntagResourceInput, error) {
	return &chat.UntagResourceInput{ResourceARN: c.resourceARN, TagKeys: c.tagKeys}, nil
}
