package chat

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// validator collects every failing member of one request, so that a ValidationException
// names all of them at once.
type validator struct {
	fields []FieldError
}

func (v *validator) fail(name, format string, args ...any) {
	v.fields = append(v.fields, FieldError{Name: name, Message: fmt.Sprintf(format, args...)})
}

// err returns the validation error, or nil when every member passed.
func (v *validator) err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return Invalid(v.fields...)
}

// length checks a string's length in Unicode code points, as Smithy's @length counts it.
func (v *validator) length(name, s string, min, max int) bool {
	if !utf8.ValidString(s) {
		v.fail(name, "must be valid UTF-8")
		return false
	}
	n := utf8.RuneCountInString(s)
	if n < min || n > max {
		if min == max {
			v.fail(name, "must be exactly %d characters long", min)
		} else {
			v.fail(name, "length must be between %d and %d characters, got %d", min, max, n)
		}
		return false
	}
	return true
}

func (v *validator) pattern(name, s string, re *regexp.Regexp, what string) bool {
	if !re.MatchString(s) {
		v.fail(name, "must be %s", what)
		return false
	}
	return true
}

func (v *validator) intRange(name string, n *int, min, max int) {
	if n != nil && (*n < min || *n > max) {
		v.fail(name, "must be between %d and %d, got %d", min, max, *n)
	}
}

// userID checks a required userId member: 1 to MaxUserIDLength characters.
func (v *validator) userID(id *string) {
	if v.required("userId", id != nil) {
		v.length("userId", *id, 1, MaxUserIDLength)
	}
}

func (v *validator) required(name string, present bool) bool {
	if !present {
		v.fail(name, "is required")
	}
	return present
}

var (
	namePattern      = regexp.MustCompile(`^[a-zA-Z0-9-_]*$`)
	lambdaARNPattern = regexp.MustCompile(`^$|^arn:aws:lambda:[a-z0-9-]+:[0-9]{12}:function:.+`)
	bucketPattern    = regexp.MustCompile(`^[a-z0-9-.]+$`)
	logGroupPattern  = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]+$`)
	streamPattern    = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
)

// resourceName checks a room or logging-configuration name: 0–128 of [a-zA-Z0-9-_].
func (v *validator) resourceName(name string, s *string) {
	if s == nil {
		return
	}
	if v.length(name, *s, 0, 128) {
		v.pattern(name, *s, namePattern, "letters, digits, '-' and '_' only")
	}
}

// arnOf checks an identifier that must be an ARN of the given resource kind.
func (v *validator) arnOf(name, s, resource string) (ARN, bool) {
	if s == "" {
		v.fail(name, "is required")
		return ARN{}, false
	}
	if !v.length(name, s, 1, maxARNLength) {
		return ARN{}, false
	}
	a, ok := ParseARN(s)
	if !ok || a.Resource != resource {
		v.fail(name, "must be a %s ARN (arn:aws:ivschat:<region>:<account>:%s/<id>)", resourceTypeLabel(resourceTypeOf(resource)), resource)
		return ARN{}, false
	}
	return a, true
}

// Tag limits from the model.
const (
	MaxTags           = 50
	maxTagKeyLength   = 128
	maxTagValueLength = 256
)

func (v *validator) tags(name string, tags map[string]string) {
	if len(tags) > MaxTags {
		v.fail(name, "at most %d tags are allowed, got %d", MaxTags, len(tags))
	}
	for k, val := range tags {
		if v.length(name+"."+k, k, 1, maxTagKeyLength) {
			v.tagKeyNotReserved(name+"."+k, k)
		}
		v.length(name+"."+k, val, 0, maxTagValueLength)
	}
}

// tagKeyNotReserved refuses the aws: prefix, in any case, which "Tag naming limits and
// requirements" of Tagging AWS Resources (the only tag rules IVS Chat names) keeps for AWS.
// Values may begin with it: the services that enforce the rule check keys.
func (v *validator) tagKeyNotReserved(name, key string) {
	if len(key) >= 4 && strings.EqualFold(key[:4], "aws:") {
		v.fail(name, "tag keys beginning with aws: are reserved for AWS use")
	}
}

// attributeMap checks a string map of valid UTF-8 within MaxAttributesBytes (token
// attributes, event attributes).
func (v *validator) attributeMap(name string, m map[string]string) {
	for k, val := range m {
		if !utf8.ValidString(k) || !utf8.ValidString(val) {
			v.fail(name, "keys and values must be valid UTF-8")
			return
		}
	}
	if total := attributesSize(m); total > MaxAttributesBytes {
		v.fail(name, "keys and values together must be at most %d bytes, got %d", MaxAttributesBytes, total)
	}
}
