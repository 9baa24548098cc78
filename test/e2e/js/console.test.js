// The web console and the demo chat of the admin listener, in Debian's headless chromium driven
// by playwright-core: a room created in the console, tokens minted there, two demo tabs that
// chat with each other and with a member on the official messaging SDK (in Node), the console's
// live feed, moderation seen in both tabs; and the sign-in, which refuses wrong keys and a
// forged cross-site POST. Screenshots go to $IVSCHATD_SCREENSHOTS or a temp dir.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

import { makeIvschatClient, roomArn, startServer } from './lib/server.js';
import { CHROMIUM_PATH, servePage } from './lib/browser.js';
import { RoomRecorder, installWebSocket, tokenProvider } from './lib/messaging.js';

const TEST_TIMEOUT_MS = 120_000;
// Generous: the machine may be loaded; every wait is for a state, not a time.
const WAIT = { timeout: 20_000 };

const SHOTS = process.env.IVSCHATD_SCREENSHOTS || mkdtempSync(path.join(os.tmpdir(), 'ivschatd-console-shots-'));
mkdirSync(SHOTS, { recursive: true });
const shot = async (page, name) => {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
};

/** The console's URL, from the line ivschatd prints for it. */
function consoleUrl(server) {
  const m = /web console at (https?:\/\/\S+?)\/?\s/.exec(server.logs());
  assert.ok(m, `ivschatd printed no "web console at" line:\n${server.logs()}`);
  return m[1];
}

/** Chromium with a fresh profile of its own, deleted afterwards. */
async function browserContext() {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'ivschatd-console-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return { context, close: async () => { await context.close(); rmSync(profile, { recursive: true, force: true }); } };
}

