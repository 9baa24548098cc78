// TLS with real clients: ivschatd with --tls-cert/--tls-key signed by a test CA made here
// (test/testca), @aws-sdk/client-ivschat over https, and the official messaging SDK over wss
// in Node and in headless chromium. Node's clients trust the CA through an https.Agent and a
// `ws` option; chromium through --ignore-certificate-errors-spki-list with the pair's key hash.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { ChatRoom, SendMessageRequest } from 'amazon-ivs-chat-messaging';

import { REPO_ROOT, makeIvschatClient, startServer } from './lib/server.js';
import { IMPORT_MAP, launchChromium, servePage } from './lib/browser.js';
import { RecordingWebSocket, createRoom, mintToken, tokenProvider } from './lib/messaging.js';

const TIMEOUT_MS = 120_000;

/** Makes the test CA and a server pair for loopback names with the Go helper. */
async function makeCA(dir) {
  const { stdout } = await promisify(execFile)('go', ['run', './test/testca/cmd/testca', '-dir', dir], { cwd: REPO_ROOT, timeout: 110_000 });
  return JSON.parse(stdout);
}

describe('TLS: HTTPS and WSS with the official SDKs', { timeout: TIMEOUT_MS }, () => {
  let dir;
  let pki;
  let ca;
  let server;
  let client;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ivschatd-tls-'));
    pki = await makeCA(dir);
    ca = readFileSync(pki.ca);
    server = await startServer({ args: ['--tls-cert', pki.cert, '--tls-key', pki.key], ca });
    assert.match(server.url, /^https:\/\//);
    client = makeIvschatClient(server, { requestHandler: { httpsAgent: new https.Agent({ ca }) } });
  });

  after(async () => {
    if (server) await server.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('@aws-sdk/client-ivschat creates a room and mints a token over https', async () => {
    const roomArn = await createRoom(client);
    const token = await mintToken(client, { roomIdentifier: roomArn, userId: 'alice', capabilities: ['SEND_MESSAGE'] });
    assert.ok(token.token.length > 20);
  });

  it('the messaging SDK in Node sends and receives over wss', async () => {
    // The SDK opens `new WebSocket(url, token)`: the global one here trusts the test CA.
    const previous = globalThis.WebSocket;
    globalThis.WebSocket = class extends RecordingWebSocket {
      constructor(url, protocols) {
        super(url, protocols, { ca });
      }
    };
    const roomArn = await createRoom(client);
    const chat = new ChatRoom({ regionOrUrl: server.wsUrl, tokenProvider: tokenProvider(client, { roomIdentifier: roomArn, userId: 'node', capabilities: ['SEND_MESSAGE'] }) });
    try {
      const received = new Promise((resolve) => chat.addListener('message', resolve));
      await new Promise((resolve, reject) => {
        chat.addListener('connect', resolve);
        chat.addListener('disconnect', (reason) => reject(new Error(`disconnected: ${JSON.stringify(reason)}`)));
        chat.connect();
      });
      assert.match(server.wsUrl, /^wss:\/\//);
      await chat.sendMessage(new SendMessageRequest('hello over wss'));
      assert.equal((await received).content, 'hello over wss');
    } finally {
      chat.disconnect();
      globalThis.WebSocket = previous;
    }
  });

  it('the messaging SDK in chromium sends and receives over wss', async () => {
    const roomArn = await createRoom(client);
    const page = await servePage(`<!doctype html><html><head><meta charset="utf-8">
<script type="importmap">${JSON.stringify(IMPORT_MAP)}</script></head><body>
<script type="module">
  import { ChatRoom, SendMessageRequest } from 'amazon-ivs-chat-messaging';
  const ws = new URLSearchParams(location.search).get('ws');
  const room = new ChatRoom({ regionOrUrl: ws, tokenProvider: () => window.ivschatdToken() });
  window.result = new Promise((resolve, reject) => {
    room.addListener('message', (m) => resolve(m.content));
    room.addListener('disconnect', (r) => reject(new Error('disconnected: ' + JSON.stringify(r))));
    room.addListener('connect', () => room.sendMessage(new SendMessageRequest('hello from chromium')).catch(reject));
  });
  room.connect();
</script></body></html>`);
    const browser = await launchChromium([`--ignore-certificate-errors-spki-list=${pki.spki}`]);
    try {
      const tab = await (await browser.newContext()).newPage();
      await tab.exposeFunction('ivschatdToken', async () => {
        const t = await mintToken(client, { roomIdentifier: roomArn, userId: 'browser', capabilities: ['SEND_MESSAGE'] });
        return { token: t.token, sessionExpirationTime: t.sessionExpirationTime.toISOString(), tokenExpirationTime: t.tokenExpirationTime.toISOString() };
      });
      await tab.goto(`${page.url}?${new URLSearchParams({ ws: server.wsUrl })}`);
      assert.equal(await tab.evaluate(() => window.result), 'hello from chromium');
    } finally {
      await browser.close();
      await page.close();
    }
  });
});
