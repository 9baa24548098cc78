// Helpers for the messaging tests: chat tokens minted through @aws-sdk/client-ivschat,
// amazon-ivs-chat-messaging ChatRoom instances that record what they see, a recording
// global WebSocket (the `ws` package, which Node 20 needs), and raw handshakes.
//
// The SDKs are used unchanged: the recording WebSocket only subclasses `ws` to note which
// sockets the SDK opened, with which token, and how they ended.

import { WebSocket as WsWebSocket } from 'ws';
import { CreateChatTokenCommand, CreateRoomCommand } from '@aws-sdk/client-ivschat';

/** Every socket made through the recording WebSocket, oldest first. */
export const sockets = [];

/**
 * A `ws` WebSocket that records its token (the subprotocol offered), when it opened, the
 * subprotocol the server selected, and how it closed. Browser-like enough for the SDK:
 * `ws` gives `addEventListener`, string `event.data`, and `CloseEvent.code`/`wasClean`.
 */
export class RecordingWebSocket extends WsWebSocket {
  constructor(url, protocols, options) {
    super(url, protocols, options);
    const record = {
      url: String(url),
      token: Array.isArray(protocols) ? protocols[0] : protocols,
      createdAt: Date.now(),
      openedAt: null,
      selectedProtocol: null,
      closedAt: null,
      closeCode: null,
      wasClean: null,
      refusedStatus: null,
    };
    this.record = record;
    sockets.push(record);
    this.on('open', () => {
      record.openedAt = Date.now();
      record.selectedProtocol = this.protocol;
    });
    this.on('close', (code) => {
      record.closedAt = Date.now();
      record.closeCode = code;
    });
    // Listening to 'unexpected-response' would take over ws's own handling (it then
    // neither errors nor closes), so the refused status is read from the error message.
    this.on('error', (err) => {
      const m = /Unexpected server response: (\d+)/.exec(err && err.message);
      if (m) record.refusedStatus = Number(m[1]);
    });
  }
}

/** Makes the recording WebSocket the global one the SDK's ChatConnection calls. */
export function installWebSocket() {
  globalThis.WebSocket = RecordingWebSocket;
}

/** Sockets whose offered token is one of `tokens`. */
export function socketsFor(tokens) {
  const set = new Set(tokens);
  return sockets.filter((s) => set.has(s.token));
}

/** CreateRoom with the given input; returns the room ARN. */
export async function createRoom(client, input = {}) {
  const out = await client.send(new CreateRoomCommand(input));
  return out.arn;
}

/** CreateChatToken; returns the SDK's output ({token, tokenExpirationTime, sessionExpirationTime} as Dates). */
export async function mintToken(client, { roomIdentifier, userId, capabilities, attributes, sessionDurationInMinutes }) {
  return client.send(
    new CreateChatTokenCommand({ roomIdentifier, userId, capabilities, attributes, sessionDurationInMinutes }),
  );
}

/**
 * A ChatTokenProvider that calls CreateChatToken for every (re)connection and returns
 * {token, sessionExpirationTime, tokenExpirationTime} as Date objects, the shape of the
 * SDK's ChatToken. `provider.issued` lists what it returned, with the call time;
 * `provider.calls` counts calls, failed ones included.
 */
export function tokenProvider(client, request) {
  const issued = [];
  const provider = async () => {
    provider.calls += 1;
    const out = await mintToken(client, request);
    const token = {
      token: out.token,
      sessionExpirationTime: out.sessionExpirationTime,
      tokenExpirationTime: out.tokenExpirationTime,
    };
    issued.push({ ...token, at: Date.now() });
    return token;
  };
  provider.issued = issued;
  provider.calls = 0;
  return provider;
}

/** A provider that returns the same token every time (`provider.calls` counts the calls). */
export function fixedTokenProvider(token) {
  const provider = async () => {
    provider.calls += 1;
    return {
      token: token.token,
      sessionExpirationTime: token.sessionExpirationTime,
      tokenExpirationTime: token.tokenExpirationTime,
    };
  };
  provider.calls = 0;
  return provider;
}

const ROOM_EVENTS = ['connecting', 'connect', 'disconnect', 'message', 'event', 'messageDelete', 'userDisconnect'];
const VERBOSE = process.env.IVSCHATD_E2E_VERBOSE === '1';

/**
 * Wraps a ChatRoom: records every event it emits and every line it logs (the SDK reports
 * ERROR entities that match no request, such as a deleted room's 404, only to its logger).
 */
