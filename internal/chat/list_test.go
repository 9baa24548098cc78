package chat

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

type item struct {
	id string
	at time.Time
}

func itemKey(it item) OrderKey { return OrderKey{Time: it.at, ID: it.id} }

func ids(items []item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.id
	}
	return out
}

// testItems has ties in updateTime so that the id breaks them.
func testItems() []item {
	return []item{
		{"c", t0.Add(1 * time.Second)},
		{"a", t0.Add(3 * time.Second)},
		{"e", t0},
		{"b", t0.Add(1 * time.Second)},
		{"d", t0.Add(2 * time.Second)},
		{"f", t0.Add(1 * time.Second)},
	}
}

var testOrder = []string{"a", "d", "b", "c", "f", "e"}

func TestPaginate(t *testing.T) {
	t.Run("orders by updateTime descending, then id", func(t *testing.T) {
		got, next := Paginate(testItems(), itemKey, nil, 50)
		if !slices.Equal(ids(got), testOrder) || next != nil {
			t.Fatalf("page = %v, next %v; want %v, nil", ids(got), next, testOrder)
		}
	})
	t.Run("empty list gives an empty last page", func(t *testing.T) {
		got, next := Paginate([]item{}, itemKey, nil, 50)
		if len(got) != 0 || next != nil {
			t.Fatalf("page = %v, next %v", got, next)
		}
		got, next = Paginate[item](nil, itemKey, nil, 50)
		if len(got) != 0 || next != nil {
			t.Fatalf("nil list: page = %v, next %v", got, next)
		}
	})
	for _, max := range []int{1, 2, 3, 4, 5, 6, 7} {
		t.Run(fmt.Sprintf("pages of %d resume exactly after each cursor", max), func(t *testing.T) {
			var all []string
			var after *OrderKey
			pages := 0
			for {
				got, next := Paginate(testItems(), itemKey, after, max)
				pages++
				if len(got) > max {
					t.Fatalf("page of %d items, max %d", len(got), max)
				}
				all = append(all, ids(got)...)
				if next == nil {
					break
				}
				if len(got) != max {
					t.Fatalf("a page before the last has %d items, want %d", len(got), max)
				}
				if *next != itemKey(got[len(got)-1]) {
					t.Fatalf("next %v is not the last item's key %v", next, itemKey(got[len(got)-1]))
				}
				// The cursor travels sealed as JSON: resume from its decoded form.
				c, err := DecodeCursor((&Cursor{Account: "1", Operation: "ListRooms", After: *next}).Encode())
				if err != nil {
					t.Fatal(err)
				}
				after = &c.After
				if pages > 10 {
					t.Fatal("pagination does not end")
				}
			}
			if !slices.Equal(all, testOrder) {
				t.Fatalf("pages gave %v, want %v", all, testOrder)
			}
			if want := (len(testOrder) + max - 1) / max; pages != want {
				t.Fatalf("%d pages, want %d (no empty last page)", pages, want)
			}
		})
	}
	t.Run("a cursor whose item is gone resumes at the next one", func(t *testing.T) {
		items := testItems()
		after := OrderKey{Time: t0.Add(time.Second), ID: "bb"} // between b and c
		got, _ := Paginate(items, itemKey, &after, 50)
		if !slices.Equal(ids(got), []string{"c", "f", "e"}) {
			t.Fatalf("page = %v", ids(got))
		}
	})
	t.Run("a cursor past the end gives an empty last page", func(t *testing.T) {
		after := OrderKey{Time: t0.Add(-time.Hour), ID: "z"}
		got, next := Paginate(testItems(), itemKey, &after, 50)
		if len(got) != 0 || next != nil {
			t.Fatalf("page = %v, next %v", ids(got), next)
		}
	})
	t.Run("cursor time compares as an instant in any zone", func(t *testing.T) {
		after := OrderKey{Time: t0.Add(time.Second).In(time.FixedZone("x", 5*3600)), ID: "b"}
		got, _ := Paginate(testItems(), itemKey, &after, 50)
		if !slices.Equal(ids(got), []string{"c", "f", "e"}) {
			t.Fatalf("page = %v", ids(got))
		}
	})
}