/** Fails the test on any error a page logs or throws. */
function watchErrors(page, errors) {
  page.on('pageerror', (err) => errors.push(`${page.url()}: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`${page.url()}: ${msg.text()}`);
  });
}

/** Opens the token card's "Open demo chat" for a user; resolves with the demo tab. */
async function openDemoTab(context, consolePage, userId) {
  const card = consolePage.getByRole('region', { name: 'Chat token' });
  await card.getByLabel('User id').fill(userId);
  await card.getByRole('button', { name: 'Create chat token' }).click();
  await card.getByText(`Token for ${userId}`).waitFor(WAIT);
  const [tab] = await Promise.all([context.waitForEvent('page'), card.getByRole('link', { name: 'Open demo chat' }).click()]);
  await tab.waitForLoadState();
  await tab.locator('#status[data-state="open"]').waitFor(WAIT);
  return tab;
}

async function say(tab, text) {
  await tab.getByRole('textbox', { name: 'Message' }).fill(text);
  await tab.getByRole('button', { name: 'Send' }).click();
}

const messageIn = (tab, text) => tab.locator('#messages li.msg', { hasText: text });

describe('web console and demo chat (chromium)', { skip: !existsSync(CHROMIUM_PATH) && `no chromium at ${CHROMIUM_PATH}` }, () => {
  let server;
  let browser;
  const errors = [];

  before(async () => {
    server = await startServer({ args: ['--admin-addr', '127.0.0.1:0'] });
    browser = await browserContext();
  });
  after(async () => {
    if (browser) await browser.close();
    if (server) await server.stop();
  });

  it('creates a room, mints tokens, and two demo tabs chat with each other and an SDK member while the console watches; Delete message and Disconnect reach both tabs', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context } = browser;
    const page = await context.newPage();
    watchErrors(page, errors);
    await page.goto(consoleUrl(server));

    // Loopback with the development credentials: no sign-in, an empty account says what to do.
    await page.getByRole('heading', { name: /Rooms/ }).waitFor(WAIT);
    await page.getByText('No rooms yet').waitFor(WAIT);
    await page.getByRole('heading', { name: /Rooms/ }).getByText('live').waitFor(WAIT);
    await shot(page, '01-console-empty');

    await page.getByRole('button', { name: 'Create room' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name').fill('launch-party');
    await dialog.getByLabel('Maximum message rate per second').fill('20');
    await dialog.getByLabel('ivschatd:user-rate').fill('5/1');
    await dialog.getByLabel('Tags').fill('team=video');
    await dialog.getByRole('button', { name: 'Create room' }).click();
    await page.getByRole('heading', { name: 'launch-party' }).waitFor(WAIT);
    const roomId = /#\/rooms\/([A-Za-z0-9]{12})$/.exec(page.url())[1];

    // The room is the API's: the official control-plane SDK reads what the console made.
    const client = makeIvschatClient(server);
    const { GetRoomCommand } = await import('@aws-sdk/client-ivschat');
    const got = await client.send(new GetRoomCommand({ identifier: roomArn(roomId) }));
    assert.equal(got.name, 'launch-party');
    assert.equal(got.maximumMessageRatePerSecond, 20);
    assert.deepEqual(got.tags, { team: 'video', 'ivschatd:user-rate': '5/1' });

    const alice = await openDemoTab(context, page, 'alice');
    const bob = await openDemoTab(context, page, 'bob');
    watchErrors(alice, errors);
    watchErrors(bob, errors);

    // A member on the official messaging SDK, in Node, in the same room.
    installWebSocket();
    const { ChatRoom, SendMessageRequest } = await import('amazon-ivs-chat-messaging');
    const carol = new RoomRecorder(ChatRoom, {
      name: 'carol', wsUrl: server.wsUrl,
      tokenProvider: tokenProvider(client, { roomIdentifier: got.arn, userId: 'carol', capabilities: ['SEND_MESSAGE'] }),
    });
    await carol.connect(20_000);

    await say(alice, 'hello from alice');
    await messageIn(bob, 'hello from alice').waitFor(WAIT);
    await messageIn(alice, 'hello from alice').waitFor(WAIT);
    const seenByCarol = await carol.waitFor('message', (m) => m.content === 'hello from alice', 20_000);
    assert.equal(seenByCarol.sender.userId, 'alice');
    await say(bob, 'hi alice, bob here');
    await messageIn(alice, 'hi alice, bob here').waitFor(WAIT);
    await carol.room.sendMessage(new SendMessageRequest('carol from the SDK'));
    await messageIn(alice, 'carol from the SDK').waitFor(WAIT);
    await messageIn(bob, 'carol from the SDK').waitFor(WAIT);
    assert.equal(await messageIn(bob, 'hello from alice').locator('.sender').textContent(), 'alice');
    assert.match(await messageIn(bob, 'hello from alice').locator('time').textContent(), /\d/);

    // The console saw every message as it happened, and who is connected.
    await page.bringToFront();
    const feed = page.getByRole('region', { name: 'Messages and events' });
    for (const text of ['hello from alice', 'hi alice, bob here', 'carol from the SDK']) {
      await feed.locator('li.message', { hasText: text }).waitFor(WAIT);
    }
    const connected = page.getByRole('region', { name: 'Connected now' });
    for (const user of ['alice', 'bob', 'carol']) await connected.locator(`li[data-user="${user}"]`).waitFor(WAIT);
    await shot(page, '02-console-room');
    await shot(alice, '03-demo-alice');

    // Delete message: gone from both tabs and from the SDK member's view.
    await feed.locator('li.message', { hasText: 'hello from alice' }).getByRole('button', { name: 'Delete message' }).click();
    await dialog.getByLabel('Reason').fill('off topic');
    await dialog.getByRole('button', { name: 'Delete message' }).click();
    for (const tab of [alice, bob]) {
      await messageIn(tab, 'hello from alice').waitFor({ state: 'detached', ...WAIT });
      await tab.getByText('A message was deleted: off topic').waitFor(WAIT);
      assert.equal(await messageIn(tab, 'hi alice, bob here').count(), 1, 'the other messages stay');
    }
    await carol.waitFor('messageDelete', (d) => d.reason === 'off topic', 20_000);
    await feed.locator('li.message.deleted', { hasText: 'hello from alice' }).waitFor(WAIT);

    // Disconnect (with a reason): bob's tab ends, the others are told.
    await connected.locator('li[data-user="bob"]').getByRole('button', { name: 'Disconnect' }).click();
    await dialog.getByLabel('Reason').fill('cool down');
    await dialog.getByRole('button', { name: 'Disconnect' }).click();
    await bob.locator('#status[data-state="closed"]').waitFor(WAIT);
    await bob.getByText('You were disconnected by a moderator: cool down').waitFor(WAIT);
    await bob.getByRole('button', { name: 'Reconnect' }).waitFor(WAIT);
    await alice.getByText('bob was disconnected by a moderator: cool down').waitFor(WAIT);
    await connected.locator('li[data-user="bob"]').waitFor({ state: 'detached', ...WAIT });
    await shot(bob, '04-demo-bob-disconnected');

    // A given token is single use: the tab asks for a new one rather than retrying it.
    await bob.getByRole('button', { name: 'Reconnect' }).click();
    await bob.getByLabel('Chat token').waitFor(WAIT);

    // Send event reaches the tabs.
    const events = page.getByRole('region', { name: 'Send event' });
    await events.getByLabel('Event name').fill('app:announcement');
    await events.getByLabel('Attributes').fill('text=starting soon');
    await events.getByRole('button', { name: 'Send event' }).click();
    await alice.getByText('Event app:announcement (text=starting soon)').waitFor(WAIT);
    await feed.getByText('Event app:announcement (text=starting soon)').waitFor(WAIT);

    // Open demo chat from the room's header: the tab mints its own token through the console.
    const [viewer] = await Promise.all([context.waitForEvent('page'),
      page.locator('.page-head').getByRole('link', { name: 'Open demo chat' }).click()]);
    watchErrors(viewer, errors);
    await viewer.locator('#status[data-state="open"]').waitFor(WAIT);
    assert.match(await viewer.locator('#status').textContent(), /^connected as viewer-/);
    await say(alice, 'welcome, viewer');
    await messageIn(viewer, 'welcome, viewer').waitFor(WAIT);

    // Ban the viewer: its tab is disconnected, and its reconnect is refused a token.
    await connected.locator('li[data-user^="viewer-"]').getByRole('button', { name: 'Ban' }).click();
    await dialog.getByLabel('Duration in seconds').fill('600');
    await dialog.getByLabel('Reason').fill('spamming links');
    await dialog.getByRole('button', { name: 'Ban' }).click();
    await viewer.locator('#status[data-state="closed"]').waitFor(WAIT);
    await viewer.getByText('You were disconnected by a moderator: spamming links').waitFor(WAIT);
    const bans = page.getByRole('region', { name: 'Bans' });
    await bans.locator('li[data-user^="viewer-"]', { hasText: 'spamming links' }).waitFor(WAIT);
    await viewer.getByRole('button', { name: 'Reconnect' }).click();
    await viewer.getByText(/Could not get a chat token: .*banned/).waitFor(WAIT);
    await shot(viewer, '05-demo-banned');
    await shot(page, '05-console-room-bans');

    // The room list shows the room live, with its connections and this minute's messages.
    await page.getByRole('link', { name: 'Rooms' }).first().click();
    const row = page.locator(`tr[data-id="${roomId}"]`);
    await row.waitFor(WAIT);
    await page.getByRole('searchbox', { name: 'Search rooms' }).fill('team=video');
    await row.waitFor(WAIT);
    await page.getByRole('searchbox', { name: 'Search rooms' }).fill('no-such-room');
    await page.getByText('No room matches').waitFor(WAIT);
    await page.getByRole('searchbox', { name: 'Search rooms' }).fill('');
    await shot(page, '05-console-rooms');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, '06-console-rooms-phone');
    await page.setViewportSize({ width: 1280, height: 800 });

    // Delete room: the room's page and the demo tab are told.
    await row.getByRole('link').click();
    await page.getByRole('button', { name: 'Delete room' }).click();
    await dialog.getByRole('button', { name: 'Delete room' }).click();
    await page.getByText('No rooms yet').waitFor(WAIT);
    await alice.locator('#status[data-state="closed"]').waitFor(WAIT);

    carol.disconnect();
    assert.deepEqual(errors.filter((e) => !/WebSocket|ERR_CONNECTION|status of 40[13]/.test(e)), []);
  });

  it('creates, edits and deletes a logging configuration; Edit room changes settings and tags and attaches it, and a configuration in use is not deleted', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context } = browser;
    const page = await context.newPage();
    watchErrors(page, errors);
    await page.goto(consoleUrl(server));
    const client = makeIvschatClient(server);
    const sdk = await import('@aws-sdk/client-ivschat');
    const dialog = page.getByRole('dialog');

    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Logging configurations' }).click();
    await page.getByText('No logging configurations').waitFor(WAIT);
    await page.getByRole('button', { name: 'Create logging configuration' }).click();
    await dialog.getByLabel('Name', { exact: true }).fill('archive');
    await dialog.getByLabel('Destination').selectOption('s3');
    await dialog.getByLabel('Bucket, log group or stream name').fill('chat-archive');
    await dialog.getByLabel('Tags').fill('team=video');
    await dialog.getByRole('button', { name: 'Create logging configuration' }).click();
    const row = page.locator('tr', { hasText: 'archive' });
    await row.getByText('S3 bucket chat-archive').waitFor(WAIT);
    await row.getByText('ACTIVE').waitFor(WAIT);
    const [config] = (await client.send(new sdk.ListLoggingConfigurationsCommand({}))).loggingConfigurations;
    assert.equal(config.name, 'archive');
    assert.deepEqual(config.destinationConfiguration, { s3: { bucketName: 'chat-archive' } });
    assert.deepEqual(config.tags, { team: 'video' });

    await row.getByRole('button', { name: 'Edit logging configuration' }).click();
    await dialog.getByLabel('Destination').selectOption('cloudWatchLogs');
    await dialog.getByLabel('Bucket, log group or stream name').fill('chat-log-group');
    await dialog.getByRole('button', { name: 'Save logging configuration' }).click();
    await row.getByText('CloudWatch Logs group chat-log-group').waitFor(WAIT);
    const edited = await client.send(new sdk.GetLoggingConfigurationCommand({ identifier: config.arn }));
    assert.deepEqual(edited.destinationConfiguration, { cloudWatchLogs: { logGroupName: 'chat-log-group' } });
    await shot(page, '08-console-logging');

    // Edit room: settings, an extension tag, plain tags and the logging configuration.
    const room = await client.send(new sdk.CreateRoomCommand({ name: 'edit-me', tags: { old: 'tag' } }));
    await page.goto(`${consoleUrl(server)}/#/rooms/${room.id}`);
    await page.getByRole('heading', { name: 'edit-me' }).waitFor(WAIT);
    await page.getByRole('button', { name: 'Edit room' }).click();
    await dialog.getByLabel('Name').fill('edited');
    await dialog.getByLabel('Maximum message length').fill('120');
    await dialog.getByLabel('archive').check();
    await dialog.getByLabel('ivschatd:user-rate').fill('2/10');
    await dialog.getByLabel('Tags').fill('team=video\nstage=main');
    await shot(page, '09-console-edit-room');
    await dialog.getByRole('button', { name: 'Save room' }).click();
    await page.getByRole('heading', { name: 'edited' }).waitFor(WAIT);
    const got = await client.send(new sdk.GetRoomCommand({ identifier: room.arn }));
    assert.equal(got.name, 'edited');
    assert.equal(got.maximumMessageLength, 120);
    assert.deepEqual(got.loggingConfigurationIdentifiers, [config.arn]);
    assert.deepEqual(got.tags, { team: 'video', stage: 'main', 'ivschatd:user-rate': '2/10' }, 'the removed tag is gone');

    // A bad extension tag value is the API's ValidationException, shown in the dialog.
    await page.getByRole('button', { name: 'Edit room' }).click();
    await dialog.getByLabel('ivschatd:user-rate').fill('fast');
    await dialog.getByRole('button', { name: 'Save room' }).click();
    await dialog.getByRole('alert').getByText(/ValidationException: .*ivschatd:user-rate/).waitFor(WAIT);
    await dialog.getByRole('button', { name: 'Cancel' }).click();

    // The configuration is in use: Delete is refused with the API's reason, then works once the
    // room drops it.
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Logging configurations' }).click();
    await row.getByRole('button', { name: 'Delete logging configuration' }).click();
    await dialog.getByRole('button', { name: 'Delete logging configuration' }).click();
    await dialog.getByRole('alert').getByText(/ConflictException/).waitFor(WAIT);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await client.send(new sdk.UpdateRoomCommand({ identifier: room.arn, loggingConfigurationIdentifiers: [] }));
    await row.getByRole('button', { name: 'Delete logging configuration' }).click();
    await dialog.getByRole('button', { name: 'Delete logging configuration' }).click();
    await page.getByText('No logging configurations').waitFor(WAIT);
    await client.send(new sdk.DeleteRoomCommand({ identifier: room.arn }));
    // The refusals above are answers the test asked for (400, 409), which the browser logs.
    assert.deepEqual(errors.filter((e) => !/WebSocket|ERR_CONNECTION|status of 40[0139]/.test(e)), []);
  });
  it('a room that keeps history (ivschatd:history) shows its kept messages first, oldest first, then live ones', { timeout: TEST_TIMEOUT_MS }, async () => {
    const client = makeIvschatClient(server);
    const { CreateRoomCommand } = await import('@aws-sdk/client-ivschat');
    const room = await client.send(new CreateRoomCommand({ name: 'with-history', tags: { 'ivschatd:history': '10' } }));
    installWebSocket();
    const { ChatRoom, SendMessageRequest } = await import('amazon-ivs-chat-messaging');
    const dave = new RoomRecorder(ChatRoom, {
      name: 'dave', wsUrl: server.wsUrl,
      tokenProvider: tokenProvider(client, { roomIdentifier: room.arn, userId: 'dave', capabilities: ['SEND_MESSAGE'] }),
    });
    await dave.connect(20_000);
    await dave.room.sendMessage(new SendMessageRequest('kept one'));
    await dave.room.sendMessage(new SendMessageRequest('kept two'));

    const page = await browser.context.newPage();
    watchErrors(page, errors);
    await page.goto(`${consoleUrl(server)}#/rooms/${room.id}`);
    const feed = page.getByRole('list', { name: 'Messages and events' });
    await feed.getByText('kept two').waitFor(WAIT);
    await dave.room.sendMessage(new SendMessageRequest('live three'));
    await feed.getByText('live three').waitFor(WAIT);
    const texts = await feed.locator('li.message .content').allTextContents();
    assert.deepEqual(texts, ['kept one', 'kept two', 'live three']);
    dave.disconnect();
    await page.close();
  });
});

