// ivschatd's extensions with the official SDKs: the extension operations signed with
// @smithy/signature-v4 (lib/extensions.js), and their effect on members connected with the
// unchanged amazon-ivs-chat-messaging SDK. Reference: docs/extensions.md.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { CreateChatTokenCommand } from '@aws-sdk/client-ivschat';

import { devCredentials, makeIvschatClient, startServer } from './lib/server.js';
import { RoomRecorder, createRoom, installWebSocket, mintToken, rawHandshake, tokenProvider } from './lib/messaging.js';
import { checkedExtension } from './lib/openapi.js';

installWebSocket();
const { ChatRoom, SendMessageRequest } = await import('amazon-ivs-chat-messaging');

const TEST_TIMEOUT_MS = 30_000;

describe('bans', () => {
  let server;
  let client;
  const members = [];
  const ext = (operation, input) => checkedExtension(server.url, devCredentials(), operation, input);

  before(async () => {
    server = await startServer();
    client = makeIvschatClient(server);
  });
  after(async () => {
    for (const m of members) m.disconnect();
    await server?.stop();
  });

  async function connected(name, roomArn) {
    const m = new RoomRecorder(ChatRoom, {
      name,
      wsUrl: server.wsUrl,
      tokenProvider: tokenProvider(client, { roomIdentifier: roomArn, userId: name }),
    });
    members.push(m);
    await m.connect();
    return m;
  }

  it('BanUser disconnects the user with the reason, and the SDK cannot connect again', { timeout: TEST_TIMEOUT_MS }, async () => {
    const roomArn = await createRoom(client, { name: 'bans' });
    const viewer = await connected('viewer', roomArn);
    const spammer = await connected('spammer', roomArn);

    const ban = await ext('BanUser', { roomIdentifier: roomArn, userId: 'spammer', durationSeconds: 600, reason: 'spam' });
    assert.equal(ban.userId, 'spammer');
    assert.ok(Date.parse(ban.expireTime) > Date.now() + 590_000);

    const seen = await viewer.waitFor('userDisconnect', (e) => e.userId === 'spammer');
    assert.equal(seen.reason, 'spam');
    assert.equal(await spammer.waitFor('disconnect'), 'serverDisconnect');
    assert.equal(viewer.state, 'connected');

    await assert.rejects(
      client.send(new CreateChatTokenCommand({ roomIdentifier: roomArn, userId: 'spammer' })),
      (err) => err.name === 'AccessDeniedException' && err.message.includes(`until ${ban.expireTime.replace(/\.\d+Z$/, 'Z')}`),
    );
    const { bans } = await ext('ListBans', { roomIdentifier: roomArn });
    assert.deepEqual(bans.map((b) => b.userId), ['spammer']);
  });

  it('a token minted before the ban is refused at the handshake with 403', { timeout: TEST_TIMEOUT_MS }, async () => {
    const roomArn = await createRoom(client, { name: 'bans-early-token' });
    const token = await mintToken(client, { roomIdentifier: roomArn, userId: 'early' });
    await ext('BanUser', { roomIdentifier: roomArn, userId: 'early' });
    const result = await rawHandshake(server.wsUrl, token.token);
    assert.equal(result.status, 403);
  });

  it('UnbanUser lets the user connect again; it is idempotent', { timeout: TEST_TIMEOUT_MS }, async () => {
    const roomArn = await createRoom(client, { name: 'bans-unban' });
    await ext('BanUser', { roomIdentifier: roomArn, userId: 'back' });
    await ext('UnbanUser', { roomIdentifier: roomArn, userId: 'back' });
    await ext('UnbanUser', { roomIdentifier: roomArn, userId: 'back' });
    const back = await connected('back', roomArn);
    assert.equal(back.state, 'connected');
  });

  it('bad input is a ValidationException, another room a ResourceNotFoundException', { timeout: TEST_TIMEOUT_MS }, async () => {
    const roomArn = await createRoom(client, { name: 'bans-input' });
    await assert.rejects(ext('BanUser', { roomIdentifier: roomArn, userId: 'x', durationSeconds: 0 }),
      (err) => err.status === 400 && err.code === 'ValidationException' && /durationSeconds/.test(err.message));
    await assert.rejects(ext('BanUser', { roomIdentifier: roomArn.replace(/\/.*$/, '/AAAAAAAAAAAA'), userId: 'x' }),
      (err) => err.status === 404 && err.code === 'ResourceNotFoundException');
  });
});

