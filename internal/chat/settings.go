package chat

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Extension tags: a room switches on an ivschatd extension with a tag in the ivschatd:
// namespace, which every AWS client and infrastructure tool sets unchanged. A room without
// such tags behaves exactly as Amazon IVS Chat.
const (
	TagPrefix         = "ivschatd:"
	TagHistory        = TagPrefix + "history"
	TagReplay         = TagPrefix + "replay"
	TagUserRate       = TagPrefix + "user-rate"
	TagPresenceEvents = TagPrefix + "presence-events"
)

// ExtensionActionPrefix names the actions of the extension operations, ivschatd:<Operation>,
// in a credentials file's actions.
const ExtensionActionPrefix = "ivschatd:"

// Ranges of the extension tags.
const (
	MinHistory, MaxHistory           = 1, 1000
	MinReplay, MaxReplay             = 0, 100
	MinUserRateMessages, MaxUserRate = 1, 100
	MinUserRateSeconds, MaxUserRateS = 1, 3600
)

// UserRate is slow mode: each user may send Messages messages per Per.
type UserRate struct {
	Messages int
	Per      time.Duration
}

// String is the tag value of the rate, M/S.
func (r UserRate) String() string {
	return fmt.Sprintf("%d/%d", r.Messages, int(r.Per/time.Second))
}

// RoomSettings are the extensions a room's tags switch on; the zero value is a plain IVS room.
type RoomSettings struct {
	// History is how many delivered messages the room keeps (0: none).
	History int
	// Replay is how many kept messages a new connection receives first (0: none). It is never
	// more than History: without history there is nothing to replay.
	Replay int
	// UserRate is slow mode; nil when off.
	UserRate *UserRate
	// PresenceEvents sends ivschatd:join and ivschatd:leave events to the room.
	PresenceEvents bool
}

// Extended reports whether any extension is on.
func (s RoomSettings) Extended() bool {
	return s.History > 0 || s.Replay > 0 || s.UserRate != nil || s.PresenceEvents
}

// Settings are the extensions the room's tags switch on. Tags are checked when they are
// written, so every stored room parses; a value that does not (written by another version)
// leaves its extension off.
func (r *Room) Settings() RoomSettings {
	s, _ := parseSettings(r.Tags)
	if s.Replay > s.History {
		// Removing ivschatd:history stops replay; the replay tag stays as the user set it.
		s.Replay = s.History
	}
	return s
}

// PresenceEvents reports whether the room sends ivschatd:join and ivschatd:leave: its
// Settings().PresenceEvents, read without parsing the other tags, for every connect.
func (r *Room) PresenceEvents() bool { return r.Tags[TagPresenceEvents] == "true" }

// parseSettings reads the extension tags, reporting every bad one.
func parseSettings(tags map[string]string) (RoomSettings, []FieldError) {
	var s RoomSettings
	var bad []FieldError
	fail := func(key, format string, args ...any) {
		bad = append(bad, FieldError{Name: "tags." + key, Message: fmt.Sprintf(format, args...)})
	}
	for key, val := range tags {
		if !strings.HasPrefix(key, TagPrefix) {
			continue
		}
		switch key {
		case TagHistory:
			n, ok := tagInt(val, MinHistory, MaxHistory)
			if !ok {
				fail(key, "must be an integer from %d to %d (messages kept), got %q", MinHistory, MaxHistory, val)
			}
			s.History = n
		case TagReplay:
			n, ok := tagInt(val, MinReplay, MaxReplay)
			if !ok {
				fail(key, "must be an integer from %d to %d (kept messages sent on connect), got %q", MinReplay, MaxReplay, val)
			}
			s.Replay = n
		case TagUserRate:
			r, ok := parseUserRate(val)
			if !ok {
				fail(key, "must be M/S, M messages (%d to %d) per S seconds (%d to %d), got %q",
					MinUserRateMessages, MaxUserRate, MinUserRateSeconds, MaxUserRateS, val)
				continue
			}
			s.UserRate = &r
		case TagPresenceEvents:
			switch val {
			case "true":
				s.PresenceEvents = true
			case "false":
			default:
				fail(key, "must be true or false, got %q", val)
			}
		default:
			fail(key, "is not an ivschatd tag; the tags are %s", strings.Join(extensionTags, ", "))
		}
	}
	sort.Slice(bad, func(i, j int) bool { return bad[i].Name < bad[j].Name })
	return s, bad
}

var extensionTags = []string{TagHistory, TagPresenceEvents, TagReplay, TagUserRate}

// tagInt parses a decimal integer in [min, max], without sign or padding.
func tagInt(s string, min, max int) (int, bool) {
	if s == "" || len(s) > 4 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		return 0, false
	}
	return n, true
}

func parseUserRate(s string) (UserRate, bool) {
	m, sec, ok := strings.Cut(s, "/")
	if !ok {
		return UserRate{}, false
	}
	n, ok1 := tagInt(m, MinUserRateMessages, MaxUserRate)
	per, ok2 := tagInt(sec, MinUserRateSeconds, MaxUserRateS)
	if !ok1 || !ok2 {
		return UserRate{}, false
	}
	return UserRate{Messages: n, Per: time.Duration(per) * time.Second}, true
}

// roomSettings checks the extension tags of a room. written are the tags the request sets
// and tags the room's tags after it: each written value must parse, and if the request sets
// ivschatd:history or ivschatd:replay, replay must be at most history in the result.
// (Removing ivschatd:history alone is allowed: it stops replay.)
func (v *validator) roomSettings(written, tags map[string]string) {
	_, bad := parseSettings(written)
	v.fields = append(v.fields, bad...)
	if len(bad) > 0 {
		return
	}
	_, setsHistory := written[TagHistory]
	_, setsReplay := written[TagReplay]
	if !setsHistory && !setsReplay {
		return
	}
	s, _ := parseSettings(tags)
	replay, hasReplay := tags[TagReplay]
	switch {
	case hasReplay && s.History == 0:
		v.fail("tags."+TagReplay, "needs %s: replay sends kept messages, and the room keeps none", TagHistory)
	case s.Replay > s.History:
		v.fail("tags."+TagReplay, "must be at most %s (%d), got %s", TagHistory, s.History, replay)
	}
}

// ValidateRoomTags checks the extension tags a TagResource request adds to a room whose
// tags are existing.
func ValidateRoomTags(existing, add map[string]string) error {
	merged := make(map[string]string, len(existing)+len(add))
	for k, val := range existing {
		merged[k] = val
	}
	for k, val := range add {
		merged[k] = val
	}
	var v validator
	v.roomSettings(add, merged)
	return v.err()
}

// SlowModeMessage is the ERROR 429 a user gets for a send beyond the room's slow mode.
func SlowModeMessage(r UserRate, retry time.Time) string {
	return fmt.Sprintf("slow mode: each user may send %d messages per %d seconds in this room; you may send again at %s",
		r.Messages, int(r.Per/time.Second), retry.UTC().Format(TimeLayout))
}
