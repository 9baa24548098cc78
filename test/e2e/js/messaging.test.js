// The official amazon-ivs-chat-messaging SDK (unchanged) in Node 20 against a fresh ivschatd,
// with tokens from CreateChatToken through @aws-sdk/client-ivschat.
// Reference: shared/spec/ivschat.md §5–6 and §10; docs/compatibility.md (Messaging).
//
// Node 20 has no global WebSocket: the `ws` package is installed as the global one (a
// subclass that records which sockets the SDK opened, see lib/messaging.js).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import {
  DeleteMessageCommand,
  DeleteRoomCommand,
  DisconnectUserCommand,
  SendEventCommand,
} from '@aws-sdk/client-ivschat';

import { makeIvschatClient, startServer } from './lib/server.js';
import {
  RoomRecorder,
  closeRaw,
  createRoom,
  expectChatError,
  fixedTokenProvider,
  installWebSocket,
  mintToken,
  rawHandshake,
  sleep,
  socketsFor,
  tokenProvider,
} from './lib/messaging.js';

installWebSocket();
const { ChatRoom, SendMessageRequest, DeleteMessageRequest, DisconnectUserRequest } = await import(
  'amazon-ivs-chat-messaging'
);

const TEST_TIMEOUT_MS = 30_000;
const ID_RE = /^[A-Za-z0-9]{12}$/;
// Long enough to see that a room the server closed does not come back.
const NO_RECONNECT_WAIT_MS = 800;

const servers = [];
const members = [];
const rawSockets = [];

async function newServer(args = []) {
  const server = await startServer({ args });
  servers.push(server);
  return { server, client: makeIvschatClient(server) };
}

/**
 * A ChatRoom member of `roomArn` on `server`, with a token provider that calls
 * CreateChatToken for each connection. Not connected yet.
 */
function member(ctx, name, { roomArn, userId = name, capabilities, attributes, maxReconnectAttempts } = {}) {
  const provider = tokenProvider(ctx.client, { roomIdentifier: roomArn, userId, capabilities, attributes });
  const m = new RoomRecorder(ChatRoom, {
    name,
    wsUrl: ctx.server.wsUrl,
    tokenProvider: provider,
    maxReconnectAttempts,
  });
  members.push(m);
  return m;
}

async function connected(ctx, name, options) {
  const m = member(ctx, name, options);
  await m.connect();
  return m;
}

/** it() with the file's timeout; a failure also reports the server's last log lines. */
function check(name, fn) {
  it(name, { timeout: TEST_TIMEOUT_MS }, async (t) => {
    try {
      await fn(t);
    } catch (err) {
      if (err && typeof err === 'object' && servers.length > 0) {
        const logs = servers[servers.length - 1].logs().split('\n').slice(-15).join('\n');
        try {
          err.message = `${err.message}\n\nLast server output:\n${logs}`;
        } catch {
          // read-only message
        }
      }
      throw err;
    }
  });
}

function assertSendTime(date, before, after) {
  assert.ok(date instanceof Date, `sendTime must be a Date, got ${date}`);
  assert.ok(!Number.isNaN(date.getTime()), 'sendTime must be a valid date');
  assert.ok(date.getTime() >= before - 2000 && date.getTime() <= after + 2000, `sendTime ${date.toISOString()} is not now`);
}

/** The SDK logs ERROR entities that match no request as `received error` with the raw entity. */
function loggedErrorEntities(m) {
  return m
    .errorLogs()
    .filter((l) => l.message.endsWith('received error'))
    .map((l) => l.args[0]);
}

after(async () => {
  for (const m of members) m.disconnect();
  for (const ws of rawSockets) ws.terminate();
  await Promise.all(servers.map((s) => s.stop()));
});

