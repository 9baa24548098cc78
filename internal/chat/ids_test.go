package chat

import (
	"strings"
	"testing"
)

func TestNewID(t *testing.T) {
	t.Run("is 12 characters of [A-Za-z0-9]", func(t *testing.T) {
		for i := 0; i < 1000; i++ {
			id := NewID()
			if len(id) != IDLength {
				t.Fatalf("NewID() = %q: length %d, want %d", id, len(id), IDLength)
			}
			for _, c := range id {
				if !strings.ContainsRune(idAlphabet, c) {
					t.Fatalf("NewID() = %q: %q is outside [A-Za-z0-9]", id, c)
				}
			}
			if !IsID(id) {
				t.Fatalf("IsID(NewID()) = false for %q", id)
			}
		}
	})
	t.Run("is unique over many", func(t *testing.T) {
		const n = 100000
		seen := make(map[string]bool, n)
		for i := 0; i < n; i++ {
			id := NewID()
			if seen[id] {
				t.Fatalf("NewID() repeated %q after %d ids", id, i)
			}
			seen[id] = true
		}
	})
	t.Run("uses the whole alphabet", func(t *testing.T) {
		used := map[rune]bool{}
		for i := 0; i < 2000; i++ {
			for _, c := range NewID() {
				used[c] = true
			}
		}
		if len(used) != len(idAlphabet) {
			t.Fatalf("24000 random characters used %d symbols, want all %d", len(used), len(idAlphabet))
		}
	})
}

func TestIsID(t *testing.T) {
	tests := []struct {
		name string
		s    string
		want bool
	}{
		{"12 mixed-case letters and digits", "0wgOPVl4ZRdu", true},
		{"all digits", "123456789012", true},
		{"empty", "", false},
		{"11 characters", "0wgOPVl4ZRd", false},
		{"13 characters", "0wgOPVl4ZRduX", false},
		{"hyphen", "0wgOPVl4-Rdu", false},
		{"underscore", "0wgOPVl4_Rdu", false},
		{"space", "0wgOPVl4 Rdu", false},
		{"non-ASCII letter of 12 bytes", "ééééééé4ZRdu"[:12], false},
		{"12 code points with a multi-byte one", "0wgOPVl4ZRdé", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsID(tt.s); got != tt.want {
				t.Fatalf("IsID(%q) = %v, want %v", tt.s, got, tt.want)
			}
		})
	}
}

func TestParseARN(t *testing.T) {
	tests := []struct {
		name string
		s    string
		want ARN
		ok   bool
	}{
		{"room ARN", "arn:aws:ivschat:us-west-2:123456789012:room/AbCdEfGh1234",
			ARN{Region: "us-west-2", Account: "123456789012", Resource: "room", ID: "AbCdEfGh1234"}, true},
		{"logging-configuration ARN", "arn:aws:ivschat:eu-central-1:000000000000:logging-configuration/ABCDabcd0123",
			ARN{Region: "eu-central-1", Account: "000000000000", Resource: "logging-configuration", ID: "ABCDabcd0123"}, true},
		{"id with hyphens as the model allows", "arn:aws:ivschat:us-east-1:1:room/a-b-c",
			ARN{Region: "us-east-1", Account: "1", Resource: "room", ID: "a-b-c"}, true},
		{"exactly 128 characters", "arn:aws:ivschat:us-west-2:123456789012:room/" + strings.Repeat("a", 128-len("arn:aws:ivschat:us-west-2:123456789012:room/")),
			ARN{Region: "us-west-2", Account: "123456789012", Resource: "room", ID: strings.Repeat("a", 128-len("arn:aws:ivschat:us-west-2:123456789012:room/"))}, true},

		{"empty", "", ARN{}, false},
		{"bare id", "AbCdEfGh1234", ARN{}, false},
		{"129 characters", "arn:aws:ivschat:us-west-2:123456789012:room/" + strings.Repeat("a", 129-len("arn:aws:ivschat:us-west-2:123456789012:room/")), ARN{}, false},
		{"wrong partition", "arn:aws-cn:ivschat:cn-north-1:123456789012:room/AbCdEfGh1234", ARN{}, false},
		{"wrong service", "arn:aws:ivs:us-west-2:123456789012:channel/AbCdEfGh1234", ARN{}, false},
		{"wrong service with room kind", "arn:aws:ivs:us-west-2:123456789012:room/AbCdEfGh1234", ARN{}, false},
		{"wrong kind", "arn:aws:ivschat:us-west-2:123456789012:channel/AbCdEfGh1234", ARN{}, false},
		{"kind in upper case", "arn:aws:ivschat:us-west-2:123456789012:ROOM/AbCdEfGh1234", ARN{}, false},
		{"empty id", "arn:aws:ivschat:us-west-2:123456789012:room/", ARN{}, false},
		{"no id separator", "arn:aws:ivschat:us-west-2:123456789012:room", ARN{}, false},
		{"empty region", "arn:aws:ivschat::123456789012:room/AbCdEfGh1234", ARN{}, false},
		{"upper-case region", "arn:aws:ivschat:US-WEST-2:123456789012:room/AbCdEfGh1234", ARN{}, false},
		{"empty account", "arn:aws:ivschat:us-west-2::room/AbCdEfGh1234", ARN{}, false},
		{"account with letters", "arn:aws:ivschat:us-west-2:12345678901a:room/AbCdEfGh1234", ARN{}, false},
		{"id with slash", "arn:aws:ivschat:us-west-2:123456789012:room/AbCd/EfGh1234", ARN{}, false},
		{"id with underscore", "arn:aws:ivschat:us-west-2:123456789012:room/AbCd_EfGh1234", ARN{}, false},
		{"trailing newline", "arn:aws:ivschat:us-west-2:123456789012:room/AbCdEfGh1234\n", ARN{}, false},
		{"leading space", " arn:aws:ivschat:us-west-2:123456789012:room/AbCdEfGh1234", ARN{}, false},
		{"percent-encoded", "arn%3Aaws%3Aivschat%3Aus-west-2%3A123456789012%3Aroom%2FAbCdEfGh1234", ARN{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseARN(tt.s)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("ParseARN(%q) = %+v, %v; want %+v, %v", tt.s, got, ok, tt.want, tt.ok)
			}
			if ok && got.String() != tt.s {
				t.Fatalf("ParseARN(%q).String() = %q, want the input back", tt.s, got.String())
			}
		})
	}
}

