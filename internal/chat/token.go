package chat

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"
)

// Capabilities a chat token can grant. Receiving messages needs none.
const (
	CapabilitySendMessage    = "SEND_MESSAGE"
	CapabilityDisconnectUser = "DISCONNECT_USER"
	CapabilityDeleteMessage  = "DELETE_MESSAGE"
)

// Session and token limits.
const (
	DefaultSessionDurationMinutes = 60
	MinSessionDurationMinutes     = 1
	MaxSessionDurationMinutes     = 180
	// MaxAttributesBytes bounds every attribute map: of tokens, events and messages (keys
	// plus values, bytes of UTF-8).
	MaxAttributesBytes = 1024
	// MaxUserIDLength bounds a user id, in characters.
	MaxUserIDLength = 128
	// DefaultTokenLifetime is how long an issued token may be used to connect.
	DefaultTokenLifetime = 60 * time.Minute
)

// CreateChatTokenInput is the CreateChatToken request.
type CreateChatTokenInput struct {
	RoomIdentifier           string            `json:"roomIdentifier"`
	UserID                   *string           `json:"userId"`
	Capabilities             []string          `json:"capabilities"`
	SessionDurationInMinutes *int              `json:"sessionDurationInMinutes"`
	Attributes               map[string]string `json:"attributes"`
}

// Validate checks the request and returns the room's ARN.
func (in *CreateChatTokenInput) Validate() (ARN, error) {
	var v validator
	room, _ := v.arnOf("roomIdentifier", in.RoomIdentifier, arnRoom)
	v.userID(in.UserID)
	for _, c := range in.Capabilities {
		switch c {
		case CapabilitySendMessage, CapabilityDisconnectUser, CapabilityDeleteMessage:
		default:
			v.fail("capabilities", "%q is not one of SEND_MESSAGE, DISCONNECT_USER, DELETE_MESSAGE", c)
		}
	}
	v.intRange("sessionDurationInMinutes", in.SessionDurationInMinutes, MinSessionDurationMinutes, MaxSessionDurationMinutes)
	v.attributeMap("attributes", in.Attributes)
	return room, v.err()
}

// Token is what a chat token grants, sealed inside the token string.
type Token struct {
	ID                    string            `json:"j"`
	RoomARN               string            `json:"r"`
	UserID                string            `json:"u"`
	Capabilities          []string          `json:"c,omitempty"`
	Attributes            map[string]string `json:"a,omitempty"`
	TokenExpirationTime   time.Time         `json:"e"`
	SessionExpirationTime time.Time         `json:"s"`
}

// NewToken issues the grant of a validated CreateChatToken request at now.
func NewToken(in *CreateChatTokenInput, room ARN, now time.Time, lifetime time.Duration) *Token {
	minutes := DefaultSessionDurationMinutes
	if in.SessionDurationInMinutes != nil {
		minutes = *in.SessionDurationInMinutes
	}
	t := &Token{
		ID:                    NewID() + NewID(),
		RoomARN:               room.String(),
		UserID:                *in.UserID,
		Capabilities:          dedupe(in.Capabilities),
		Attributes:            in.Attributes,
		TokenExpirationTime:   now.Add(lifetime).Truncate(time.Millisecond),
		SessionExpirationTime: now.Add(time.Duration(minutes) * time.Minute).Truncate(time.Millisecond),
	}
	if len(t.Capabilities) == 0 {
		t.Capabilities = nil
	}
	return t
}

// Can reports whether the token grants a capability.
func (t *Token) Can(capability string) bool {
	for _, c := range t.Capabilities {
		if c == capability {
			return true
		}
	}
	return false
}

// SealingKey is one AES-256 key of the keyring that seals tokens and pagination cursors.
type SealingKey struct {
	ID      uint32    `json:"id"`
	Secret  []byte    `json:"secret"`
	Created time.Time `json:"created"`
}

// NewSealingKey generates a fresh key.
func NewSealingKey(now time.Time) SealingKey {
	k := SealingKey{Secret: make([]byte, 32), Created: now}
	var id [4]byte
	if _, err := rand.Read(k.Secret); err != nil {
		panic("chat: no randomness: " + err.Error())
	}
	if _, err := rand.Read(id[:]); err != nil {
		panic("chat: no randomness: " + err.Error())
	}
	k.ID = binary.BigEndian.Uint32(id[:])
	return k
}

