package chat

import "fmt"

// RoomIdentifier checks a request member that must name a room by ARN.
func RoomIdentifier(name, s string) (ARN, error) {
	var v validator
	a, _ := v.arnOf(name, s, arnRoom)
	return a, v.err()
}

// LoggingConfigurationIdentifier checks a request member that must name a logging configuration by ARN.
func LoggingConfigurationIdentifier(name, s string) (ARN, error) {
	var v validator
	a, _ := v.arnOf(name, s, arnLoggingConfiguration)
	return a, v.err()
}

// ResourceIdentifier checks the ARN of a taggable resource: a room or a logging configuration.
func ResourceIdentifier(name, s string) (ARN, error) {
	var v validator
	if !v.length(name, s, 1, maxARNLength) {
		return ARN{}, v.err()
	}
	a, ok := ParseARN(s)
	if !ok {
		v.fail(name, "must be the ARN of a room or a logging configuration")
	}
	return a, v.err()
}

// IdentifierInput is the request of the operations that name one resource by ARN: GetRoom,
// DeleteRoom, GetLoggingConfiguration and DeleteLoggingConfiguration.
type IdentifierInput struct {
	Identifier string `json:"identifier"`
}

// ResourceInput is the ListTagsForResource request; the ARN comes from the path.
type ResourceInput struct {
	ResourceARN string `json:"-"`
}

// TagResourceInput is the TagResource request: the ARN from the path, the tags from the body.
type TagResourceInput struct {
	ResourceARN string            `json:"-"`
	Tags        map[string]string `json:"tags"`
}

// UntagResourceInput is the UntagResource request: the ARN from the path, the keys from the
// query string.
type UntagResourceInput struct {
	ResourceARN string   `json:"-"`
	TagKeys     []string `json:"-"`
}

// Validate checks the tags to add.
func (in *TagResourceInput) Validate() error {
	var v validator
	if v.required("tags", in.Tags != nil) {
		v.tags("tags", in.Tags)
	}
	return v.err()
}

// ValidateTagKeys checks the keys of an UntagResource request.
func ValidateTagKeys(keys []string, present bool) error {
	var v validator
	if v.required("tagKeys", present) {
		if len(keys) > MaxTags {
			v.fail("tagKeys", "at most %d keys are allowed, got %d", MaxTags, len(keys))
		}
		for _, k := range keys {
			v.length("tagKeys", k, 1, maxTagKeyLength)
		}
	}
	return v.err()
}

// MergeTags returns existing with add applied, or a quota error when the result passes MaxTags.
func MergeTags(existing, add map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(existing)+len(add))
	for k, v := range existing {
		out[k] = v
	}
	for k, v := range add {
		out[k] = v
	}
	if len(out) > MaxTags {
		return nil, Invalid(FieldError{Name: "tags", Message: fmt.Sprintf("a resource can have at most %d tags", MaxTags)})
	}
	return out, nil
}
