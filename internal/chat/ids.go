package chat

import (
	"crypto/rand"
	"fmt"
	"regexp"
	"strings"
)

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// IDLength is the length of every IVS Chat identifier: rooms, logging configurations,
// messages, events and operation ids.
const IDLength = 12

// NewID returns a fresh random 12-character [A-Za-z0-9] identifier.
func NewID() string {
	var raw [IDLength]byte
	var out [IDLength]byte
	for i := 0; i < IDLength; {
		// Rejection sampling keeps the 62 symbols uniform.
		if _, err := rand.Read(raw[:]); err != nil {
			panic("chat: no randomness: " + err.Error())
		}
		for _, b := range raw {
			if b >= 248 { // 248 = 4*62
				continue
			}
			out[i] = idAlphabet[int(b)%len(idAlphabet)]
			i++
			if i == IDLength {
				break
			}
		}
	}
	return string(out[:])
}

// IsID reports whether s has the form of an IVS Chat identifier.
func IsID(s string) bool {
	if len(s) != IDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Resource kinds as they appear in an ARN's resource part.
const (
	arnRoom                 = "room"
	arnLoggingConfiguration = "logging-configuration"
)

// ARN identifies a room or a logging configuration.
type ARN struct {
	Region   string
	Account  string
	Resource string // "room" or "logging-configuration"
	ID       string
}

func (a ARN) String() string {
	return fmt.Sprintf("arn:aws:ivschat:%s:%s:%s/%s", a.Region, a.Account, a.Resource, a.ID)
}

// IsRoom reports whether the ARN names a room.
func (a ARN) IsRoom() bool { return a.Resource == arnRoom }

// IsLoggingConfiguration reports whether the ARN names a logging configuration.
func (a ARN) IsLoggingConfiguration() bool { return a.Resource == arnLoggingConfiguration }

// ResourceType is the API's name of the kind of resource the ARN names, as errors carry it.
func (a ARN) ResourceType() string { return resourceTypeOf(a.Resource) }

// NotFound is the error for the ARN's resource not existing (or belonging to another account).
func (a ARN) NotFound() *Error { return NotFound(a.ResourceType(), a.ID) }

// resourceTypeOf maps an ARN's resource part to the API's resource type.
func resourceTypeOf(arnResource string) string {
	if arnResource == arnRoom {
		return ResourceRoom
	}
	return ResourceLoggingConfiguration
}

// RoomARN is the ARN of room id in the account and region.
func RoomARN(region, account, id string) ARN {
	return ARN{Region: region, Account: account, Resource: arnRoom, ID: id}
}

// LoggingConfigurationARN is the ARN of logging configuration id in the account and region.
func LoggingConfigurationARN(region, account, id string) ARN {
	return ARN{Region: region, Account: account, Resource: arnLoggingConfiguration, ID: id}
}

// The model's patterns, anchored as in the Smithy model. ResourceArn's modelled pattern has a
// single-character resource type that matches no real ARN, so tags accept either real kind.
var arnPattern = regexp.MustCompile(`^arn:aws:ivschat:([a-z0-9-]+):([0-9]+):(room|logging-configuration)/([a-zA-Z0-9-]+)$`)

// maxARNLength is the modelled length limit of every ARN and identifier shape.
const maxARNLength = 128

// ParseARN parses a room or logging-configuration ARN. The ID part follows the model's
// pattern ([a-zA-Z0-9-]+); whether it names an existing resource is for the caller to find out.
func ParseARN(s string) (ARN, bool) {
	if len(s) == 0 || len(s) > maxARNLength || !strings.HasPrefix(s, "arn:aws:ivschat:") {
		return ARN{}, false
	}
	m := arnPattern.FindStringSubmatch(s)
	if m == nil {
		return ARN{}, false
	}
	return ARN{Region: m[1], Account: m[2], Resource: m[3], ID: m[4]}, true
}
