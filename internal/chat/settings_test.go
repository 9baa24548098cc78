package chat

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestExtensionTagsOfCreateRoom(t *testing.T) {
	tests := []struct {
		rule string
		tags map[string]string
		want []string // failing members; none means valid
		// says is what the message of the one failing member must contain.
		says string
	}{
		{"a room without ivschatd tags is valid", map[string]string{"team": "blue"}, nil, ""},
		{"history 1 is valid", map[string]string{TagHistory: "1"}, nil, ""},
		{"history 1000 is valid", map[string]string{TagHistory: "1000"}, nil, ""},
		{"history 0 fails", map[string]string{TagHistory: "0"}, []string{"tags.ivschatd:history"}, "from 1 to 1000"},
		{"history 1001 fails", map[string]string{TagHistory: "1001"}, []string{"tags.ivschatd:history"}, "from 1 to 1000"},
		{"history with a sign fails", map[string]string{TagHistory: "+5"}, []string{"tags.ivschatd:history"}, `"+5"`},
		{"history with a leading zero fails", map[string]string{TagHistory: "05"}, []string{"tags.ivschatd:history"}, "integer"},
		{"history with a space fails", map[string]string{TagHistory: " 5"}, []string{"tags.ivschatd:history"}, "integer"},
		{"history that is a word fails", map[string]string{TagHistory: "all"}, []string{"tags.ivschatd:history"}, "integer"},
		{"empty history fails", map[string]string{TagHistory: ""}, []string{"tags.ivschatd:history"}, "integer"},

		{"replay 0 with history is valid", map[string]string{TagHistory: "10", TagReplay: "0"}, nil, ""},
		{"replay equal to history is valid", map[string]string{TagHistory: "100", TagReplay: "100"}, nil, ""},
		{"replay 101 fails", map[string]string{TagHistory: "1000", TagReplay: "101"}, []string{"tags.ivschatd:replay"}, "from 0 to 100"},
		{"replay more than history fails", map[string]string{TagHistory: "5", TagReplay: "6"}, []string{"tags.ivschatd:replay"}, "at most ivschatd:history (5)"},
		{"replay without history fails", map[string]string{TagReplay: "5"}, []string{"tags.ivschatd:replay"}, "needs ivschatd:history"},
		{"replay 0 without history fails", map[string]string{TagReplay: "0"}, []string{"tags.ivschatd:replay"}, "needs ivschatd:history"},

		{"user rate 1/1 is valid", map[string]string{TagUserRate: "1/1"}, nil, ""},
		{"user rate 100/3600 is valid", map[string]string{TagUserRate: "100/3600"}, nil, ""},
		{"user rate of 0 messages fails", map[string]string{TagUserRate: "0/10"}, []string{"tags.ivschatd:user-rate"}, "M/S"},
		{"user rate of 101 messages fails", map[string]string{TagUserRate: "101/10"}, []string{"tags.ivschatd:user-rate"}, "1 to 100"},
		{"user rate over 0 seconds fails", map[string]string{TagUserRate: "1/0"}, []string{"tags.ivschatd:user-rate"}, "1 to 3600"},
		{"user rate over 3601 seconds fails", map[string]string{TagUserRate: "1/3601"}, []string{"tags.ivschatd:user-rate"}, "1 to 3600"},
		{"user rate without a slash fails", map[string]string{TagUserRate: "5"}, []string{"tags.ivschatd:user-rate"}, "M/S"},
		{"user rate with a unit fails", map[string]string{TagUserRate: "5/10s"}, []string{"tags.ivschatd:user-rate"}, "M/S"},
		{"user rate with two slashes fails", map[string]string{TagUserRate: "5/10/2"}, []string{"tags.ivschatd:user-rate"}, "M/S"},

		{"presence events true is valid", map[string]string{TagPresenceEvents: "true"}, nil, ""},
		{"presence events false is valid", map[string]string{TagPresenceEvents: "false"}, nil, ""},
		{"presence events in capitals fail", map[string]string{TagPresenceEvents: "TRUE"}, []string{"tags.ivschatd:presence-events"}, "true or false"},
		{"presence events yes fail", map[string]string{TagPresenceEvents: "yes"}, []string{"tags.ivschatd:presence-events"}, "true or false"},

		{"an unknown ivschatd tag fails, naming the known ones", map[string]string{"ivschatd:histroy": "5"}, []string{"tags.ivschatd:histroy"}, "ivschatd:history, ivschatd:presence-events"},
		{"a tag in another case is not an ivschatd tag", map[string]string{"IVSCHATD:history": "many"}, nil, ""},
		{"every bad tag is named", map[string]string{TagHistory: "0", TagUserRate: "x", TagPresenceEvents: "1"},
			[]string{"tags.ivschatd:history", "tags.ivschatd:user-rate", "tags.ivschatd:presence-events"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			in := CreateRoomInput{Tags: tc.tags}
			_, err := in.Validate()
			assertFields(t, err, tc.want...)
			if tc.says != "" && !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("message %q does not say %q", err, tc.says)
			}
		})
	}
}

func TestExtensionTagsOfTagResource(t *testing.T) {
	tests := []struct {
		rule          string
		existing, add map[string]string
		want          []string
	}{
		{"adding replay to a room with history is valid", map[string]string{TagHistory: "10"}, map[string]string{TagReplay: "10"}, nil},
		{"adding replay to a room without history fails", map[string]string{"team": "blue"}, map[string]string{TagReplay: "1"}, []string{"tags.ivschatd:replay"}},
		{"lowering history below replay fails", map[string]string{TagHistory: "10", TagReplay: "10"}, map[string]string{TagHistory: "9"}, []string{"tags.ivschatd:replay"}},
		{"adding a plain tag to a room whose replay outlived its history is valid", map[string]string{TagReplay: "10"}, map[string]string{"team": "blue"}, nil},
		{"a bad value fails whatever the room has", map[string]string{TagUserRate: "1/1"}, map[string]string{TagUserRate: "1/s"}, []string{"tags.ivschatd:user-rate"}},
		{"an existing tag is not checked again", map[string]string{"ivschatd:unknown": "x"}, map[string]string{"team": "blue"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			assertFields(t, ValidateRoomTags(tc.existing, tc.add), tc.want...)
		})
	}
}

func TestRoomSettings(t *testing.T) {
	tests := []struct {
		rule string
		tags map[string]string
		want RoomSettings
	}{
		{"a room without ivschatd tags has no extension", map[string]string{"team": "blue"}, RoomSettings{}},
		{"every extension parses", map[string]string{TagHistory: "50", TagReplay: "20", TagUserRate: "3/10", TagPresenceEvents: "true"},
			RoomSettings{History: 50, Replay: 20, UserRate: &UserRate{Messages: 3, Per: 10 * time.Second}, PresenceEvents: true}},
		{"replay stops when history is removed", map[string]string{TagReplay: "20"}, RoomSettings{}},
		{"a value no version wrote leaves its extension off", map[string]string{TagHistory: "lots", TagPresenceEvents: "true"}, RoomSettings{PresenceEvents: true}},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			r := &Room{Resource: Resource{Tags: tc.tags}}
			if got := r.Settings(); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("settings = %+v, want %+v", got, tc.want)
			}
			if got := r.Settings().Extended(); got != (tc.want != RoomSettings{}) {
				t.Fatalf("Extended() = %v", got)
			}
		})
	}
}

func TestUserRateString(t *testing.T) {
	if got := (UserRate{Messages: 3, Per: 10 * time.Second}).String(); got != "3/10" {
		t.Fatalf("got %q", got)
	}
}
