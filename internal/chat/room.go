package chat

import "time"

// Room defaults and ranges from the model.
const (
	DefaultMaxMessageRatePerSecond = 10
	MinMaxMessageRatePerSecond     = 1
	MaxMaxMessageRatePerSecond     = 100
	DefaultMaxMessageLength        = 500
	MinMaxMessageLength            = 1
	MaxMaxMessageLength            = 500
	// MaxLoggingConfigurationsPerRoom is the model's limit on a room's list of logging configurations.
	MaxLoggingConfigurationsPerRoom = 3
)

// Review fallback results.
const (
	FallbackAllow = "ALLOW"
	FallbackDeny  = "DENY"
)

// MessageReviewHandler is the Lambda function that reviews every message sent to a room.
type MessageReviewHandler struct {
	URI            string `json:"uri"`
	FallbackResult string `json:"fallbackResult"`
}

// Resource is what a room and a logging configuration both are: a named, tagged thing of an
// account in a region. Account and Region place it; they are not wire members.
type Resource struct {
	Account    string            `json:"account"`
	Region     string            `json:"region"`
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	CreateTime time.Time         `json:"createTime"`
	UpdateTime time.Time         `json:"updateTime"`
	Tags       map[string]string `json:"tags"`
}

// newResource is a resource created now from a validated request's name and tags.
func newResource(region, account, id string, name *string, tags map[string]string, now time.Time) Resource {
	r := Resource{Account: account, Region: region, ID: id, Name: Deref(name), CreateTime: now, UpdateTime: now,
		Tags: make(map[string]string, len(tags))}
	for k, v := range tags {
		r.Tags[k] = v
	}
	return r
}

// Room is a chat room as stored.
type Room struct {
	Resource
	MaximumMessageRatePerSecond     int                   `json:"maximumMessageRatePerSecond"`
	MaximumMessageLength            int                   `json:"maximumMessageLength"`
	MessageReviewHandler            *MessageReviewHandler `json:"messageReviewHandler,omitempty"`
	LoggingConfigurationIdentifiers []string              `json:"loggingConfigurationIdentifiers"`
}

// ARN is the room's ARN.
func (r *Room) ARN() ARN { return RoomARN(r.Region, r.Account, r.ID) }

// HasReviewHandler reports whether messages to the room go through a review handler.
func (r *Room) HasReviewHandler() bool {
	return r.MessageReviewHandler != nil && r.MessageReviewHandler.URI != ""
}

// MessageReviewHandlerInput is the handler member of CreateRoom and UpdateRoom; absent members
// take the default on create and stay unchanged on update.
type MessageReviewHandlerInput struct {
	URI            *string `json:"uri"`
	FallbackResult *string `json:"fallbackResult"`
}

func (v *validator) reviewHandler(name string, h *MessageReviewHandlerInput) {
	if h == nil {
		return
	}
	if h.URI != nil {
		v.handlerURI(name+".uri", *h.URI)
	}
	if h.FallbackResult != nil && *h.FallbackResult != FallbackAllow && *h.FallbackResult != FallbackDeny {
		v.fail(name+".fallbackResult", "must be one of ALLOW, DENY")
	}
}

// handlerURI checks a LambdaArn: a review handler's uri, or the ListRooms filter on it.
func (v *validator) handlerURI(name, uri string) {
	if v.length(name, uri, 0, 170) {
		v.pattern(name, uri, lambdaARNPattern, "empty or a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>)")
	}
}

// CreateRoomInput is the CreateRoom request.
type CreateRoomInput struct {
	Name                            *string                    `json:"name"`
	MaximumMessageRatePerSecond     *int                       `json:"maximumMessageRatePerSecond"`
	MaximumMessageLength            *int                       `json:"maximumMessageLength"`
	MessageReviewHandler            *MessageReviewHandlerInput `json:"messageReviewHandler"`
	Tags                            map[string]string          `json:"tags"`
	LoggingConfigurationIdentifiers []string                   `json:"loggingConfigurationIdentifiers"`
}

// Validate checks the request against the model. The returned ARNs are the parsed logging
// configuration identifiers, still to be checked for existence.
func (in *CreateRoomInput) Validate() ([]ARN, error) {
	var v validator
	v.resourceName("name", in.Name)
	v.intRange("maximumMessageRatePerSecond", in.MaximumMessageRatePerSecond, MinMaxMessageRatePerSecond, MaxMaxMessageRatePerSecond)
	v.intRange("maximumMessageLength", in.MaximumMessageLength, MinMaxMessageLength, MaxMaxMessageLength)
	v.reviewHandler("messageReviewHandler", in.MessageReviewHandler)
	v.tags("tags", in.Tags)
	v.roomSettings(in.Tags, in.Tags)
	arns := v.loggingConfigurationList("loggingConfigurationIdentifiers", in.LoggingConfigurationIdentifiers)
	return arns, v.err()
}