describe('messaging SDK: one server', () => {
  const ctx = {};
  before(async () => {
    Object.assign(ctx, await newServer());
  });

  check('connects: the room is "connected" over one socket whose subprotocol is the token', async () => {
    const roomArn = await createRoom(ctx.client, { name: 'connect' });
    const alice = await connected(ctx, 'alice', { roomArn });
    assert.equal(alice.state, 'connected');
    assert.equal(alice.events.connecting.length, 1);
    assert.equal(alice.events.connect.length, 1);
    assert.equal(alice.events.disconnect.length, 0);

    assert.equal(alice.provider.issued.length, 1, 'one token for one connection');
    const [issued] = alice.provider.issued;
    assert.ok(issued.tokenExpirationTime instanceof Date && issued.tokenExpirationTime > new Date());
    assert.ok(issued.sessionExpirationTime instanceof Date && issued.sessionExpirationTime > new Date());
    const opened = socketsFor([issued.token]);
    assert.equal(opened.length, 1);
    assert.equal(opened[0].url, ctx.server.wsUrl);
    assert.equal(opened[0].selectedProtocol, issued.token, 'the server echoes the token as the subprotocol');
    assert.ok(opened[0].openedAt != null);
    assert.deepEqual(alice.errorLogs(), []);
  });

  describe('messages', () => {
    let roomArn;
    let alice;
    let bob;
    const aliceAttributes = { displayName: 'Alice', avatar: '🦊', 'key with spaces': 'v=1&w=2' };
    before(async () => {
      roomArn = await createRoom(ctx.client, { name: 'messages' });
      alice = await connected(ctx, 'alice', { roomArn, capabilities: ['SEND_MESSAGE'], attributes: aliceAttributes });
      bob = await connected(ctx, 'bob', { roomArn, capabilities: ['SEND_MESSAGE'] });
    });

    check('sendMessage resolves with the ChatMessage; the other member gets the same message', async () => {
      const request = new SendMessageRequest('héllo wörld 👋 <b>&</b> "quoted"', { kind: 'greeting', emoji: '🎉', empty: '' });
      const before = Date.now();
      const message = await alice.room.sendMessage(request);
      const afterSend = Date.now();

      assert.match(message.id, ID_RE);
      assert.equal(message.content, request.content);
      assert.deepEqual(message.attributes, request.attributes);
      assert.equal(message.requestId, request.requestId);
      assert.equal(message.sender.userId, 'alice');
      assert.deepEqual(message.sender.attributes, aliceAttributes, 'Sender.Attributes are the token attributes');
      assertSendTime(message.sendTime, before, afterSend);

      const atBob = await bob.waitFor('message', (m) => m.id === message.id);
      assert.deepEqual(atBob, message, 'every member gets the same payload, RequestId included');
      const atAlice = await alice.waitFor('message', (m) => m.id === message.id);
      assert.deepEqual(atAlice, message, "the sender's own 'message' event");
      await sleep(200);
      assert.equal(bob.events.message.filter((m) => m.id === message.id).length, 1, 'delivered once');
    });

    check('without attributes: Attributes and Sender.Attributes are {}', async () => {
      const request = new SendMessageRequest('plain');
      const message = await bob.room.sendMessage(request);
      assert.deepEqual(message.attributes, {});
      assert.equal(message.sender.userId, 'bob');
      assert.deepEqual(message.sender.attributes, {});
      await alice.waitFor('message', (m) => m.id === message.id);
    });

    check('messages from both members arrive in order with distinct ids', async () => {
      const requests = [];
      const sent = [];
      // 6 sends (plus the 2 above) stay under the room's default 10 per second.
      for (let i = 0; i < 3; i += 1) {
        for (const [who, m] of [['alice', alice], ['bob', bob]]) {
          const request = new SendMessageRequest(`order ${who} ${i}`);
          requests.push(request);
          sent.push(m.room.sendMessage(request));
        }
      }
      const messages = await Promise.all(sent);
      assert.equal(new Set(messages.map((m) => m.id)).size, messages.length, 'ids are unique');
      for (const [i, m] of messages.entries()) assert.equal(m.requestId, requests[i].requestId);
      for (const viewer of [alice, bob]) {
        // The two senders' messages interleave in any order (each is admitted on its own), so
        // every one of them is awaited, not only the last one sent.
        for (const sentMessage of messages) await viewer.waitFor('message', (m) => m.id === sentMessage.id, 20_000);
        const seen = viewer.events.message.filter((m) => m.content.startsWith('order ')).map((m) => m.content);
        for (const who of ['alice', 'bob']) {
          assert.deepEqual(
            seen.filter((c) => c.startsWith(`order ${who}`)),
            [0, 1, 2].map((i) => `order ${who} ${i}`),
            `${viewer.name} sees ${who}'s messages in order`,
          );
        }
      }
    });
  });

  describe('moderation', () => {
    check('deleteMessage resolves for the requester and fires messageDelete for the others', async () => {
      const roomArn = await createRoom(ctx.client, { name: 'delete' });
      const alice = await connected(ctx, 'alice', { roomArn, capabilities: ['SEND_MESSAGE'] });
      const mod = await connected(ctx, 'mod', { roomArn, capabilities: ['DELETE_MESSAGE'] });
      const viewer = await connected(ctx, 'viewer', { roomArn });

      const message = await alice.room.sendMessage(new SendMessageRequest('delete me'));
      await mod.waitFor('message', (m) => m.id === message.id);

      const request = new DeleteMessageRequest(message.id, 'off topic');
      const deleted = await mod.room.deleteMessage(request);
      assert.match(deleted.id, ID_RE);
      assert.notEqual(deleted.id, message.id);
      assert.equal(deleted.messageId, message.id);
      assert.equal(deleted.reason, 'off topic');
      assert.equal(deleted.requestId, request.requestId);
      assert.ok(deleted.sendTime instanceof Date && !Number.isNaN(deleted.sendTime.getTime()));
      assert.deepEqual(deleted.attributes, { MessageId: message.id, MessageID: message.id, Reason: 'off topic' });

      for (const other of [alice, viewer]) {
        const event = await other.waitFor('messageDelete', (e) => e.messageId === message.id);
        assert.equal(event.id, deleted.id);
        assert.equal(event.reason, 'off topic');
        assert.equal(event.requestId, request.requestId);
      }
      // Reason is optional.
      const second = await alice.room.sendMessage(new SendMessageRequest('delete me too'));
      const noReason = await mod.room.deleteMessage(new DeleteMessageRequest(second.id));
      assert.equal(noReason.messageId, second.id);
      assert.equal(noReason.reason, undefined);
      assert.deepEqual(noReason.attributes, { MessageId: second.id, MessageID: second.id });
      await viewer.waitFor('messageDelete', (e) => e.messageId === second.id);
    });

    check('disconnectUser resolves; every connection of the user ends "serverDisconnect" without reconnecting', async () => {
      const roomArn = await createRoom(ctx.client, { name: 'kick' });
      const mod = await connected(ctx, 'mod', { roomArn, capabilities: ['DISCONNECT_USER'] });
      const carol1 = await connected(ctx, 'carol#1', { roomArn, userId: 'carol' });
      const carol2 = await connected(ctx, 'carol#2', { roomArn, userId: 'carol' });
      const dave = await connected(ctx, 'dave', { roomArn, userId: 'dave' });

      const request = new DisconnectUserRequest('carol', 'be nice');
      const event = await mod.room.disconnectUser(request);
      assert.match(event.id, ID_RE);
      assert.equal(event.userId, 'carol');
      assert.equal(event.reason, 'be nice');
      assert.equal(event.requestId, request.requestId);

      for (const carol of [carol1, carol2]) {
        const seen = await carol.waitFor('userDisconnect', (e) => e.id === event.id);
        assert.equal(seen.userId, 'carol');
        assert.equal(await carol.waitFor('disconnect'), 'serverDisconnect');
        assert.equal(carol.state, 'disconnected');
      }
      const bystander = await dave.waitFor('userDisconnect', (e) => e.id === event.id);
      assert.equal(bystander.reason, 'be nice');

      await sleep(NO_RECONNECT_WAIT_MS);
      for (const carol of [carol1, carol2]) {
        assert.equal(carol.provider.calls, 1, `${carol.name} asked for no new token`);
        assert.equal(carol.events.connecting.length, 1, `${carol.name} did not reconnect`);
        const [socket] = socketsFor(carol.provider.issued.map((t) => t.token));
        assert.equal(socket.closeCode, 1000, 'closed with a close frame, code 1000');
      }
      assert.equal(dave.state, 'connected');
      assert.equal(mod.state, 'connected');
    });
  });

  describe('control plane into the room', () => {
    check("SendEvent fires 'event' with its name, attributes and the returned id", async () => {
      const roomArn = await createRoom(ctx.client, { name: 'events' });
      const erin = await connected(ctx, 'erin', { roomArn });
      const attributes = { joined: 'frank', note: 'ünïcödé 🎈' };
      const before = Date.now();
      const out = await ctx.client.send(new SendEventCommand({ roomIdentifier: roomArn, eventName: 'app:join', attributes }));
      const event = await erin.waitFor('event', (e) => e.id === out.id);
      assert.match(event.id, ID_RE);
      assert.equal(event.eventName, 'app:join');
      assert.deepEqual(event.attributes, attributes);
      assert.equal(event.requestId, '', 'RequestId is "" for control-plane events');
      assertSendTime(event.sendTime, before, Date.now());

      const bare = await ctx.client.send(new SendEventCommand({ roomIdentifier: roomArn, eventName: 'app:ping' }));
      const plain = await erin.waitFor('event', (e) => e.id === bare.id);
      assert.deepEqual(plain.attributes, {});
    });

    check('DeleteMessage and DisconnectUser from the control plane have the same effects', async () => {
      const roomArn = await createRoom(ctx.client, { name: 'cp-moderation' });
      const gus = await connected(ctx, 'gus', { roomArn, capabilities: ['SEND_MESSAGE'] });
      const hal = await connected(ctx, 'hal', { roomArn });

      const message = await gus.room.sendMessage(new SendMessageRequest('from gus'));
      const del = await ctx.client.send(new DeleteMessageCommand({ roomIdentifier: roomArn, id: message.id, reason: 'cp' }));
      const deleted = await hal.waitFor('messageDelete', (e) => e.messageId === message.id);
      assert.equal(deleted.id, del.id);
      assert.equal(deleted.reason, 'cp');

      await ctx.client.send(new DisconnectUserCommand({ roomIdentifier: roomArn, userId: 'gus', reason: 'cp kick' }));
      const kicked = await hal.waitFor('userDisconnect', (e) => e.userId === 'gus');
      assert.equal(kicked.reason, 'cp kick');
      assert.equal(await gus.waitFor('disconnect'), 'serverDisconnect');
      await sleep(NO_RECONNECT_WAIT_MS);
      assert.equal(gus.provider.calls, 1, 'gus did not reconnect');
      assert.equal(hal.state, 'connected');
    });
  });

  describe('errors reject the matching promise with a ChatError', () => {
    check('403: no capability for SEND_MESSAGE, DELETE_MESSAGE, DISCONNECT_USER', async () => {
      const roomArn = await createRoom(ctx.client, { name: 'forbidden' });
      const viewer = await connected(ctx, 'viewer', { roomArn });
      const watcher = await connected(ctx, 'watcher', { roomArn, capabilities: ['SEND_MESSAGE'] });

      const send = new SendMessageRequest('not allowed');
      await expectChatError(viewer.room.sendMessage(send), 403, send.requestId);
      const del = new DeleteMessageRequest('AbCdEf123456', 'no');
      await expectChatError(viewer.room.deleteMessage(del), 403, del.requestId);
      const kick = new DisconnectUserRequest('watcher', 'no');
      await expectChatError(viewer.room.disconnectUser(kick), 403, kick.requestId);

      // The connection stays usable, and nothing reached the room.
      assert.equal(viewer.state, 'connected');
      const later = await watcher.room.sendMessage(new SendMessageRequest('after the errors'));
      await viewer.waitFor('message', (m) => m.id === later.id);
      assert.equal(watcher.events.message.filter((m) => m.content === 'not allowed').length, 0);
      assert.equal(watcher.events.messageDelete.length + watcher.events.userDisconnect.length, 0);
      assert.equal(watcher.state, 'connected');
    });

    check("400: content over the room's maximumMessageLength (counted in code points), and empty content", async () => {
      const roomArn = await createRoom(ctx.client, { name: 'short', maximumMessageLength: 10 });
      const ivy = await connected(ctx, 'ivy', { roomArn, capabilities: ['SEND_MESSAGE'] });
      const tooLong = new SendMessageRequest('x'.repeat(11));
      await expectChatError(ivy.room.sendMessage(tooLong), 400, tooLong.requestId);
      const empty = new SendMessageRequest('');
      await expectChatError(ivy.room.sendMessage(empty), 400, empty.requestId);
      // Ten code points, twenty UTF-16 units, forty bytes: fits.
      const emoji = await ivy.room.sendMessage(new SendMessageRequest('😀'.repeat(10)));
      assert.equal(emoji.content, '😀'.repeat(10));
      const eleven = new SendMessageRequest('😀'.repeat(11));
      await expectChatError(ivy.room.sendMessage(eleven), 400, eleven.requestId);
      assert.equal(ivy.state, 'connected');
    });

    check('413: SendMessage attributes over 1 KiB', async () => {
      const roomArn = await createRoom(ctx.client, { name: 'big-attributes' });
      const jo = await connected(ctx, 'jo', { roomArn, capabilities: ['SEND_MESSAGE'] });
      const big = new SendMessageRequest('hi', { blob: 'x'.repeat(1100) });
      await expectChatError(jo.room.sendMessage(big), 413, big.requestId);
      assert.equal(jo.state, 'connected');
    });

    check("429: two quick sends in a room with maximumMessageRatePerSecond 1", async () => {
      const roomArn = await createRoom(ctx.client, { name: 'slow', maximumMessageRatePerSecond: 1 });
      const kim = await connected(ctx, 'kim', { roomArn, capabilities: ['SEND_MESSAGE'] });
      const lee = await connected(ctx, 'lee', { roomArn });
      const first = new SendMessageRequest('first');
      const second = new SendMessageRequest('second');
      const p1 = kim.room.sendMessage(first);
      const p2 = kim.room.sendMessage(second);
      const [r1, r2] = await Promise.allSettled([p1, p2]);
      assert.equal(r1.status, 'fulfilled', `first send: ${JSON.stringify(r1.reason)}`);
      await expectChatError(p2, 429, second.requestId);
      await lee.waitFor('message', (m) => m.id === r1.value.id);

      await sleep(1100);
      const third = await kim.room.sendMessage(new SendMessageRequest('third'));
      await lee.waitFor('message', (m) => m.id === third.id);
      assert.deepEqual(
        lee.events.message.map((m) => m.content),
        ['first', 'third'],
        'the refused message reached nobody',
      );
      assert.equal(r2.status, 'rejected');
    });
  });

  describe('tokens', () => {
    check('raw handshakes: a reused token is refused with 403; missing and forged tokens with 401', async () => {
      const roomArn = await createRoom(ctx.client, { name: 'single-use' });
      const token = await mintToken(ctx.client, { roomIdentifier: roomArn, userId: 'raw' });

      const first = await rawHandshake(ctx.server.wsUrl, token.token);
      rawSockets.push(first.ws);
      assert.equal(first.status, 101);
      assert.equal(first.protocol, token.token);

      const again = await rawHandshake(ctx.server.wsUrl, token.token);
      assert.equal(again.status, 403, `reused token: ${again.status} ${again.body}`);
      assert.ok(again.body.trim().length > 0, 'the refusal says why');

      await closeRaw(first.ws);
      const afterClose = await rawHandshake(ctx.server.wsUrl, token.token);
      assert.equal(afterClose.status, 403, 'still refused once its connection has closed');

      const missing = await rawHandshake(ctx.server.wsUrl, undefined);
      assert.equal(missing.status, 401, `no token: ${missing.status} ${missing.body}`);

      const fresh = await mintToken(ctx.client, { roomIdentifier: roomArn, userId: 'raw' });
      const t = fresh.token;
      const i = Math.floor(t.length / 2);
      const forged = t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1);
      const forgedRes = await rawHandshake(ctx.server.wsUrl, forged);
      assert.equal(forgedRes.status, 401, `forged token: ${forgedRes.status} ${forgedRes.body}`);
      // The forged attempt did not spend the real token.
      const real = await rawHandshake(ctx.server.wsUrl, t);
      rawSockets.push(real.ws);
      assert.equal(real.status, 101);
      await closeRaw(real.ws);
    });

    check('the SDK with a provider that returns a used token: retries, never connects, ends "socketError"', async () => {
      const roomArn = await createRoom(ctx.client, { name: 'reused' });
      const token = await mintToken(ctx.client, { roomIdentifier: roomArn, userId: 'mallory' });
      const first = await rawHandshake(ctx.server.wsUrl, token.token);
      rawSockets.push(first.ws);
      assert.equal(first.status, 101);

      const provider = fixedTokenProvider(token);
      const m = new RoomRecorder(ChatRoom, { name: 'mallory', wsUrl: ctx.server.wsUrl, tokenProvider: provider });
      members.push(m);
      m.room.connect();
      const reason = await m.waitFor('disconnect');
      assert.equal(reason, 'socketError');
      assert.equal(m.events.connect.length, 0, 'never connected');
      assert.equal(provider.calls, 4, 'one attempt and maxReconnectAttempts (3) retries, each asking the provider');
      // Raw handshakes do not go through the recording WebSocket: these are the SDK's.
      const attempts = socketsFor([token.token]);
      assert.equal(attempts.length, 4);
      for (const s of attempts) {
        assert.equal(s.openedAt, null);
        assert.equal(s.refusedStatus, 403);
      }
      await closeRaw(first.ws);
    });
  });

  check('a deleted room: every member gets ERROR 404 and a clean close; its unused tokens get HTTP 404', async () => {
    const roomArn = await createRoom(ctx.client, { name: 'doomed' });
    const nia = await connected(ctx, 'nia', { roomArn, capabilities: ['SEND_MESSAGE'] });
    const oli = await connected(ctx, 'oli', { roomArn });
    const unused = await mintToken(ctx.client, { roomIdentifier: roomArn, userId: 'late' });

    await ctx.client.send(new DeleteRoomCommand({ identifier: roomArn }));
    for (const m of [nia, oli]) {
      assert.equal(await m.waitFor('disconnect'), 'serverDisconnect');
      const errors = loggedErrorEntities(m);
      assert.equal(errors.length, 1, `${m.name}: ${m.describe()}`);
      assert.equal(errors[0].Type, 'ERROR');
      assert.equal(errors[0].ErrorCode, 404);
      assert.equal(typeof errors[0].ErrorMessage, 'string');
      assert.equal(errors[0].RequestId, '');
      const [socket] = socketsFor(m.provider.issued.map((t) => t.token));
      assert.equal(socket.closeCode, 1000);
    }
    await sleep(NO_RECONNECT_WAIT_MS);
    assert.equal(nia.provider.calls, 1, 'no reconnect after the room is gone');
    assert.equal(oli.provider.calls, 1, 'no reconnect after the room is gone');

    const late = await rawHandshake(ctx.server.wsUrl, unused.token);
    assert.equal(late.status, 404, `token of a deleted room: ${late.status} ${late.body}`);
  });
});