func TestARNKinds(t *testing.T) {
	t.Run("RoomARN is a room and formats as the model's pattern", func(t *testing.T) {
		a := RoomARN("us-west-2", "123456789012", "AbCdEfGh1234")
		if !a.IsRoom() || a.IsLoggingConfiguration() {
			t.Fatalf("RoomARN: IsRoom %v, IsLoggingConfiguration %v", a.IsRoom(), a.IsLoggingConfiguration())
		}
		if want := "arn:aws:ivschat:us-west-2:123456789012:room/AbCdEfGh1234"; a.String() != want {
			t.Fatalf("String() = %q, want %q", a.String(), want)
		}
	})
	t.Run("LoggingConfigurationARN is a logging configuration", func(t *testing.T) {
		a := LoggingConfigurationARN("us-west-2", "123456789012", "AbCdEfGh1234")
		if a.IsRoom() || !a.IsLoggingConfiguration() {
			t.Fatalf("LoggingConfigurationARN: IsRoom %v, IsLoggingConfiguration %v", a.IsRoom(), a.IsLoggingConfiguration())
		}
		if want := "arn:aws:ivschat:us-west-2:123456789012:logging-configuration/AbCdEfGh1234"; a.String() != want {
			t.Fatalf("String() = %q, want %q", a.String(), want)
		}
	})
}

const (
	testRoomARN = "arn:aws:ivschat:us-west-2:123456789012:room/AbCdEfGh1234"
	testLogARN  = "arn:aws:ivschat:us-west-2:123456789012:logging-configuration/ABCDabcd0123"
)

func TestIdentifiers(t *testing.T) {
	tests := []struct {
		name    string
		check   func(name, s string) (ARN, error)
		s       string
		wantErr bool
	}{
		{"RoomIdentifier accepts a room ARN", RoomIdentifier, testRoomARN, false},
		{"RoomIdentifier refuses a logging-configuration ARN", RoomIdentifier, testLogARN, true},
		{"RoomIdentifier refuses a bare id", RoomIdentifier, "AbCdEfGh1234", true},
		{"RoomIdentifier refuses empty", RoomIdentifier, "", true},
		{"RoomIdentifier refuses 129 characters", RoomIdentifier, testRoomARN + strings.Repeat("a", 129-len(testRoomARN)), true},
		{"LoggingConfigurationIdentifier accepts a logging-configuration ARN", LoggingConfigurationIdentifier, testLogARN, false},
		{"LoggingConfigurationIdentifier refuses a room ARN", LoggingConfigurationIdentifier, testRoomARN, true},
		{"ResourceIdentifier accepts a room ARN", ResourceIdentifier, testRoomARN, false},
		{"ResourceIdentifier accepts a logging-configuration ARN", ResourceIdentifier, testLogARN, false},
		{"ResourceIdentifier refuses empty", ResourceIdentifier, "", true},
		{"ResourceIdentifier refuses a bare id", ResourceIdentifier, "AbCdEfGh1234", true},
		{"ResourceIdentifier refuses another service", ResourceIdentifier, "arn:aws:ivs:us-west-2:123456789012:channel/AbCdEfGh1234", true},
		{"ResourceIdentifier refuses 129 characters", ResourceIdentifier, testRoomARN + strings.Repeat("a", 129-len(testRoomARN)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := tt.check("identifier", tt.s)
			if tt.wantErr {
				assertFields(t, err, "identifier")
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if a.String() != tt.s {
				t.Fatalf("ARN = %q, want %q", a.String(), tt.s)
			}
		})
	}
}

func FuzzParseARN(f *testing.F) {
	for _, s := range []string{testRoomARN, testLogARN, "", "AbCdEfGh1234", "arn:aws:ivschat:us-west-2:1:room/x",
		"arn:aws:ivschat:us-west-2:123456789012:room/" + strings.Repeat("a", 90)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := ParseARN(s)
		if !ok {
			if a != (ARN{}) {
				t.Fatalf("ParseARN(%q) failed but returned %+v", s, a)
			}
			return
		}
		if a.String() != s {
			t.Fatalf("ParseARN(%q).String() = %q", s, a.String())
		}
		if len(s) > maxARNLength {
			t.Fatalf("ParseARN accepted %d characters", len(s))
		}
		if a.IsRoom() == a.IsLoggingConfiguration() {
			t.Fatalf("ParseARN(%q) kind %q is neither or both", s, a.Resource)
		}
		if a.Region == "" || a.Account == "" || a.ID == "" {
			t.Fatalf("ParseARN(%q) = %+v has an empty part", s, a)
		}
	})
}
