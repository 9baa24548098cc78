// A small client of the IVS Chat messaging WebSocket API, written for the demo chat:
// the token is the WebSocket subprotocol, every frame is one JSON object with PascalCase
// fields, the server sends MESSAGE, EVENT and ERROR (spec §5).

/** A fresh request id, as the official SDK sends one with every action. */
export function requestId() {
  return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2);
}

/**
 * One connection to a room. Listeners (on(name, fn)):
 *   open()                      the socket is open (the server sends nothing on join)
 *   message(msg)                a MESSAGE: {Id, RequestId, Content, Attributes, SendTime, Sender: {UserId, Attributes}}
 *   event(ev)                   an EVENT: {Id, EventName, Attributes, SendTime}
 *   error(err)                  an ERROR: {Id, RequestId, ErrorCode, ErrorMessage}
 *   close({code, reason, clean, opened})  the socket closed; opened says whether it was ever open
 */
export class ChatSocket {
  constructor(url, token) {
    this.listeners = {};
    this.opened = false;
    this.ws = new WebSocket(url, token);
    this.ws.addEventListener('open', () => {
      this.opened = true;
      this.emit('open');
    });
    this.ws.addEventListener('message', (e) => this.receive(e.data));
    this.ws.addEventListener('close', (e) =>
      this.emit('close', { code: e.code, reason: e.reason, clean: e.wasClean, opened: this.opened }),
    );
  }

  on(name, fn) {
    (this.listeners[name] ||= []).push(fn);
    return this;
  }

  emit(name, arg) {
    for (const fn of this.listeners[name] || []) fn(arg);
  }

  receive(data) {
    let entity;
    try {
      entity = JSON.parse(data);
    } catch {
      return; // not a frame of the API
    }
    if (!entity || typeof entity !== 'object') return;
    switch (entity.Type) {
      case 'MESSAGE':
        this.emit('message', entity);
        break;
      case 'EVENT':
        this.emit('event', entity);
        break;
      case 'ERROR':
        this.emit('error', entity);
        break;
    }
  }

  send(action) {
    const frame = { ...action, RequestId: action.RequestId || requestId() };
    this.ws.send(JSON.stringify(frame));
    return frame.RequestId;
  }

  /** SEND_MESSAGE; returns the request id that the echoed MESSAGE carries. */
  sendMessage(content, attributes) {
    return this.send({ Action: 'SEND_MESSAGE', Content: content, ...(attributes ? { Attributes: attributes } : {}) });
  }

  /** DELETE_MESSAGE (needs the DELETE_MESSAGE capability). */
  deleteMessage(id, reason) {
    return this.send({ Action: 'DELETE_MESSAGE', Id: id, ...(reason ? { Reason: reason } : {}) });
  }

  /** DISCONNECT_USER (needs the DISCONNECT_USER capability). */
  disconnectUser(userId, reason) {
    return this.send({ Action: 'DISCONNECT_USER', UserId: userId, ...(reason ? { Reason: reason } : {}) });
  }

  close() {
    this.ws.close(1000);
  }
}

/** The id of the message an aws:DELETE_MESSAGE event deletes (both spellings are sent). */
export function deletedMessageId(ev) {
  const a = ev.Attributes || {};
  return a.MessageId || a.MessageID || '';
}