describe('messaging SDK: token lifetime and session end', () => {
  check('tokens expiring in 32 s: the SDK refreshes its connection every ~2 s with fresh tokens and loses nothing', async () => {
    // The SDK opens the next connection 60 s before tokenExpirationTime, or 30 s before
    // when 60 s or less remain. With a 32 s token that is ~2 s after each open.
    // (With --token-lifetime 5s it is 0 s: the SDK reconnects back to back without pause.)
    const ctx = await newServer(['--token-lifetime', '32s']);
    const roomArn = await createRoom(ctx.client, { name: 'refresh' });
    const pia = await connected(ctx, 'pia', { roomArn, capabilities: ['SEND_MESSAGE'] });
    const quin = await connected(ctx, 'quin', { roomArn });

    const contents = [];
    const sends = [];
    const start = Date.now();
    for (let i = 0; Date.now() - start < 6_500; i += 1) {
      const content = `tick ${i}`;
      contents.push(content);
      sends.push(pia.room.sendMessage(new SendMessageRequest(content)));
      await sleep(150);
    }
    const results = await Promise.allSettled(sends);
    const failed = results.filter((r) => r.status === 'rejected');
    assert.deepEqual(failed, [], 'every sendMessage resolved');
    const lastId = results.at(-1).value.id;
    await quin.waitFor('message', (m) => m.id === lastId);

    for (const m of [pia, quin]) {
      const issued = m.provider.issued;
      assert.ok(issued.length >= 3, `${m.name}: at least two refreshes in 6.5 s, got ${issued.length - 1}`);
      assert.equal(new Set(issued.map((t) => t.token)).size, issued.length, 'a fresh token each time');
      const socks = socketsFor(issued.map((t) => t.token));
      assert.equal(socks.length, issued.length, 'one socket per token');
      for (let i = 1; i < socks.length; i += 1) {
        const prev = socks[i - 1];
        const next = socks[i];
        assert.ok(next.createdAt < issued[i - 1].tokenExpirationTime.getTime(), 'next connection before the token expires');
        assert.ok(next.openedAt != null, `${m.name}: refresh ${i} opened`);
        assert.equal(next.selectedProtocol, next.token);
        assert.ok(prev.closedAt != null && prev.closedAt >= next.openedAt, `${m.name}: old socket closed after the new one opened`);
        assert.equal(prev.closeCode, 1000);
      }
      assert.equal(m.events.disconnect.length, 0, `${m.name} never disconnected`);
      assert.equal(m.events.connecting.length, 1, `${m.name} never went back to "connecting"`);
      assert.equal(m.state, 'connected');
    }
    // Everything arrived once, in order, across the switches (the SDK de-duplicates by Id).
    assert.deepEqual(
      quin.events.message.map((m) => m.content),
      contents,
    );
    assert.deepEqual(
      pia.events.message.map((m) => m.content),
      contents,
    );
  });

  check('a token not used within its lifetime is refused with 401; the SDK gives up with "socketError"', async () => {
    const ctx = await newServer(['--token-lifetime', '1s']);
    const roomArn = await createRoom(ctx.client, { name: 'expired' });
    const stale = await mintToken(ctx.client, { roomIdentifier: roomArn, userId: 'ray' });
    const stale2 = await mintToken(ctx.client, { roomIdentifier: roomArn, userId: 'ray' });
    assert.ok(stale.tokenExpirationTime.getTime() - Date.now() <= 1000);
    await sleep(Math.max(0, stale2.tokenExpirationTime.getTime() - Date.now()) + 200);

    const raw = await rawHandshake(ctx.server.wsUrl, stale.token);
    assert.equal(raw.status, 401, `expired token: ${raw.status} ${raw.body}`);

    const provider = fixedTokenProvider(stale2);
    const m = new RoomRecorder(ChatRoom, { name: 'ray', wsUrl: ctx.server.wsUrl, tokenProvider: provider, maxReconnectAttempts: 1 });
    members.push(m);
    m.room.connect();
    assert.equal(await m.waitFor('disconnect'), 'socketError');
    assert.equal(provider.calls, 2);
    for (const s of socketsFor([stale2.token])) assert.equal(s.refusedStatus, 401);
  });

  check('server shutdown sends ERROR 401: the SDK reconnects at once, with a new token', async () => {
    // ERROR 401 then close is also what ends a session at sessionExpirationTime; the
    // shortest session the API allows is a minute, so the shutdown path stands in for it here
    // (test/e2e/messaging_test.go TestSessionExpiry covers the session timer itself).
    const ctx = await newServer();
    const roomArn = await createRoom(ctx.client, { name: 'shutdown' });
    // The control plane stops with the node, so the tokens for the reconnection are minted
    // beforehand: the provider hands out a new one on each call.
    const tokens = [];
    for (let i = 0; i < 5; i += 1) tokens.push(await mintToken(ctx.client, { roomIdentifier: roomArn, userId: 'sam' }));
    let calls = 0;
    const provider = async () => {
      const { token, sessionExpirationTime, tokenExpirationTime } = tokens[calls];
      calls += 1;
      return { token, sessionExpirationTime, tokenExpirationTime };
    };
    const sam = new RoomRecorder(ChatRoom, { name: 'sam', wsUrl: ctx.server.wsUrl, tokenProvider: provider });
    members.push(sam);
    await sam.connect();
    assert.equal(calls, 1);

    const stopped = ctx.server.stop();
    await sam.waitFor('connecting', () => sam.events.connecting.length >= 2, 10_000);
    const errors = loggedErrorEntities(sam);
    assert.equal(errors.length, 1, sam.describe());
    assert.equal(errors[0].ErrorCode, 401);
    assert.equal(errors[0].RequestId, '');
    const reason = await sam.waitFor('disconnect', () => true, 10_000);
    await stopped;
    // The node is gone, so the new attempts fail (503 while draining, or no listener), and
    // the SDK stops after maxReconnectAttempts.
    assert.equal(reason, 'socketError', sam.describe());
    assert.equal(calls, 5, 'a new token for the reconnection and for each of its 3 retries');
    const [first, ...retries] = socketsFor(tokens.map((t) => t.token));
    assert.equal(first.token, tokens[0].token);
    assert.equal(retries.length, 4);
    assert.deepEqual(retries.map((r) => r.token), tokens.slice(1).map((t) => t.token));
    assert.ok(retries.every((r) => r.openedAt == null));
  });
});