describe('slow mode', () => {
  let server;
  let client;
  const members = [];

  before(async () => {
    server = await startServer();
    client = makeIvschatClient(server);
  });
  after(async () => {
    for (const m of members) m.disconnect();
    await server?.stop();
  });

  it('ivschatd:user-rate refuses a send beyond it with a 429 saying slow mode and when', { timeout: TEST_TIMEOUT_MS }, async () => {
    const roomArn = await createRoom(client, { name: 'slow', tags: { 'ivschatd:user-rate': '1/3600' } });
    const m = new RoomRecorder(ChatRoom, {
      name: 'talker',
      wsUrl: server.wsUrl,
      tokenProvider: tokenProvider(client, { roomIdentifier: roomArn, userId: 'talker', capabilities: ['SEND_MESSAGE'] }),
    });
    members.push(m);
    await m.connect();
    await m.room.sendMessage(new SendMessageRequest('first'));
    const refused = new SendMessageRequest('second');
    await assert.rejects(m.room.sendMessage(refused), (err) => {
      assert.equal(err.errorCode, 429);
      assert.equal(err.requestId, refused.requestId);
      assert.match(err.errorMessage, /^slow mode: .* you may send again at \d{4}-\d\d-\d\dT/);
      return true;
    });
    assert.equal(m.state, 'connected');
  });
});

describe('history and replay', () => {
  let server;
  let client;
  const members = [];
  const ext = (operation, input) => checkedExtension(server.url, devCredentials(), operation, input);

  before(async () => {
    server = await startServer();
    client = makeIvschatClient(server);
  });
  after(async () => {
    for (const m of members) m.disconnect();
    await server?.stop();
  });

  async function connected(name, roomArn) {
    const m = new RoomRecorder(ChatRoom, {
      name,
      wsUrl: server.wsUrl,
      tokenProvider: tokenProvider(client, { roomIdentifier: roomArn, userId: name, capabilities: ['SEND_MESSAGE'] }),
    });
    members.push(m);
    await m.connect();
    return m;
  }

  it('a late member is replayed the last N messages as first delivered, oldest first, then live ones', { timeout: TEST_TIMEOUT_MS }, async () => {
    const roomArn = await createRoom(client, { name: 'replay', tags: { 'ivschatd:history': '10', 'ivschatd:replay': '2' } });
    const alice = await connected('alice', roomArn);
    const sent = [];
    for (const text of ['one', 'two', 'three']) {
      sent.push(await alice.room.sendMessage(new SendMessageRequest(text, { topic: text })));
    }
    const bob = await connected('bob', roomArn);
    await alice.room.sendMessage(new SendMessageRequest('four'));
    await bob.waitFor('message', (m) => m.content === 'four');
    assert.deepEqual(bob.events.message.map((m) => m.content), ['two', 'three', 'four']);
    for (const [i, m] of bob.events.message.slice(0, 2).entries()) {
      const first = sent[i + 1];
      assert.equal(m.id, first.id);
      assert.equal(m.sendTime.getTime(), first.sendTime.getTime());
      assert.equal(m.sender.userId, 'alice');
      assert.deepEqual(m.attributes, first.attributes);
    }

    const { messages, nextToken } = await ext('ListRoomMessages', { roomIdentifier: roomArn, maxResults: 3 });
    assert.deepEqual(messages.map((m) => m.Content), ['four', 'three', 'two']);
    assert.equal(messages[1].Id, sent[2].id);
    assert.ok(nextToken);
    const rest = await ext('ListRoomMessages', { roomIdentifier: roomArn, nextToken });
    assert.deepEqual(rest.messages.map((m) => m.Content), ['one']);
    assert.equal(rest.nextToken, undefined);
  });

  it('ListRoomMessages of a room without history is empty; bad input names the field', { timeout: TEST_TIMEOUT_MS }, async () => {
    const roomArn = await createRoom(client, { name: 'no-history' });
    assert.deepEqual(await ext('ListRoomMessages', { roomIdentifier: roomArn }), { messages: [] });
    await assert.rejects(ext('ListRoomMessages', { roomIdentifier: roomArn, maxResults: 101 }),
      (err) => err.status === 400 && err.code === 'ValidationException' && /maxResults/.test(err.message));
    await assert.rejects(ext('ListRoomMessages', { roomIdentifier: roomArn, nextToken: 'forged' }),
      (err) => err.status === 400 && err.code === 'ValidationException' && /nextToken/.test(err.message));
  });
});

