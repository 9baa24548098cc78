// The official amazon-ivs-chat-messaging SDK, unchanged, in Debian's headless chromium
// (driven by playwright-core), loaded as ES modules through an import map, chatting
// through ivschatd. The point: a real browser's WebSocket accepts the server's handshake
// (the token offered as the subprotocol must be echoed, spec §5.1 and §10.11).
//
// Tokens are minted in Node with @aws-sdk/client-ivschat and handed to the page through
// an exposed function: nothing in the browser signs AWS requests.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';

import { WebSocketServer } from 'ws';

import { makeIvschatClient, startServer } from './lib/server.js';
import { CHROMIUM_PATH, IMPORT_MAP, launchChromium, servePage } from './lib/browser.js';
import { createRoom, mintToken } from './lib/messaging.js';

const TEST_TIMEOUT_MS = 40_000;
const ID_RE = /^[A-Za-z0-9]{12}$/;

/**
 * The test page: records the sockets it opens, and drives one ChatRoom for the test.
 * The messaging URL comes from the page's query (?ws=...).
 */
function chatPage() {
  return `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>ivschatd browser test</title>
<script type="importmap">${JSON.stringify(IMPORT_MAP)}</script>
<script>
  // Note every WebSocket the SDK makes: the subprotocol the server selected, how it closed.
  window.sockets = [];
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class RecordingWebSocket extends NativeWebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      const record = { url: String(url), offered: protocols, protocol: null, opened: false, closeCode: null };
      window.sockets.push(record);
      this.addEventListener('open', () => { record.opened = true; record.protocol = this.protocol; });
      this.addEventListener('close', (e) => { record.closeCode = e.code; });
    }
  };
</script>
</head>
<body>
<script type="module">
  import { ChatRoom, SendMessageRequest, DeleteMessageRequest } from 'amazon-ivs-chat-messaging';

  // SDK objects carry Date values; hand them to the test as JSON (Dates as ISO strings).
  const plain = (value) => JSON.parse(JSON.stringify(value));
  const events = { connecting: 0, connect: 0, disconnect: [], message: [], messageDelete: [], event: [] };
  const logs = [];

  // The token comes from the test (minted in Node): {token, sessionExpirationTime, tokenExpirationTime}.
  const wsUrl = new URLSearchParams(location.search).get('ws');
  const room = new ChatRoom({ regionOrUrl: wsUrl, tokenProvider: () => window.ivschatdToken() });
  const log = (level) => (message, ...args) => {
    logs.push(level + ' ' + message + ' ' + args.map((a) => { try { return JSON.stringify(a); } catch { return String(a); } }).join(' '));
  };
  room.logger = { debug: log('debug'), info: log('info'), error: log('error') };
  room.logLevel = 'info';
  room.addListener('connecting', () => { events.connecting += 1; });
  room.addListener('connect', () => { events.connect += 1; });
  room.addListener('disconnect', (reason) => { events.disconnect.push(reason); });
  room.addListener('message', (m) => { events.message.push(plain(m)); });
  room.addListener('messageDelete', (e) => { events.messageDelete.push(plain(e)); });
  room.addListener('event', (e) => { events.event.push(plain(e)); });

  const settle = (promise) => promise.then((value) => ({ value: plain(value) }), (error) => ({ error: plain(error) }));

  window.chat = {
    events,
    logs,
    state: () => room.state,
    connect: () => new Promise((resolve) => {
      const offConnect = room.addListener('connect', () => { offConnect(); offDisconnect(); resolve({ state: room.state }); });
      const offDisconnect = room.addListener('disconnect', (reason) => { offConnect(); offDisconnect(); resolve({ state: room.state, reason }); });
      room.connect();
    }),
    send: (content, attributes) => settle(room.sendMessage(new SendMessageRequest(content, attributes))),
    deleteMessage: (id, reason) => settle(room.deleteMessage(new DeleteMessageRequest(id, reason))),
    disconnect: () => { room.disconnect(); return room.state; },
    secure: window.isSecureContext,
  };
  window.chatReady = true;
</script>
</body>
</html>
`;
}

