package api

import (
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/service"
)

// The JSON the API returns, member for member as the model names them.

// timestamp formats a time as the wire carries it: RFC 3339, UTC, milliseconds.
func timestamp(t time.Time) string { return t.UTC().Format(chat.TimeLayout) }

type roomView struct {
	Arn                             string                     `json:"arn"`
	ID                              string                     `json:"id"`
	Name                            string                     `json:"name"`
	CreateTime                      string                     `json:"createTime"`
	UpdateTime                      string                     `json:"updateTime"`
	MaximumMessageRatePerSecond     int                        `json:"maximumMessageRatePerSecond,omitempty"`
	MaximumMessageLength            int                        `json:"maximumMessageLength,omitempty"`
	MessageReviewHandler            *chat.MessageReviewHandler `json:"messageReviewHandler,omitempty"`
	Tags                            map[string]string          `json:"tags"`
	LoggingConfigurationIdentifiers []string                   `json:"loggingConfigurationIdentifiers"`
}

func viewRoom(r *chat.Room) *roomView {
	v := viewRoomSummary(r)
	v.MaximumMessageRatePerSecond = r.MaximumMessageRatePerSecond
	v.MaximumMessageLength = r.MaximumMessageLength
	return v
}

// viewRoomSummary leaves out the rate and length, which RoomSummary does not have.
func viewRoomSummary(r *chat.Room) *roomView {
	v := &roomView{Arn: r.ARN().String(), ID: r.ID, Name: r.Name, CreateTime: timestamp(r.CreateTime),
		UpdateTime: timestamp(r.UpdateTime), MessageReviewHandler: r.MessageReviewHandler,
		Tags: r.Tags, LoggingConfigurationIdentifiers: r.LoggingConfigurationIdentifiers}
	if v.Tags == nil {
		v.Tags = map[string]string{}
	}
	if v.LoggingConfigurationIdentifiers == nil {
		v.LoggingConfigurationIdentifiers = []string{}
	}
	return v
}

type loggingConfigurationView struct {
	Arn                      string            `json:"arn"`
	ID                       string            `json:"id"`
	Name                     string            `json:"name"`
	CreateTime               string            `json:"createTime"`
	UpdateTime               string            `json:"updateTime"`
	DestinationConfiguration chat.Destination  `json:"destinationConfiguration"`
	State                    string            `json:"state"`
	Tags                     map[string]string `json:"tags"`
}

func viewLoggingConfiguration(c *chat.LoggingConfiguration) *loggingConfigurationView {
	v := &loggingConfigurationView{Arn: c.ARN().String(), ID: c.ID, Name: c.Name, CreateTime: timestamp(c.CreateTime),
		UpdateTime: timestamp(c.UpdateTime), DestinationConfiguration: c.Destination, State: c.State, Tags: c.Tags}
	if v.Tags == nil {
		v.Tags = map[string]string{}
	}
	return v
}

type listRoomsView struct {
	Rooms     []*roomView `json:"rooms"`
	NextToken string      `json:"nextToken,omitempty"`
}

type listLoggingConfigurationsView struct {
	LoggingConfigurations []*loggingConfigurationView `json:"loggingConfigurations"`
	NextToken             string                      `json:"nextToken,omitempty"`
}

type chatTokenView struct {
	Token                 string `json:"token"`
	TokenExpirationTime   string `json:"tokenExpirationTime"`
	SessionExpirationTime string `json:"sessionExpirationTime"`
}

type idView struct {
	ID string `json:"id"`
}

type tagsView struct {
	Tags map[string]string `json:"tags"`
}

type empty struct{}

// noBody is the view of an operation that answers 204 without a body.
type noBody struct{}

func noContent(struct{}) noBody { return noBody{} }

func emptyObject(struct{}) *empty { return &empty{} }

func viewChatToken(t *service.IssuedToken) *chatTokenView {
	return &chatTokenView{Token: t.Token, TokenExpirationTime: timestamp(t.Grant.TokenExpirationTime),
		SessionExpirationTime: timestamp(t.Grant.SessionExpirationTime)}
}

func viewRoomPage(p *service.Page[chat.Room]) *listRoomsView {
	out := &listRoomsView{Rooms: make([]*roomView, len(p.Items)), NextToken: p.NextToken}
	for i, r := range p.Items {
		out.Rooms[i] = viewRoomSummary(r)
	}
	return out
}

func viewLoggingConfigurationPage(p *service.Page[chat.LoggingConfiguration]) *listLoggingConfigurationsView {
	out := &listLoggingConfigurationsView{LoggingConfigurations: make([]*loggingConfigurationView, len(p.Items)), NextToken: p.NextToken}
	for i, c := range p.Items {
		out.LoggingConfigurations[i] = viewLoggingConfiguration(c)
	}
	return out
}

func viewID(id string) *idView { return &idView{ID: id} }

func viewTags(tags map[string]string) *tagsView { return &tagsView{Tags: tags} }