export class RoomRecorder {
  constructor(ChatRoom, { name, wsUrl, tokenProvider: provider, maxReconnectAttempts }) {
    this.name = name;
    this.provider = provider;
    this.room = new ChatRoom({ regionOrUrl: wsUrl, tokenProvider: provider, maxReconnectAttempts });
    this.events = Object.fromEntries(ROOM_EVENTS.map((e) => [e, []]));
    this.timeline = [];
    this.logs = [];
    this.waiters = [];
    const log = (level) => (message, ...args) => {
      this.logs.push({ level, message, args, at: Date.now() });
      if (VERBOSE) console.error(`[${name} ${level}] ${message}`, ...args);
    };
    // logger and logLevel are properties; connect() copies them into each connection.
    this.room.logger = { debug: log('debug'), info: log('info'), error: log('error') };
    this.room.logLevel = 'info';
    for (const eventName of ROOM_EVENTS) {
      this.room.addListener(eventName, (payload) => {
        this.events[eventName].push(payload);
        this.timeline.push({ eventName, payload, at: Date.now() });
        this.waiters = this.waiters.filter((w) => !w.check(eventName, payload));
      });
    }
  }

  get state() {
    return this.room.state;
  }

  /** Errors the SDK logged (their messages and arguments). */
  errorLogs() {
    return this.logs.filter((l) => l.level === 'error');
  }

  /**
   * Resolves with the first `eventName` payload (already seen or coming) for which
   * `predicate` holds; rejects after `timeoutMs`.
   */
  waitFor(eventName, predicate = () => true, timeoutMs = 5000) {
    const seen = this.events[eventName].find((p) => predicate(p));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.name}: no matching "${eventName}" event within ${timeoutMs} ms; ${this.describe()}`));
      }, timeoutMs);
      const waiter = {
        check: (name, payload) => {
          if (name !== eventName || !predicate(payload)) return false;
          clearTimeout(timer);
          resolve(payload);
          return true;
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** connect() and wait for 'connect'; rejects (with the reason) on 'disconnect'. */
  async connect(timeoutMs = 5000) {
    const before = this.events.disconnect.length;
    this.room.connect();
    const connected = this.waitFor('connect', () => true, timeoutMs);
    const failed = this.waitFor('disconnect', () => this.events.disconnect.length > before, timeoutMs).then(
      (reason) => {
        throw new Error(`${this.name}: disconnected (${reason}) instead of connecting; ${this.describe()}`);
      },
      () => new Promise(() => {}),
    );
    return Promise.race([connected, failed]);
  }

  /** A short account of the room's state, events and errors, for failure messages. */
  describe() {
    const events = this.timeline.map((t) => t.eventName).join(',');
    const errors = this.errorLogs()
      .slice(-5)
      .map((l) => `${l.message} ${l.args.map((a) => safeJson(a)).join(' ')}`)
      .join('\n    ');
    return `state=${this.state} events=[${events}]${errors ? `\n  SDK errors:\n    ${errors}` : ''}`;
  }

  disconnect() {
    if (this.room.state !== 'disconnected') this.room.disconnect();
  }
}

function safeJson(v) {
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

/**
 * Expects `promise` (a ChatRoom request) to reject with a ChatError of `errorCode`.
 * The SDK rejects with the parsed ERROR entity, a plain object
 * {id, errorCode, errorMessage, requestId}, not an Error instance.
 */
export async function expectChatError(promise, errorCode, requestId) {
  let settled;
  try {
    const value = await promise;
    settled = { value };
  } catch (err) {
    settled = { err };
  }
  if (!('err' in settled)) {
    throw new Error(`expected ChatError ${errorCode} but the request resolved with ${safeJson(settled.value)}`);
  }
  const { err } = settled;
  if (!err || err.errorCode !== errorCode) {
    throw new Error(`expected ChatError ${errorCode}, got ${safeJson(err)}`);
  }
  if (typeof err.errorMessage !== 'string' || err.errorMessage.length === 0) {
    throw new Error(`ChatError ${errorCode} without errorMessage: ${safeJson(err)}`);
  }
  if (!/^[A-Za-z0-9]{12}$/.test(err.id)) {
    throw new Error(`ChatError id is not 12 letters and digits: ${safeJson(err)}`);
  }
  if (requestId !== undefined && err.requestId !== requestId) {
    throw new Error(`ChatError requestId ${safeJson(err.requestId)}, expected ${requestId}`);
  }
  return err;
}

/**
 * Opens a raw `ws` handshake with `token` as the subprotocol (none when undefined).
 * Resolves with {status: 101, ws, protocol} when upgraded, or {status, body} when refused.
 */
export function rawHandshake(wsUrl, token, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const ws = token === undefined ? new WsWebSocket(wsUrl) : new WsWebSocket(wsUrl, token);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`handshake with ${wsUrl} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.once('open', () => {
      clearTimeout(timer);
      resolve({ status: 101, ws, protocol: ws.protocol });
    });
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode, headers: res.headers, body });
        req.destroy();
      });
    });
    ws.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    ws.on('error', () => {}); // a refused handshake may report more than one error
  });
}

/** Closes a raw socket cleanly and waits for the close. */
export function closeRaw(ws, code = 1000) {
  return new Promise((resolve) => {
    if (ws.readyState === WsWebSocket.CLOSED) return resolve();
    ws.once('close', () => resolve());
    ws.close(code);
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