describe('browser: the messaging SDK in chromium through an import map', () => {
  let server;
  let client;
  let pageServer;
  let browser;
  const contexts = [];

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM_PATH),
      `${CHROMIUM_PATH} is missing: install Debian's chromium (scripts/test does), or set IVSCHATD_CHROMIUM`,
    );
    server = await startServer();
    client = makeIvschatClient(server);
    pageServer = await servePage(chatPage());
    browser = await launchChromium();
  });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    if (browser) await browser.close().catch(() => {});
    if (pageServer) await pageServer.close();
    if (server) await server.stop();
  });

  /**
   * A page in its own browser context, loaded and ready, whose token provider asks the test
   * for a token of `userId` with `capabilities` (minted here in Node).
   */
  async function openPage(name, { roomArn, userId, capabilities, attributes, wsUrl = server.wsUrl, mint }) {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    const record = { name, page, tokens: [], console: [], pageErrors: [], framesReceived: [], framesSent: [] };
    page.on('console', (msg) => record.console.push(`${msg.type()}: ${msg.text()}`));
    page.on('pageerror', (err) => record.pageErrors.push(String(err)));
    page.on('websocket', (ws) => {
      ws.on('framereceived', (f) => record.framesReceived.push(f.payload));
      ws.on('framesent', (f) => record.framesSent.push(f.payload));
    });
    await page.exposeFunction('ivschatdToken', async () => {
      const out = mint ? mint() : await mintToken(client, { roomIdentifier: roomArn, userId, capabilities, attributes });
      record.tokens.push(out.token);
      return {
        token: out.token,
        sessionExpirationTime: out.sessionExpirationTime.toISOString(),
        tokenExpirationTime: out.tokenExpirationTime.toISOString(),
      };
    });
    await page.goto(`${pageServer.url}?${new URLSearchParams({ ws: wsUrl })}`);
    try {
      await page.waitForFunction(() => window.chatReady === true, null, { timeout: 10_000 });
    } catch (err) {
      throw new Error(`${name}: the SDK did not load: ${err.message}\n${describePage(record)}`);
    }
    return record;
  }

  function describePage(p) {
    return [
      `page ${p.name}:`,
      `  page errors: ${JSON.stringify(p.pageErrors)}`,
      `  console: ${p.console.slice(-10).join('\n    ')}`,
      `  frames received: ${p.framesReceived.slice(-5).join('\n    ')}`,
      `  served: ${pageServer.requests.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.path}`).join(', ') || 'all 200'}`,
    ].join('\n');
  }

  async function chatLogs(p) {
    return p.page.evaluate(() => window.chat.logs.filter((l) => l.startsWith('error')).slice(-10)).catch(() => []);
  }

  it('two pages chat: A sends, B receives, B deletes, A sees messageDelete', { timeout: TEST_TIMEOUT_MS }, async () => {
    const roomArn = await createRoom(client, { name: 'browser' });
    const a = await openPage('A', {
      roomArn,
      userId: 'alice',
      capabilities: ['SEND_MESSAGE'],
      attributes: { displayName: 'Alice', avatar: '🦊' },
    });
    const b = await openPage('B', { roomArn, userId: 'bob', capabilities: ['DELETE_MESSAGE'] });
    const fail = async (message) => {
      const details = [];
      for (const p of [a, b]) details.push(`${describePage(p)}\n  SDK errors: ${(await chatLogs(p)).join('\n    ')}`);
      assert.fail(`${message}\n${details.join('\n')}`);
    };

    // The module graph came from the page server: the SDK's ESM files and uuid's browser build.
    const served = pageServer.requests.filter((r) => r.status === 200).map((r) => r.path);
    assert.ok(served.includes(IMPORT_MAP.imports['amazon-ivs-chat-messaging']));
    assert.ok(served.includes('/node_modules/amazon-ivs-chat-messaging/dist/esm/ChatConnection.js'));
    assert.ok(served.includes(IMPORT_MAP.imports.uuid));
    assert.equal(await a.page.evaluate(() => window.chat.secure), true, 'http://127.0.0.1 is a secure context');

    for (const p of [a, b]) {
      const result = await p.page.evaluate(() => window.chat.connect());
      if (result.state !== 'connected') await fail(`${p.name} did not connect: ${JSON.stringify(result)}`);
      // The browser accepted the handshake: the selected subprotocol is the token it offered.
      const sockets = await p.page.evaluate(() => window.sockets);
      assert.equal(sockets.length, 1, `${p.name}: one socket`);
      assert.equal(p.tokens.length, 1, `${p.name}: one token`);
      assert.equal(sockets[0].url.replace(/\/$/, ''), server.wsUrl);
      assert.equal(sockets[0].offered, p.tokens[0]);
      assert.equal(sockets[0].opened, true);
      assert.equal(sockets[0].protocol, p.tokens[0], `${p.name}: the server echoed the token as the subprotocol`);
    }

    const sendTimeFloor = Date.now();
    const sent = await a.page.evaluate(() => window.chat.send('hello from chromium 👋', { kind: 'greeting' }));
    if (!sent.value) await fail(`A's sendMessage did not resolve: ${JSON.stringify(sent)}`);
    const message = sent.value;
    assert.match(message.id, ID_RE);
    assert.equal(message.content, 'hello from chromium 👋');
    assert.deepEqual(message.attributes, { kind: 'greeting' });
    assert.equal(message.sender.userId, 'alice');
    assert.deepEqual(message.sender.attributes, { displayName: 'Alice', avatar: '🦊' });
    assert.equal(typeof message.requestId, 'string');
    const sendTime = Date.parse(message.sendTime);
    assert.ok(sendTime >= sendTimeFloor - 2000 && sendTime <= Date.now() + 2000, `sendTime ${message.sendTime}`);

    try {
      await b.page.waitForFunction((id) => window.chat.events.message.some((m) => m.id === id), message.id, { timeout: 5000 });
    } catch {
      await fail("B did not receive A's message");
    }
    const atB = await b.page.evaluate((id) => window.chat.events.message.find((m) => m.id === id), message.id);
    assert.deepEqual(atB, message, 'B gets the same message, RequestId included');

    // The MESSAGE frame as chromium received it (spec §5.4 order and shapes).
    const frame = b.framesReceived.map((f) => JSON.parse(f)).find((f) => f.Id === message.id);
    assert.deepEqual(Object.keys(frame), ['Type', 'Id', 'RequestId', 'Attributes', 'Content', 'SendTime', 'Sender']);
    assert.equal(frame.Type, 'MESSAGE');
    assert.equal(frame.RequestId, message.requestId);
    const requestFrame = JSON.parse(a.framesSent.find((f) => f.includes(message.requestId)));
    assert.equal(requestFrame.Action, 'SEND_MESSAGE');

    // A without DELETE_MESSAGE is refused (ERROR 403 rejects its promise in the page).
    const refused = await a.page.evaluate((id) => window.chat.deleteMessage(id, 'mine'), message.id);
    assert.equal(refused.error && refused.error.errorCode, 403, JSON.stringify(refused));

    const deleted = await b.page.evaluate((id) => window.chat.deleteMessage(id, 'moderated'), message.id);
    if (!deleted.value) await fail(`B's deleteMessage did not resolve: ${JSON.stringify(deleted)}`);
    assert.equal(deleted.value.messageId, message.id);
    assert.equal(deleted.value.reason, 'moderated');
    assert.match(deleted.value.id, ID_RE);

    try {
      await a.page.waitForFunction((id) => window.chat.events.messageDelete.some((e) => e.messageId === id), message.id, {
        timeout: 5000,
      });
    } catch {
      await fail('A did not see messageDelete');
    }
    const atA = await a.page.evaluate((id) => window.chat.events.messageDelete.find((e) => e.messageId === id), message.id);
    assert.equal(atA.id, deleted.value.id);
    assert.equal(atA.reason, 'moderated');

    for (const p of [a, b]) {
      const events = await p.page.evaluate(() => ({ ...window.chat.events, state: window.chat.state() }));
      assert.equal(events.state, 'connected');
      assert.equal(events.connecting, 1, `${p.name} connected once`);
      assert.deepEqual(events.disconnect, []);
      assert.deepEqual(p.pageErrors, []);
      assert.equal(p.tokens.length, 1, `${p.name} asked for no second token`);
    }

    for (const p of [a, b]) assert.equal(await p.page.evaluate(() => window.chat.disconnect()), 'disconnected');
    const reasons = await a.page.evaluate(() => window.chat.events.disconnect);
    assert.deepEqual(reasons, ['clientDisconnect']);
  });
  it('control: chromium fails a handshake whose response does not echo the token', { timeout: TEST_TIMEOUT_MS }, async () => {
    // A stub WebSocket server on loopback, first without choosing a subprotocol, then
    // echoing it: the SDK connects only in the second case, so the test above, which
    // connected to ivschatd, did depend on the echo.
    for (const echo of [false, true]) {
      const handshakes = [];
      const stub = new WebSocketServer({
        host: '127.0.0.1',
        port: 0,
        handleProtocols: (protocols) => {
          handshakes.push([...protocols]);
          return echo ? [...protocols][0] : false;
        },
      });
      await new Promise((resolve) => stub.once('listening', resolve));
      try {
        const stubUrl = `ws://127.0.0.1:${stub.address().port}`;
        let n = 0;
        const p = await openPage(echo ? 'stub-echo' : 'stub-no-echo', {
          wsUrl: stubUrl,
          mint: () => {
            n += 1;
            const inAMinute = new Date(Date.now() + 60_000);
            return { token: `stub-token-${n}`, sessionExpirationTime: inAMinute, tokenExpirationTime: inAMinute };
          },
        });
        const result = await p.page.evaluate(() => window.chat.connect());
        const sockets = await p.page.evaluate(() => window.sockets);
        if (echo) {
          assert.equal(result.state, 'connected', JSON.stringify(result));
          assert.equal(sockets[0].protocol, 'stub-token-1');
          await p.page.evaluate(() => window.chat.disconnect());
        } else {
          assert.deepEqual(result, { state: 'disconnected', reason: 'socketError' });
          assert.ok(sockets.every((x) => !x.opened));
          // Each attempt reached the server with a new token: the browser refused the answer.
          assert.deepEqual(handshakes, [['stub-token-1'], ['stub-token-2'], ['stub-token-3'], ['stub-token-4']]);
        }
      } finally {
        for (const c of stub.clients) c.terminate();
        await new Promise((resolve) => stub.close(resolve));
      }
    }
  });
});