describe('presence', () => {
  let server;
  let client;
  const members = [];
  const ext = (operation, input) => checkedExtension(server.url, devCredentials(), operation, input);

  before(async () => {
    server = await startServer();
    client = makeIvschatClient(server);
  });
  after(async () => {
    for (const m of members) m.disconnect();
    await server?.stop();
  });

  async function connected(name, roomArn, attributes) {
    const m = new RoomRecorder(ChatRoom, {
      name,
      wsUrl: server.wsUrl,
      tokenProvider: tokenProvider(client, { roomIdentifier: roomArn, userId: name, attributes }),
    });
    members.push(m);
    await m.connect();
    return m;
  }

  /** Polls ListRoomUsers (every page) until its users are `want` ("id×n …"). */
  async function awaitUsers(roomArn, want, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const users = [];
      let nextToken;
      do {
        const page = await ext('ListRoomUsers', { roomIdentifier: roomArn, maxResults: 1, ...(nextToken ? { nextToken } : {}) });
        users.push(...page.users);
        nextToken = page.nextToken;
      } while (nextToken);
      const got = users.map((u) => `${u.userId}×${u.connectionCount}`).join(' ');
      if (got === want) return users;
      if (Date.now() > deadline) assert.fail(`ListRoomUsers: ${got}, want ${want}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('ListRoomUsers lists the SDK members by userId, with attributes, counts and totals', { timeout: TEST_TIMEOUT_MS }, async () => {
    const roomArn = await createRoom(client, { name: 'presence-list' });
    const empty = await ext('ListRoomUsers', { roomIdentifier: roomArn });
    assert.deepEqual(empty, { users: [], userCount: 0, connectionCount: 0 });
    const before = Date.now();
    await connected('zoe', roomArn, { color: 'green' });
    await connected('adam', roomArn);
    const second = await connected('zoe', roomArn, { color: 'blue' });
    const users = await awaitUsers(roomArn, 'adam×1 zoe×2');
    assert.deepEqual(users[1].attributes, { color: 'green' }, "the earliest connection's attributes");
    assert.deepEqual(users[0].attributes, {});
    const at = Date.parse(users[1].connectedAt);
    assert.ok(at >= before - 1000 && at <= Date.now() + 1000, `connectedAt ${users[1].connectedAt}`);
    const page = await ext('ListRoomUsers', { roomIdentifier: roomArn, maxResults: 1 });
    assert.equal(page.userCount, 2);
    assert.equal(page.connectionCount, 3);
    assert.ok(page.nextToken);

    second.disconnect();
    await awaitUsers(roomArn, 'adam×1 zoe×1');
  });

  it('ivschatd:join and ivschatd:leave reach the other members as SDK events, once per user', { timeout: TEST_TIMEOUT_MS }, async () => {
    const roomArn = await createRoom(client, { name: 'presence-events', tags: { 'ivschatd:presence-events': 'true' } });
    const viewer = await connected('viewer', roomArn);
    const zed1 = await connected('zed', roomArn);
    const join = await viewer.waitFor('event', (e) => e.eventName === 'ivschatd:join');
    assert.deepEqual(join.attributes, { userId: 'zed' });
    assert.match(join.id, /^[A-Za-z0-9]{12}$/);
    assert.ok(join.sendTime instanceof Date && !Number.isNaN(join.sendTime.getTime()));
    const zed2 = await connected('zed', roomArn);
    zed1.disconnect();
    zed2.disconnect();
    const leave = await viewer.waitFor('event', (e) => e.eventName === 'ivschatd:leave');
    assert.deepEqual(leave.attributes, { userId: 'zed' });
    const presence = viewer.events.event.filter((e) => e.eventName.startsWith('ivschatd:')).map((e) => `${e.eventName}:${e.attributes.userId}`);
    assert.deepEqual(presence, ['ivschatd:join:zed', 'ivschatd:leave:zed'], 'one join and one leave for two connections');
    assert.equal(zed1.events.event.filter((e) => e.eventName === 'ivschatd:join').length, 0, 'a user does not hear its own join');
    assert.deepEqual(viewer.errorLogs(), [], 'the SDK parsed every frame');
  });

  it('ListRoomUsers refuses bad input naming the field', { timeout: TEST_TIMEOUT_MS }, async () => {
    const roomArn = await createRoom(client, { name: 'presence-input' });
    for (const [input, field] of [
      [{ roomIdentifier: 'room' }, 'roomIdentifier'],
      [{ roomIdentifier: roomArn, maxResults: 0 }, 'maxResults'],
      [{ roomIdentifier: roomArn, maxResults: 51 }, 'maxResults'],
      [{ roomIdentifier: roomArn, nextToken: 'forged' }, 'nextToken'],
    ]) {
      await assert.rejects(ext('ListRoomUsers', input),
        (err) => err.status === 400 && err.code === 'ValidationException' && err.message.includes(field));
    }
    await assert.rejects(ext('ListRoomUsers', { roomIdentifier: roomArn.replace(/\/.*$/, '/AAAAAAAAAAAA') }),
      (err) => err.status === 404 && err.code === 'ResourceNotFoundException');
  });
});
