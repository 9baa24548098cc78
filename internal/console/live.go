package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/ivschatd/ivschatd/internal/api"
	"github.com/ivschatd/ivschatd/internal/chat"
)

// The live views are Server-Sent Events: the page opens one stream per view and the server
// writes when something changes. Room signals arrive as they are published on any node (a
// chat.Tap watcher per room); what no signal announces (a room created through another node,
// members joining) is compared against the last answer every refresh and sent when it differs.
const (
	refresh   = time.Second
	heartbeat = 15 * time.Second
	// watchBuffer is how many signals a slow page may lag behind before its stream ends
	// (the page reconnects and reads the state afresh).
	watchBuffer = 1024
)

// stream is one Server-Sent Events answer.
type stream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func openStream(w http.ResponseWriter) *stream {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &stream{w: w, rc: http.NewResponseController(w)}
	_ = s.rc.Flush()
	return s
}

// send writes one event; data is one line of JSON (JSON never holds a raw line break).
func (s *stream) send(event string, data []byte) error {
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", event, data); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s *stream) sendJSON(event string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.send(event, b)
}

func (s *stream) ping() error {
	if _, err := fmt.Fprint(s.w, ": ping\n\n"); err != nil {
		return err
	}
	return s.rc.Flush()
}

// authorize returns the request's session if it may read with op; otherwise it has answered.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, op string) *session {
	s := h.current(r)
	if s == nil {
		refuse(w, http.StatusUnauthorized, "NotSignedIn", "sign in first: the session has ended or never began")
		return nil
	}
	if !s.principal.Allows(op) {
		api.WriteError(w, api.NotAuthorized(s.principal, op))
		return nil
	}
	return s
}

