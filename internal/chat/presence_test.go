package chat

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestMergeRoomUsers(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2026, 12, 2, 0, 0, s, 0, time.UTC) }
	u := func(id string, n, s int, attrs ...string) RoomUser {
		var a map[string]string
		if len(attrs) > 0 {
			a = map[string]string{"k": attrs[0]}
		}
		return RoomUser{UserID: id, Connections: n, ConnectedAt: at(s), Attributes: a}
	}
	show := func(us []*RoomUser) string {
		var parts []string
		for _, x := range us {
			parts = append(parts, fmt.Sprintf("%s×%d@%d:%s", x.UserID, x.Connections, x.ConnectedAt.Second(), x.Attributes["k"]))
		}
		return strings.Join(parts, " ")
	}
	tests := []struct {
		rule  string
		parts [][]RoomUser
		want  string
	}{
		{"no users, no entries", nil, ""},
		{"users are listed by user id in byte order", [][]RoomUser{{u("b", 1, 1), u("B", 1, 1), u("a", 1, 1)}}, "B×1@1: a×1@1: b×1@1:"},
		{"a user on several nodes is one entry with the connections added up", [][]RoomUser{{u("a", 2, 5)}, {u("a", 1, 7)}}, "a×3@5:"},
		{"connectedAt is the earliest connection's, with its attributes", [][]RoomUser{{u("a", 1, 9, "late")}, {u("a", 1, 3, "early")}, {u("a", 1, 6, "mid")}}, "a×3@3:early"},
		{"an entry without connections is dropped", [][]RoomUser{{u("a", 0, 1), u("b", 1, 1)}}, "b×1@1:"},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			if got := show(MergeRoomUsers(tc.parts...)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("merging does not change its inputs", func(t *testing.T) {
		part := []RoomUser{u("a", 1, 1)}
		MergeRoomUsers(part, []RoomUser{u("a", 1, 0)})
		if part[0].Connections != 1 || part[0].ConnectedAt != at(1) {
			t.Fatalf("input changed: %+v", part[0])
		}
	})
}

func TestRoomUserOrderKey(t *testing.T) {
	users := []*RoomUser{{UserID: "c"}, {UserID: "a"}, {UserID: "b"}}
	page, last := Paginate(users, RoomUserOrderKey, nil, 2)
	if len(page) != 2 || page[0].UserID != "a" || page[1].UserID != "b" || last == nil || last.ID != "b" {
		t.Fatalf("first page %v, last %v", page, last)
	}
	t.Run("the next page starts after the last user listed, whoever joined meanwhile", func(t *testing.T) {
		now := []*RoomUser{{UserID: "c"}, {UserID: "a"}, {UserID: "ab"}, {UserID: "bb"}}
		page, _ := Paginate(now, RoomUserOrderKey, last, 2)
		if len(page) != 2 || page[0].UserID != "bb" || page[1].UserID != "c" {
			t.Fatalf("second page %v", page)
		}
	})
}

func TestUsersWire(t *testing.T) {
	reply := func(s string) error { _, err := DecodeUsersReply([]byte(s)); return err }
	tests := []struct {
		rule string
		in   string
		ok   bool
	}{
		{"a reply in one part", `{"n":"N1","p":0,"c":1,"u":[{"u":"a","n":1,"t":"2026-12-02T00:00:00Z"}]}`, true},
		{"a reply without users", `{"n":"N1","p":0,"c":1,"u":[]}`, true},
		{"a reply without a node is refused", `{"p":0,"c":1,"u":[]}`, false},
		{"a part beyond the parts is refused", `{"n":"N1","p":1,"c":1}`, false},
		{"a negative part is refused", `{"n":"N1","p":-1,"c":1}`, false},
		{"no parts is refused", `{"n":"N1","p":0,"c":0}`, false},
		{"too many parts are refused", `{"n":"N1","p":0,"c":1025}`, false},
		{"a user without an id is refused", `{"n":"N1","p":0,"c":1,"u":[{"n":1}]}`, false},
		{"a user without connections is refused", `{"n":"N1","p":0,"c":1,"u":[{"u":"a","n":0}]}`, false},
		{"not JSON is refused", `{`, false},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			if err := reply(tc.in); (err == nil) != tc.ok {
				t.Fatalf("DecodeUsersReply(%s): %v", tc.in, err)
			}
		})
	}
	t.Run("a query names a room", func(t *testing.T) {
		b, _ := json.Marshal(UsersQuery{Room: RoomKey{Account: "123456789012", ID: "AbCdEfGhIjKl"}})
		if q, err := DecodeUsersQuery(b); err != nil || q.Room.ID != "AbCdEfGhIjKl" {
			t.Fatalf("%+v %v", q, err)
		}
		for _, s := range []string{`{}`, `{"r":{"Account":"1"}}`, `[`} {
			if _, err := DecodeUsersQuery([]byte(s)); err == nil {
				t.Fatalf("DecodeUsersQuery(%s) succeeded", s)
			}
		}
	})
}

func TestNewPresenceEvent(t *testing.T) {
	at := time.Date(2026, 12, 2, 1, 2, 3, 456789000, time.UTC)
	e := NewPresenceEvent(EventJoin, "alice", at)
	got := string(Encode(e))
	want := `{"Type":"EVENT","Id":"` + e.ID + `","EventName":"ivschatd:join","RequestId":"","Attributes":{"userId":"alice"},"SendTime":"2026-12-02T01:02:03.456789Z"}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if len(e.ID) != 12 {
		t.Fatalf("id %q is not a 12-character event id", e.ID)
	}
}

func FuzzDecodeUsersReply(f *testing.F) {
	f.Add([]byte(`{"n":"N1","p":0,"c":1,"u":[{"u":"a","a":{"k":"v"},"n":2,"t":"2026-12-02T00:00:00Z"}]}`))
	f.Add([]byte(`{"n":"N1","p":3,"c":4,"u":null}`))
	f.Add([]byte(`{"r":{"Account":"1","ID":"x"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if q, err := DecodeUsersQuery(b); err == nil && (q.Room.Account == "" || q.Room.ID == "") {
			t.Fatalf("query %+v accepted without a room", q)
		}
		r, err := DecodeUsersReply(b)
		if err != nil {
			return
		}
		if r.Node == "" || r.Part < 0 || r.Part >= r.Parts {
			t.Fatalf("reply %+v accepted", r)
		}
		for _, u := range MergeRoomUsers(r.Users) {
			if u.Connections < 1 || u.UserID == "" {
				t.Fatalf("merged user %+v", u)
			}
		}
	})
}