describe('console sign-in (chromium)', { skip: !existsSync(CHROMIUM_PATH) && `no chromium at ${CHROMIUM_PATH}` }, () => {
  const KEY = 'AKIACONSOLETEST0001';
  const SECRET = 'console-test-secret-of-the-operator';
  let server;
  let browser;
  let evil;

  before(async () => {
    server = await startServer({ args: ['--admin-addr', '127.0.0.1:0'], env: { IVSCHATD_ACCESS_KEY_ID: KEY, IVSCHATD_SECRET_ACCESS_KEY: SECRET } });
    browser = await browserContext();
  });
  after(async () => {
    if (evil) await evil.close();
    if (browser) await browser.close();
    if (server) await server.stop();
  });

  it('refuses a wrong key, signs in with a configured one into an HttpOnly SameSite=Strict cookie, and refuses a forged cross-site POST', { timeout: TEST_TIMEOUT_MS }, async () => {
    const base = consoleUrl(server);
    const { context } = browser;
    const page = await context.newPage();
    await page.goto(base);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor(WAIT);
    await page.getByLabel('Access key id').fill(KEY);
    await page.getByLabel('Secret access key').fill('not-the-secret');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('the access key id or the secret access key is wrong').waitFor(WAIT);
    await shot(page, '07-sign-in-refused');
    assert.deepEqual(await context.cookies(base), [], 'no session for a wrong secret');

    await page.getByLabel('Secret access key').fill(SECRET);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('No rooms yet').waitFor(WAIT);
    const [cookie] = await context.cookies(base);
    assert.equal(cookie.name, 'ivschatd_console');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.ok(cookie.expires > Date.now() / 1000, 'the cookie has an expiry');
    assert.equal(await page.evaluate(() => document.cookie), '', 'scripts cannot read the session');

    // Another site's page posts a form to the console: refused, nothing created.
    evil = await servePage(`<!doctype html><html><body>
      <form id="f" method="POST" action="${base}/console/api/CreateRoom" enctype="text/plain">
        <input name='{"name":"forged","x":"' value='"}'>
      </form>
      <script>document.getElementById('f').submit();</script></body></html>`);
    const forged = await context.newPage();
    const answer = forged.waitForResponse((r) => r.url().endsWith('/console/api/CreateRoom'));
    await forged.goto(evil.url.replace('127.0.0.1', 'localhost'));
    assert.ok([401, 403].includes((await answer).status()), `forged POST answered ${(await answer).status()}`);

    // Even with the session cookie itself, a POST from another origin or without the CSRF
    // token is refused.
    const headers = { Cookie: `${cookie.name}=${cookie.value}`, 'Content-Type': 'application/json' };
    const csrf = (await (await fetch(`${base}/console/session`, { headers })).json()).csrfToken;
    const post = (extra) => fetch(`${base}/console/api/CreateRoom`, { method: 'POST', headers: { ...headers, ...extra }, body: '{"name":"forged"}' });
    assert.equal((await post({ Origin: 'http://evil.example', 'X-Csrf-Token': csrf })).status, 403);
    assert.equal((await post({ Origin: base })).status, 403);
    assert.equal((await post({ Origin: base, 'X-Csrf-Token': 'wrong' })).status, 403);
    const client = makeIvschatClient(server, { credentials: { accessKeyId: KEY, secretAccessKey: SECRET } });
    const { ListRoomsCommand } = await import('@aws-sdk/client-ivschat');
    assert.deepEqual((await client.send(new ListRoomsCommand({}))).rooms, [], 'no forged room exists');

    // The console's own pages can: the same request with the token and origin works.
    assert.equal((await post({ Origin: base, 'X-Csrf-Token': csrf })).status, 200);
    await page.getByText('forged').first().waitFor(WAIT);

    // Sign out ends the session.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor(WAIT);
    assert.equal((await fetch(`${base}/console/session`, { headers })).status, 401);

    // Guessing is slowed: past five failures from an address, even the right secret waits.
    for (let i = 0; i < 5; i++) {
      await fetch(`${base}/console/sign-in`, { method: 'POST', body: JSON.stringify({ accessKeyId: KEY, secretAccessKey: `guess-${i}` }) });
    }
    await page.getByLabel('Access key id').fill(KEY);
    await page.getByLabel('Secret access key').fill(SECRET);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText(/too many failed sign-ins from this address: try again in \d+ s/).waitFor(WAIT);
    assert.deepEqual(await context.cookies(base), [], 'no session while the address waits');
  });
});