// call runs a read-only operation for the session and decodes its answer into out.
func (h *Handler) call(r *http.Request, s *session, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	_, res, err := api.Invoke(r.Context(), h.cfg.Service, s.principal.AccountID, op, body)
	if err != nil {
		return err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// roomRow is a room of the list, with what this node knows of its traffic.
type roomRow struct {
	ARN                             string            `json:"arn"`
	ID                              string            `json:"id"`
	Name                            string            `json:"name"`
	MessageReviewHandler            json.RawMessage   `json:"messageReviewHandler,omitempty"`
	LoggingConfigurationIdentifiers []string          `json:"loggingConfigurationIdentifiers"`
	Tags                            map[string]string `json:"tags"`
	CreateTime                      string            `json:"createTime"`
	UpdateTime                      string            `json:"updateTime"`
	// Connections and Users are the room's members connected to this node.
	Connections int `json:"connections"`
	Users       int `json:"users"`
	// MessagesLastMinute counts the messages delivered in the last minute, since the stream
	// began watching the room.
	MessagesLastMinute int `json:"messagesLastMinute"`
}

// listRooms reads every room of the session's account.
func (h *Handler) listRooms(r *http.Request, s *session) ([]*roomRow, error) {
	var rows []*roomRow
	next := ""
	for {
		in := map[string]any{"maxResults": 50}
		if next != "" {
			in["nextToken"] = next
		}
		var page struct {
			Rooms     []*roomRow `json:"rooms"`
			NextToken string     `json:"nextToken"`
		}
		if err := h.call(r, s, "ListRooms", in, &page); err != nil {
			return nil, err
		}
		rows = append(rows, page.Rooms...)
		if next = page.NextToken; next == "" {
			return rows, nil
		}
	}
}

// minute counts events of the last minute.
type minute struct{ times []time.Time }

func (m *minute) add(t time.Time) { m.times = append(m.times, t) }

func (m *minute) count(now time.Time) int {
	cut := 0
	for cut < len(m.times) && now.Sub(m.times[cut]) >= time.Minute {
		cut++
	}
	m.times = m.times[cut:]
	return len(m.times)
}

// isMessage tells a delivered MESSAGE from an EVENT.
func isMessage(s chat.Signal) bool {
	if s.Kind != chat.SignalDeliver {
		return false
	}
	var p struct{ Type string }
	return json.Unmarshal(s.Payload, &p) == nil && p.Type == "MESSAGE"
}

// roomSignal is a signal with the room it came from, fanned in from many watchers.
type roomSignal struct {
	id string
	s  chat.Signal
}

// liveRooms streams the account's room list: "rooms" with every row, whenever a row changes.
func (h *Handler) liveRooms(w http.ResponseWriter, r *http.Request) {
	s := h.authorize(w, r, "ListRooms")
	if s == nil {
		return
	}
	account := s.principal.AccountID
	ctx := r.Context()
	signals := make(chan roomSignal, watchBuffer)
	watchers := map[string]*chat.Watcher{}
	defer func() {
		for _, w := range watchers {
			w.Close()
		}
	}()
	lost := make(chan struct{}, 1)
	watch := func(id string) {
		if watchers[id] != nil {
			return
		}
		wt, err := h.cfg.Tap.Watch(chat.RoomKey{Account: account, ID: id}, watchBuffer)
		if err != nil {
			return // the next refresh tries again
		}
		watchers[id] = wt
		go func() {
			for {
				select {
				case sig := <-wt.Signals():
					select {
					case signals <- roomSignal{id: id, s: sig}:
					case <-ctx.Done():
						return
					}
				case <-wt.Lost():
					select {
					case lost <- struct{}{}:
					default:
					}
					return
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	counts := map[string]*minute{}
	st := openStream(w)
	var last []byte
	update := func() error {
		rows, err := h.listRooms(r, s)
		if err != nil {
			return st.sendJSON("failure", map[string]string{"message": err.Error()})
		}
		now := h.cfg.Now()
		seen := map[string]bool{}
		for _, row := range rows {
			seen[row.ID] = true
			watch(row.ID)
			if totals, err := h.roomUsers(r, s, row.ARN, 1); err == nil {
				row.Users, row.Connections = totals.UserCount, totals.ConnectionCount
			}
			if m := counts[row.ID]; m != nil {
				row.MessagesLastMinute = m.count(now)
			}
			if row.Tags == nil {
				row.Tags = map[string]string{}
			}
			if row.LoggingConfigurationIdentifiers == nil {
				row.LoggingConfigurationIdentifiers = []string{}
			}
		}
		for id, wt := range watchers {
			if !seen[id] {
				wt.Close()
				delete(watchers, id)
				delete(counts, id)
			}
		}
		if rows == nil {
			rows = []*roomRow{}
		}
		b, err := json.Marshal(rows)
		if err != nil || bytes.Equal(b, last) {
			return err
		}
		last = b
		return st.send("rooms", b)
	}
	if update() != nil {
		return
	}
	tick := time.NewTicker(refresh)
	defer tick.Stop()
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	// soon sends a change a moment after its signal, so that a burst makes one answer.
	var soon <-chan time.Time
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case <-lost:
			_ = st.sendJSON("lost", map[string]string{"message": "the page fell behind; reading the rooms again"})
			return
		case sig := <-signals:
			if isMessage(sig.s) {
				m := counts[sig.id]
				if m == nil {
					m = &minute{}
					counts[sig.id] = m
				}
				m.add(h.cfg.Now())
			}
			if soon == nil {
				soon = time.After(200 * time.Millisecond)
			}
			continue
		case <-soon:
			soon = nil
			err = update()
		case <-tick.C:
			if !h.sessions.live(s) && h.open == nil {
				_ = st.sendJSON("signed-out", map[string]string{"message": "the session has ended; sign in again"})
				return
			}
			err = update()
		case <-beat.C:
			err = st.ping()
		}
		if err != nil {
			return
		}
	}
}

// ListRoomUsers is the operation behind the console's users connected now, on every node.
const listRoomUsers = chat.ExtensionActionPrefix + "ListRoomUsers"

// roomUsersPage is ListRoomUsers' answer.
type roomUsersPage struct {
	Users []struct {
		UserID          string `json:"userId"`
		ConnectionCount int    `json:"connectionCount"`
		ConnectedAt     string `json:"connectedAt"`
	} `json:"users"`
	UserCount       int    `json:"userCount"`
	ConnectionCount int    `json:"connectionCount"`
	NextToken       string `json:"nextToken"`
}

// roomUsers reads the room's users on every node through ListRoomUsers, up to max of them
// (0: all), with the room's totals.
func (h *Handler) roomUsers(r *http.Request, s *session, arn string, max int) (*roomUsersPage, error) {
	if !s.principal.Allows(listRoomUsers) {
		return nil, api.NotAuthorized(s.principal, listRoomUsers)
	}
	var all roomUsersPage
	next := ""
	for {
		in := map[string]any{"roomIdentifier": arn}
		if max > 0 && max <= chat.MaxMaxResults {
			in["maxResults"] = max
		}
		if next != "" {
			in["nextToken"] = next
		}
		var page roomUsersPage
		if err := h.call(r, s, listRoomUsers, in, &page); err != nil {
			return nil, err
		}
		all.Users = append(all.Users, page.Users...)
		all.UserCount, all.ConnectionCount = page.UserCount, page.ConnectionCount
		next = page.NextToken
		if next == "" || (max > 0 && len(all.Users) >= max) {
			return &all, nil
		}
	}
}

// member is a user connected to a room, on any node.
type member struct {
	UserID      string `json:"userId"`
	Connections int    `json:"connections"`
	ConnectedAt string `json:"connectedAt"`
}

// members are the room's users on every node, by user id; nil if they cannot be read.
func (h *Handler) members(r *http.Request, s *session, arn string) []member {
	page, err := h.roomUsers(r, s, arn, 0)
	if err != nil {
		return nil
	}
	out := make([]member, 0, len(page.Users))
	for _, u := range page.Users {
		out = append(out, member{UserID: u.UserID, Connections: u.ConnectionCount, ConnectedAt: u.ConnectedAt})
	}
	return out
}

// liveRoom streams one room: "room" (its settings, again after each update), "payload" (each
// MESSAGE and EVENT as members receive it, from every node), "members" (its users connected to
// this node, when they change), and "deleted".
func (h *Handler) liveRoom(w http.ResponseWriter, r *http.Request) {
	s := h.authorize(w, r, "GetRoom")
	if s == nil {
		return
	}
	// The API names a room by its ARN; the console's links by its id, in the signed-in account.
	arn := chat.RoomARN(h.cfg.Service.Region(), s.principal.AccountID, r.PathValue("id")).String()
	var room map[string]any
	if err := h.call(r, s, "GetRoom", map[string]string{"identifier": arn}, &room); err != nil {
		api.WriteError(w, err)
		return
	}
	id, _ := room["id"].(string)
	key := chat.RoomKey{Account: s.principal.AccountID, ID: id}
	wt, err := h.cfg.Tap.Watch(key, watchBuffer)
	if err != nil {
		api.WriteError(w, err)
		return
	}
	defer wt.Close()
	st := openStream(w)
	if st.sendJSON("room", room) != nil {
		return
	}
	last, _ := json.Marshal(h.members(r, s, arn))
	if st.send("members", last) != nil {
		return
	}
	tick := time.NewTicker(refresh)
	defer tick.Stop()
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case <-wt.Lost():
			_ = st.sendJSON("lost", map[string]string{"message": "the page fell behind the room; some events were not shown"})
			return
		case sig := <-wt.Signals():
			switch sig.Kind {
			case chat.SignalDeliver, chat.SignalDisconnect:
				err = st.send("payload", sig.Payload)
			case chat.SignalUpdated:
				var now map[string]any
				if h.call(r, s, "GetRoom", map[string]string{"identifier": arn}, &now) == nil {
					err = st.sendJSON("room", now)
				}
			case chat.SignalDeleted:
				_ = st.sendJSON("deleted", map[string]string{"id": id})
				return
			}
		case <-tick.C:
			if !h.sessions.live(s) && h.open == nil {
				_ = st.sendJSON("signed-out", map[string]string{"message": "the session has ended; sign in again"})
				return
			}
			b, _ := json.Marshal(h.members(r, s, arn))
			if !bytes.Equal(b, last) {
				last = b
				err = st.send("members", b)
			}
		case <-beat.C:
			err = st.ping()
		}
		if err != nil {
			return
		}
	}
}