// Keyring seals with its newest key and opens with any key it holds, so keys can rotate
// without invalidating tokens already issued. It is immutable; build a new one to change it.
type Keyring struct {
	newest uint32
	aeads  map[uint32]cipher.AEAD
}

// NewKeyring builds a keyring from keys; the most recently created one seals.
func NewKeyring(keys []SealingKey) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("keyring: no keys")
	}
	kr := &Keyring{aeads: make(map[uint32]cipher.AEAD, len(keys))}
	var newest time.Time
	for i, k := range keys {
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		kr.aeads[k.ID] = aead
		if i == 0 || k.Created.After(newest) || (k.Created.Equal(newest) && k.ID > kr.newest) {
			newest, kr.newest = k.Created, k.ID
		}
	}
	return kr, nil
}

// Sealed-value layout: version(1) | key id(4) | nonce(12) | ciphertext. The purpose byte is
// bound as associated data, so a pagination cursor can never be opened as a token.
const sealVersion = 1

// Purposes of sealed values.
const (
	PurposeChatToken  byte = 't'
	PurposePageCursor byte = 'p'
)

// Why a chat token is refused at connect (a banned user's token gets its ban's Denied).
var (
	ErrTokenInvalid = &Error{Kind: KindUnauthenticated, Message: "the chat token is malformed or was not issued by this service"}
	ErrTokenExpired = &Error{Kind: KindUnauthenticated, Message: "the chat token has expired"}
	ErrTokenUsed    = &Error{Kind: KindAccessDenied, Message: "the chat token has already been used; create a new one"}
	ErrRoomGone     = &Error{Kind: KindNotFound, Message: "the chat token's room does not exist"}
)

// ErrUnsealable means a sealed value is malformed, forged, or sealed with an unknown key.
var ErrUnsealable = errors.New("sealed value is malformed or was not issued by this service")

// Seal encrypts and authenticates plaintext; the result is base64url without padding, which
// makes chat tokens valid WebSocket subprotocol values.
func (kr *Keyring) Seal(purpose byte, plaintext []byte) string {
	aead := kr.aeads[kr.newest]
	buf := make([]byte, 5+aead.NonceSize(), 5+aead.NonceSize()+len(plaintext)+aead.Overhead())
	buf[0] = sealVersion
	binary.BigEndian.PutUint32(buf[1:5], kr.newest)
	if _, err := rand.Read(buf[5:]); err != nil {
		panic("chat: no randomness: " + err.Error())
	}
	out := aead.Seal(buf, buf[5:], plaintext, []byte{purpose, sealVersion})
	return sealEncoding.EncodeToString(out)
}

// sealEncoding is base64url without padding, rejecting non-zero padding bits.
var sealEncoding = base64.RawURLEncoding.Strict()

// Open authenticates and decrypts a value made by Seal with the same purpose.
func (kr *Keyring) Open(purpose byte, sealed string) ([]byte, error) {
	// Only the canonical encoding opens: a lenient decoder would also open the same value with
	// altered padding bits or inserted line breaks, so one token would have many spellings.
	raw, err := sealEncoding.DecodeString(sealed)
	if err != nil || len(sealed) != sealEncoding.EncodedLen(len(raw)) || len(raw) < 5 || raw[0] != sealVersion {
		return nil, ErrUnsealable
	}
	aead, ok := kr.aeads[binary.BigEndian.Uint32(raw[1:5])]
	if !ok || len(raw) < 5+aead.NonceSize()+aead.Overhead() {
		return nil, ErrUnsealable
	}
	nonce := raw[5 : 5+aead.NonceSize()]
	plain, err := aead.Open(nil, nonce, raw[5+aead.NonceSize():], []byte{purpose, sealVersion})
	if err != nil {
		return nil, ErrUnsealable
	}
	return plain, nil
}

// SealToken turns a grant into the opaque token string a client presents.
func (kr *Keyring) SealToken(t *Token) string {
	b, err := json.Marshal(t)
	if err != nil {
		panic("chat: token does not marshal: " + err.Error())
	}
	return kr.Seal(PurposeChatToken, b)
}

// OpenToken recovers the grant in a token string. It checks authenticity only; expiry and
// single use are the caller's to check.
func (kr *Keyring) OpenToken(s string) (*Token, error) {
	plain, err := kr.Open(PurposeChatToken, s)
	if err != nil {
		return nil, err
	}
	var t Token
	if err := json.Unmarshal(plain, &t); err != nil || t.ID == "" || t.RoomARN == "" {
		return nil, ErrUnsealable
	}
	return &t, nil
}