func TestCursorEncoding(t *testing.T) {
	t.Run("round trips through JSON", func(t *testing.T) {
		c := Cursor{Account: "123456789012", Operation: "ListLoggingConfigurations", After: OrderKey{Time: t0, ID: "AbCdEfGh1234"}}
		got, err := DecodeCursor(c.Encode())
		if err != nil || !reflect.DeepEqual(*got, c) {
			t.Fatalf("DecodeCursor = %+v, %v; want %+v", got, err, c)
		}
	})
	t.Run("garbage fails", func(t *testing.T) {
		for _, s := range []string{"", "{", `{"k":{"t":"yesterday"}}`, `{"a":5}`} {
			if _, err := DecodeCursor([]byte(s)); err == nil {
				t.Fatalf("DecodeCursor(%q) succeeded", s)
			}
		}
	})
	t.Run("InvalidToken is a validation error on nextToken", func(t *testing.T) {
		assertFields(t, InvalidToken(), "nextToken")
	})
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add((&Cursor{Account: "123456789012", Operation: "ListRooms", After: OrderKey{Time: t0, ID: "AbCdEfGh1234"}}).Encode())
	f.Add([]byte(`{"a":"1","o":"x","k":{"t":"0001-01-01T00:00:00Z","i":""}}`))
	f.Add([]byte(`{"k":{"t":"9999-12-31T23:59:59.999999999-23:59"}}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCursor(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to a cursor that decodes the same, and can be paged from.
		again, err := DecodeCursor(c.Encode())
		if err != nil {
			t.Fatalf("re-decoding %s: %v", c.Encode(), err)
		}
		if again.Account != c.Account || again.Operation != c.Operation || again.After.ID != c.After.ID || !again.After.Time.Equal(c.After.Time) {
			t.Fatalf("cursor %+v re-decodes as %+v", c, again)
		}
		Paginate(testItems(), itemKey, &c.After, 2)
	})
}

func TestPayloads(t *testing.T) {
	sender := &Token{UserID: "alice", Attributes: map[string]string{"displayName": "Alice"}}
	at := time.Date(2023, 1, 5, 14, 33, 32, 894089700, time.FixedZone("CET", 3600))

	t.Run("MESSAGE members are in the service's order", func(t *testing.T) {
		got := string(Encode(NewMessage("WhO6MW6iRdS5", "req-1", "hi", map[string]string{"k": "v"}, sender, at)))
		want := `{"Type":"MESSAGE","Id":"WhO6MW6iRdS5","RequestId":"req-1","Attributes":{"k":"v"},"Content":"hi",` +
			`"SendTime":"2023-01-05T13:33:32.8940897Z","Sender":{"UserId":"alice","Attributes":{"displayName":"Alice"}}}`
		if got != want {
			t.Fatalf("MESSAGE =\n%s\nwant\n%s", got, want)
		}
	})
	t.Run("MESSAGE attributes are {} and RequestId is empty when not given", func(t *testing.T) {
		got := string(Encode(NewMessage("WhO6MW6iRdS5", "", "hi", nil, &Token{UserID: "bob"}, at)))
		want := `{"Type":"MESSAGE","Id":"WhO6MW6iRdS5","RequestId":"","Attributes":{},"Content":"hi",` +
			`"SendTime":"2023-01-05T13:33:32.8940897Z","Sender":{"UserId":"bob","Attributes":{}}}`
		if got != want {
			t.Fatalf("MESSAGE =\n%s\nwant\n%s", got, want)
		}
	})
	t.Run("content is sent as given, with HTML and unicode intact", func(t *testing.T) {
		m := NewMessage("WhO6MW6iRdS5", "", `<b>"x"</b> & 😀`, nil, sender, at)
		var back Message
		if err := json.Unmarshal(Encode(m), &back); err != nil || back.Content != m.Content {
			t.Fatalf("content round trip = %q, %v", back.Content, err)
		}
	})
	sendTimes := []struct {
		name string
		at   time.Time
		want string
	}{
		{"SendTime is UTC with nanoseconds", time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC), "2024-01-02T03:04:05.123456789Z"},
		{"SendTime trims trailing zeros", time.Date(2024, 1, 2, 3, 4, 5, 415514370, time.UTC), "2024-01-02T03:04:05.41551437Z"},
		{"SendTime of a whole second has no fraction", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "2024-01-02T03:04:05Z"},
		{"SendTime converts other zones to UTC", time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("X", -7*3600)), "2024-01-02T10:04:05Z"},
	}
	for _, tt := range sendTimes {
		t.Run(tt.name, func(t *testing.T) {
			if got := SendTime(tt.at); got != tt.want {
				t.Fatalf("SendTime = %q, want %q", got, tt.want)
			}
			if _, err := time.Parse(time.RFC3339Nano, SendTime(tt.at)); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("EVENT members are in order and attributes are {} when nil", func(t *testing.T) {
		got := string(Encode(NewEvent("AYk6xKitV4On", "", "join", nil, at)))
		want := `{"Type":"EVENT","Id":"AYk6xKitV4On","EventName":"join","RequestId":"","Attributes":{},"SendTime":"2023-01-05T13:33:32.8940897Z"}`
		if got != want {
			t.Fatalf("EVENT =\n%s\nwant\n%s", got, want)
		}
	})
	t.Run("DELETE_MESSAGE event carries MessageId and MessageID", func(t *testing.T) {
		e := NewDeleteMessageEvent("AYk6xKitV4On", "req", "WhO6MW6iRdS5", "", at)
		if e.EventName != "aws:DELETE_MESSAGE" || e.Type != TypeEvent || e.RequestID != "req" {
			t.Fatalf("event = %+v", e)
		}
		if !reflect.DeepEqual(e.Attributes, map[string]string{"MessageId": "WhO6MW6iRdS5", "MessageID": "WhO6MW6iRdS5"}) {
			t.Fatalf("attributes = %v", e.Attributes)
		}
		e = NewDeleteMessageEvent("AYk6xKitV4On", "", "WhO6MW6iRdS5", "spam", at)
		if e.Attributes["Reason"] != "spam" || e.Attributes["MessageID"] != "WhO6MW6iRdS5" {
			t.Fatalf("attributes = %v", e.Attributes)
		}
	})
	t.Run("DISCONNECT_USER event carries UserId", func(t *testing.T) {
		e := NewDisconnectUserEvent("AYk6xKitV4On", "req", "bob", "", at)
		if e.EventName != "aws:DISCONNECT_USER" || !reflect.DeepEqual(e.Attributes, map[string]string{"UserId": "bob"}) {
			t.Fatalf("event = %+v", e)
		}
		e = NewDisconnectUserEvent("AYk6xKitV4On", "req", "bob", "rude", at)
		if !reflect.DeepEqual(e.Attributes, map[string]string{"UserId": "bob", "Reason": "rude"}) {
			t.Fatalf("attributes = %v", e.Attributes)
		}
	})
	t.Run("ERROR has a numeric ErrorCode", func(t *testing.T) {
		got := string(Encode(NewError("IG5mcmlvdGlv", "497f6eca", 406, "denied")))
		want := `{"Type":"ERROR","Id":"IG5mcmlvdGlv","RequestId":"497f6eca","ErrorCode":406,"ErrorMessage":"denied"}`
		if got != want {
			t.Fatalf("ERROR = %s, want %s", got, want)
		}
	})
	t.Run("Deref gives empty for nil", func(t *testing.T) {
		if Deref(nil) != "" || Deref(ptr("x")) != "x" {
			t.Fatal("Deref")
		}
	})
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		kind Kind
	}{
		{"NotFound names the resource", NotFound(ResourceRoom, "AbCdEfGh1234"), KindNotFound},
		{"Conflict keeps its message", Conflict(ResourceLoggingConfiguration, "ABCDabcd0123", "in use"), KindConflict},
		{"QuotaExceeded carries the limit", QuotaExceeded(ResourceRoom, 50, "too many rooms"), KindQuotaExceeded},
		{"AccessDenied", AccessDenied("no"), KindAccessDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err.Kind != tt.kind || tt.err.Error() == "" {
				t.Fatalf("error = %+v", tt.err)
			}
		})
	}
	t.Run("NotFound message says what is missing", func(t *testing.T) {
		if got := NotFound(ResourceLoggingConfiguration, "X").Error(); got != "logging configuration X not found" {
			t.Fatalf("message = %q", got)
		}
		if got := NotFound(ResourceRoom, "X"); got.ResourceID != "X" || got.ResourceType != "ROOM" {
			t.Fatalf("error = %+v", got)
		}
	})
}