describe('messaging SDK: a room with a message review handler', () => {
  const ctx = {};
  const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:moderate';
  let handler;
  before(async () => {
    // A review handler over HTTP, as `--review-handler ARN=URL` maps it: it denies "deny me"
    // with a reason and upper-cases everything else.
    handler = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const review = JSON.parse(body);
        const answer =
          review.Content === 'deny me'
            ? { ReviewResult: 'DENY', Content: review.Content, Attributes: { Reason: 'off-topic' } }
            : { ReviewResult: 'ALLOW', Content: review.Content.toUpperCase(), Attributes: review.Attributes };
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(answer));
      });
    });
    await new Promise((resolve) => handler.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${handler.address().port}/review`;
    Object.assign(ctx, await newServer(['--review-handler', `${FUNCTION_ARN}=${url}`]));
  });
  after(() => new Promise((resolve) => handler.close(resolve)));

  check('a denied message rejects its promise with 406 and the reason; an allowed one arrives as reviewed', async () => {
    const roomArn = await createRoom(ctx.client, { name: 'reviewed', messageReviewHandler: { uri: FUNCTION_ARN } });
    const sue = await connected(ctx, 'sue', { roomArn, capabilities: ['SEND_MESSAGE'] });
    const tom = await connected(ctx, 'tom', { roomArn });

    const denied = new SendMessageRequest('deny me');
    const err = await expectChatError(sue.room.sendMessage(denied), 406, denied.requestId);
    assert.match(err.errorMessage, /off-topic/);

    const allowed = await sue.room.sendMessage(new SendMessageRequest('hello', { k: 'v' }));
    assert.equal(allowed.content, 'HELLO');
    const seen = await tom.waitFor('message', (m) => m.id === allowed.id);
    assert.equal(seen.content, 'HELLO');
    assert.deepEqual(seen.attributes, { k: 'v' });
    assert.equal(tom.events.message.filter((m) => m.content.toLowerCase() === 'deny me').length, 0, 'the denied message reached nobody');
  });
});