// NewRoom builds a room from a validated request, applying the model's defaults.
func NewRoom(in *CreateRoomInput, region, account, id string, now time.Time) *Room {
	r := &Room{
		Resource:                        newResource(region, account, id, in.Name, in.Tags, now),
		MaximumMessageRatePerSecond:     DefaultMaxMessageRatePerSecond,
		MaximumMessageLength:            DefaultMaxMessageLength,
		LoggingConfigurationIdentifiers: []string{},
	}
	if in.MaximumMessageRatePerSecond != nil {
		r.MaximumMessageRatePerSecond = *in.MaximumMessageRatePerSecond
	}
	if in.MaximumMessageLength != nil {
		r.MaximumMessageLength = *in.MaximumMessageLength
	}
	if in.MessageReviewHandler != nil {
		r.MessageReviewHandler = applyHandler(&MessageReviewHandler{FallbackResult: FallbackAllow}, in.MessageReviewHandler)
	}
	if in.LoggingConfigurationIdentifiers != nil {
		r.LoggingConfigurationIdentifiers = dedupe(in.LoggingConfigurationIdentifiers)
	}
	return r
}

func applyHandler(h *MessageReviewHandler, in *MessageReviewHandlerInput) *MessageReviewHandler {
	out := *h
	if in.URI != nil {
		out.URI = *in.URI
	}
	if in.FallbackResult != nil {
		out.FallbackResult = *in.FallbackResult
	}
	return &out
}

// UpdateRoomInput is the UpdateRoom request: a partial update in which absent members stay.
type UpdateRoomInput struct {
	Identifier                      string                     `json:"identifier"`
	Name                            *string                    `json:"name"`
	MaximumMessageRatePerSecond     *int                       `json:"maximumMessageRatePerSecond"`
	MaximumMessageLength            *int                       `json:"maximumMessageLength"`
	MessageReviewHandler            *MessageReviewHandlerInput `json:"messageReviewHandler"`
	LoggingConfigurationIdentifiers *[]string                  `json:"loggingConfigurationIdentifiers"`
}

// Validate checks the request; it returns the room's ARN and the parsed logging configuration ARNs.
func (in *UpdateRoomInput) Validate() (ARN, []ARN, error) {
	var v validator
	room, _ := v.arnOf("identifier", in.Identifier, arnRoom)
	v.resourceName("name", in.Name)
	v.intRange("maximumMessageRatePerSecond", in.MaximumMessageRatePerSecond, MinMaxMessageRatePerSecond, MaxMaxMessageRatePerSecond)
	v.intRange("maximumMessageLength", in.MaximumMessageLength, MinMaxMessageLength, MaxMaxMessageLength)
	v.reviewHandler("messageReviewHandler", in.MessageReviewHandler)
	var arns []ARN
	if in.LoggingConfigurationIdentifiers != nil {
		arns = v.loggingConfigurationList("loggingConfigurationIdentifiers", *in.LoggingConfigurationIdentifiers)
	}
	return room, arns, v.err()
}

// Apply returns the room with the update applied and its update time set to now.
func (in *UpdateRoomInput) Apply(r *Room, now time.Time) *Room {
	out := *r
	if in.Name != nil {
		out.Name = *in.Name
	}
	if in.MaximumMessageRatePerSecond != nil {
		out.MaximumMessageRatePerSecond = *in.MaximumMessageRatePerSecond
	}
	if in.MaximumMessageLength != nil {
		out.MaximumMessageLength = *in.MaximumMessageLength
	}
	if in.MessageReviewHandler != nil {
		base := r.MessageReviewHandler
		if base == nil {
			base = &MessageReviewHandler{FallbackResult: FallbackAllow}
		}
		h := applyHandler(base, in.MessageReviewHandler)
		if h.URI == "" {
			// An empty uri disassociates the handler.
			h = nil
		}
		out.MessageReviewHandler = h
	}
	if in.LoggingConfigurationIdentifiers != nil {
		out.LoggingConfigurationIdentifiers = dedupe(*in.LoggingConfigurationIdentifiers)
	}
	// updateTime orders ListRooms, so every update must move it forward.
	out.UpdateTime = nextUpdateTime(r.UpdateTime, now)
	return &out
}

// nextUpdateTime is now, or the next millisecond after prev when now is not past it at the
// millisecond precision the API reports times in, so a client always sees an update move it.
func nextUpdateTime(prev, now time.Time) time.Time {
	if next := prev.Truncate(time.Millisecond).Add(time.Millisecond); now.Before(next) {
		return next
	}
	return now
}

func (v *validator) loggingConfigurationList(name string, ids []string) []ARN {
	if len(ids) > MaxLoggingConfigurationsPerRoom {
		v.fail(name, "at most %d logging configurations per room, got %d", MaxLoggingConfigurationsPerRoom, len(ids))
		return nil
	}
	arns := make([]ARN, 0, len(ids))
	for _, s := range ids {
		if a, ok := v.arnOf(name, s, arnLoggingConfiguration); ok {
			arns = append(arns, a)
		}
	}
	return arns
}

func dedupe(list []string) []string {
	out := make([]string, 0, len(list))
	seen := make(map[string]bool, len(list))
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
