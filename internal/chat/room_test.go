package chat

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2024, 1, 19, 16, 22, 35, 123456789, time.UTC)

func TestNewRoom(t *testing.T) {
	t.Run("applies the model's defaults to an empty request", func(t *testing.T) {
		r := NewRoom(&CreateRoomInput{}, "us-west-2", "123456789012", "AbCdEfGh1234", t0)
		if r.MaximumMessageRatePerSecond != 10 || r.MaximumMessageLength != 500 {
			t.Fatalf("rate %d, length %d; want 10, 500", r.MaximumMessageRatePerSecond, r.MaximumMessageLength)
		}
		if r.Name != "" || r.MessageReviewHandler != nil || r.HasReviewHandler() {
			t.Fatalf("name %q, handler %+v; want none", r.Name, r.MessageReviewHandler)
		}
		if r.Tags == nil || len(r.Tags) != 0 {
			t.Fatalf("tags = %#v, want empty non-nil (always sent as {})", r.Tags)
		}
		if r.LoggingConfigurationIdentifiers == nil || len(r.LoggingConfigurationIdentifiers) != 0 {
			t.Fatalf("logging = %#v, want empty non-nil", r.LoggingConfigurationIdentifiers)
		}
		if !r.CreateTime.Equal(t0) || !r.UpdateTime.Equal(t0) {
			t.Fatalf("times %v, %v; want %v", r.CreateTime, r.UpdateTime, t0)
		}
		if got := r.ARN().String(); got != testRoomARN {
			t.Fatalf("ARN = %q, want %q", got, testRoomARN)
		}
	})
	t.Run("takes every given member", func(t *testing.T) {
		in := &CreateRoomInput{Name: ptr("lobby"), MaximumMessageRatePerSecond: ptr(100), MaximumMessageLength: ptr(1),
			MessageReviewHandler:            &MessageReviewHandlerInput{URI: ptr(validLambda), FallbackResult: ptr("DENY")},
			Tags:                            map[string]string{"a": "b"},
			LoggingConfigurationIdentifiers: []string{testLogARN}}
		r := NewRoom(in, "us-west-2", "123456789012", "AbCdEfGh1234", t0)
		if r.Name != "lobby" || r.MaximumMessageRatePerSecond != 100 || r.MaximumMessageLength != 1 {
			t.Fatalf("room = %+v", r)
		}
		if r.MessageReviewHandler == nil || *r.MessageReviewHandler != (MessageReviewHandler{URI: validLambda, FallbackResult: "DENY"}) || !r.HasReviewHandler() {
			t.Fatalf("handler = %+v", r.MessageReviewHandler)
		}
		if r.Tags["a"] != "b" || !slices.Equal(r.LoggingConfigurationIdentifiers, []string{testLogARN}) {
			t.Fatalf("tags %v, logging %v", r.Tags, r.LoggingConfigurationIdentifiers)
		}
	})
	t.Run("handler fallback defaults to ALLOW", func(t *testing.T) {
		r := NewRoom(&CreateRoomInput{MessageReviewHandler: &MessageReviewHandlerInput{URI: ptr(validLambda)}}, "r", "1", "AbCdEfGh1234", t0)
		if r.MessageReviewHandler == nil || r.MessageReviewHandler.FallbackResult != FallbackAllow {
			t.Fatalf("handler = %+v", r.MessageReviewHandler)
		}
	})
	t.Run("repeated logging configurations are stored once", func(t *testing.T) {
		r := NewRoom(&CreateRoomInput{LoggingConfigurationIdentifiers: []string{testLogARN, testLogARN}}, "r", "1", "AbCdEfGh1234", t0)
		if !slices.Equal(r.LoggingConfigurationIdentifiers, []string{testLogARN}) {
			t.Fatalf("logging = %v", r.LoggingConfigurationIdentifiers)
		}
	})
	t.Run("does not share the request's tags", func(t *testing.T) {
		in := &CreateRoomInput{Tags: map[string]string{"a": "b"}}
		r := NewRoom(in, "r", "1", "AbCdEfGh1234", t0)
		in.Tags["a"] = "changed"
		if r.Tags["a"] != "b" {
			t.Fatalf("room tags follow the request: %v", r.Tags)
		}
	})
	t.Run("encodes tags and logging list as {} and []", func(t *testing.T) {
		b, _ := json.Marshal(NewRoom(&CreateRoomInput{}, "r", "1", "AbCdEfGh1234", t0))
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if string(m["tags"]) != "{}" || string(m["loggingConfigurationIdentifiers"]) != "[]" {
			t.Fatalf("tags %s, logging %s", m["tags"], m["loggingConfigurationIdentifiers"])
		}
		if _, ok := m["messageReviewHandler"]; ok {
			t.Fatalf("an absent handler is encoded: %s", b)
		}
	})
}

func baseRoom() *Room {
	return &Room{Resource: Resource{Account: "123456789012", Region: "us-west-2", ID: "AbCdEfGh1234", Name: "lobby",
		CreateTime: t0, UpdateTime: t0, Tags: map[string]string{"team": "a"}},
		MaximumMessageRatePerSecond: 7, MaximumMessageLength: 300,
		MessageReviewHandler:            &MessageReviewHandler{URI: validLambda, FallbackResult: FallbackDeny},
		LoggingConfigurationIdentifiers: []string{testLogARN}}
}

func TestUpdateRoomInputApply(t *testing.T) {
	later := t0.Add(time.Second)
	tests := []struct {
		name  string
		in    UpdateRoomInput
		check func(t *testing.T, r *Room)
	}{
		{"absent members stay", UpdateRoomInput{}, func(t *testing.T, r *Room) {
			want := baseRoom()
			want.UpdateTime = later
			if r.Name != want.Name || r.MaximumMessageRatePerSecond != 7 || r.MaximumMessageLength != 300 ||
				*r.MessageReviewHandler != *want.MessageReviewHandler || r.Tags["team"] != "a" ||
				!slices.Equal(r.LoggingConfigurationIdentifiers, want.LoggingConfigurationIdentifiers) || !r.CreateTime.Equal(t0) {
				t.Fatalf("room = %+v", r)
			}
		}},
		{"name changes, including to empty", UpdateRoomInput{Name: ptr("")}, func(t *testing.T, r *Room) {
			if r.Name != "" {
				t.Fatalf("name = %q", r.Name)
			}
		}},
		{"rate and length change", UpdateRoomInput{MaximumMessageRatePerSecond: ptr(100), MaximumMessageLength: ptr(1)}, func(t *testing.T, r *Room) {
			if r.MaximumMessageRatePerSecond != 100 || r.MaximumMessageLength != 1 {
				t.Fatalf("rate %d, length %d", r.MaximumMessageRatePerSecond, r.MaximumMessageLength)
			}
		}},
		{"uri empty removes the handler", UpdateRoomInput{MessageReviewHandler: &MessageReviewHandlerInput{URI: ptr("")}}, func(t *testing.T, r *Room) {
			if r.MessageReviewHandler != nil || r.HasReviewHandler() {
				t.Fatalf("handler = %+v", r.MessageReviewHandler)
			}
		}},
		{"fallback alone keeps the uri", UpdateRoomInput{MessageReviewHandler: &MessageReviewHandlerInput{FallbackResult: ptr("ALLOW")}}, func(t *testing.T, r *Room) {
			if r.MessageReviewHandler == nil || *r.MessageReviewHandler != (MessageReviewHandler{URI: validLambda, FallbackResult: "ALLOW"}) {
				t.Fatalf("handler = %+v", r.MessageReviewHandler)
			}
		}},
		{"uri alone keeps the fallback", UpdateRoomInput{MessageReviewHandler: &MessageReviewHandlerInput{URI: ptr(lambda170)}}, func(t *testing.T, r *Room) {
			if r.MessageReviewHandler == nil || *r.MessageReviewHandler != (MessageReviewHandler{URI: lambda170, FallbackResult: "DENY"}) {
				t.Fatalf("handler = %+v", r.MessageReviewHandler)
			}
		}},
		{"empty list clears the logging configurations", UpdateRoomInput{LoggingConfigurationIdentifiers: &[]string{}}, func(t *testing.T, r *Room) {
			if r.LoggingConfigurationIdentifiers == nil || len(r.LoggingConfigurationIdentifiers) != 0 {
				t.Fatalf("logging = %#v, want empty non-nil", r.LoggingConfigurationIdentifiers)
			}
		}},
		{"a list replaces the logging configurations, once each", UpdateRoomInput{LoggingConfigurationIdentifiers: &[]string{"b", "a", "b"}}, func(t *testing.T, r *Room) {
			if !slices.Equal(r.LoggingConfigurationIdentifiers, []string{"b", "a"}) {
				t.Fatalf("logging = %v", r.LoggingConfigurationIdentifiers)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := baseRoom()
			r := tt.in.Apply(before, later)
			tt.check(t, r)
			if !r.UpdateTime.Equal(later) {
				t.Fatalf("updateTime = %v, want %v", r.UpdateTime, later)
			}
			// The stored room is not changed in place.
			orig := baseRoom()
			if before.Name != orig.Name || *before.MessageReviewHandler != *orig.MessageReviewHandler ||
				!slices.Equal(before.LoggingConfigurationIdentifiers, orig.LoggingConfigurationIdentifiers) || !before.UpdateTime.Equal(t0) {
				t.Fatalf("Apply changed its input: %+v", before)
			}
		})
	}
	t.Run("handler uri on a room without handler defaults fallback to ALLOW", func(t *testing.T) {
		r := baseRoom()
		r.MessageReviewHandler = nil
		got := (&UpdateRoomInput{MessageReviewHandler: &MessageReviewHandlerInput{URI: ptr(validLambda)}}).Apply(r, later)
		if got.MessageReviewHandler == nil || *got.MessageReviewHandler != (MessageReviewHandler{URI: validLambda, FallbackResult: "ALLOW"}) {
			t.Fatalf("handler = %+v", got.MessageReviewHandler)
		}
	})
	t.Run("updateTime strictly increases with the same clock", func(t *testing.T) {
		r := baseRoom()
		prev := r.UpdateTime
		for i := 0; i < 5; i++ {
			r = (&UpdateRoomInput{}).Apply(r, t0)
			if !r.UpdateTime.After(prev) {
				t.Fatalf("update %d: updateTime %v is not after %v", i, r.UpdateTime, prev)
			}
			prev = r.UpdateTime
		}
	})
	t.Run("updateTime strictly increases when the clock goes back", func(t *testing.T) {
		r := (&UpdateRoomInput{}).Apply(baseRoom(), t0.Add(-time.Hour))
		if !r.UpdateTime.After(t0) {
			t.Fatalf("updateTime %v is not after %v", r.UpdateTime, t0)
		}
	})
	t.Run("updateTime stays apart at millisecond precision", func(t *testing.T) {
		// Responses carry milliseconds; two updates in one millisecond must still differ there.
		r := (&UpdateRoomInput{}).Apply(baseRoom(), t0.Add(time.Microsecond))
		ms := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
		if ms(r.UpdateTime) == ms(t0) {
			t.Fatalf("updateTime %v and %v are equal at millisecond precision", r.UpdateTime, t0)
		}
	})
}

func TestLoggingConfigurationLifecycle(t *testing.T) {
	dest := Destination{S3: &S3Destination{BucketName: "my-bucket"}}
	t.Run("new configuration is ACTIVE with empty tags", func(t *testing.T) {
		c := NewLoggingConfiguration(&CreateLoggingConfigurationInput{}, dest, "us-west-2", "123456789012", "ABCDabcd0123", t0)
		if c.State != StateActive || c.Tags == nil || len(c.Tags) != 0 || c.Name != "" {
			t.Fatalf("config = %+v", c)
		}
		if c.ARN().String() != testLogARN || !c.CreateTime.Equal(t0) || !c.UpdateTime.Equal(t0) {
			t.Fatalf("ARN %s, times %v %v", c.ARN(), c.CreateTime, c.UpdateTime)
		}
	})
	t.Run("update keeps absent members and moves updateTime forward", func(t *testing.T) {
		c := NewLoggingConfiguration(&CreateLoggingConfigurationInput{Name: ptr("n"), Tags: map[string]string{"k": "v"}}, dest, "r", "1", "ABCDabcd0123", t0)
		u := (&UpdateLoggingConfigurationInput{}).Apply(c, nil, t0)
		if u.Name != "n" || u.Destination.S3 == nil || u.Tags["k"] != "v" || !u.UpdateTime.After(t0) {
			t.Fatalf("updated = %+v", u)
		}
		nd := Destination{Firehose: &FirehoseDestination{DeliveryStreamName: "s"}}
		u = (&UpdateLoggingConfigurationInput{Name: ptr("")}).Apply(c, &nd, t0.Add(time.Hour))
		if u.Name != "" || u.Destination.S3 != nil || u.Destination.Firehose == nil || !u.UpdateTime.Equal(t0.Add(time.Hour)) {
			t.Fatalf("updated = %+v", u)
		}
		if c.Name != "n" || c.Destination.S3 == nil {
			t.Fatalf("Apply changed its input: %+v", c)
		}
	})
}

func TestNewToken(t *testing.T) {
	room, _ := ParseARN(testRoomARN)
	t.Run("session defaults to 60 minutes and token lives for the lifetime", func(t *testing.T) {
		tok := NewToken(&CreateChatTokenInput{UserID: ptr("alice")}, room, t0, DefaultTokenLifetime)
		if !tok.SessionExpirationTime.Equal(t0.Add(60*time.Minute).Truncate(time.Millisecond)) ||
			!tok.TokenExpirationTime.Equal(t0.Add(DefaultTokenLifetime).Truncate(time.Millisecond)) {
			t.Fatalf("expirations %v, %v", tok.TokenExpirationTime, tok.SessionExpirationTime)
		}
		if tok.RoomARN != testRoomARN || tok.UserID != "alice" || tok.Capabilities != nil || tok.Can(CapabilitySendMessage) {
			t.Fatalf("token = %+v", tok)
		}
		if len(tok.ID) != 2*IDLength {
			t.Fatalf("token id %q is not 24 characters", tok.ID)
		}
	})
	t.Run("session duration and capabilities are taken once each", func(t *testing.T) {
		tok := NewToken(&CreateChatTokenInput{UserID: ptr("bob"), SessionDurationInMinutes: ptr(180),
			Capabilities: []string{"SEND_MESSAGE", "SEND_MESSAGE", "DELETE_MESSAGE"}}, room, t0, time.Minute)
		if !tok.SessionExpirationTime.Equal(t0.Add(180 * time.Minute).Truncate(time.Millisecond)) {
			t.Fatalf("session expires %v", tok.SessionExpirationTime)
		}
		if !slices.Equal(tok.Capabilities, []string{"SEND_MESSAGE", "DELETE_MESSAGE"}) ||
			!tok.Can(CapabilitySendMessage) || !tok.Can(CapabilityDeleteMessage) || tok.Can(CapabilityDisconnectUser) {
			t.Fatalf("capabilities = %v", tok.Capabilities)
		}
	})
	t.Run("every token has its own id", func(t *testing.T) {
		a := NewToken(&CreateChatTokenInput{UserID: ptr("u")}, room, t0, time.Minute)
		b := NewToken(&CreateChatTokenInput{UserID: ptr("u")}, room, t0, time.Minute)
		if a.ID == b.ID {
			t.Fatalf("two tokens share id %q", a.ID)
		}
	})
}
