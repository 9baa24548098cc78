// The official amazon-ivs-chat-messaging SDK (unchanged) in Node 20 against two ivschatd nodes
// of one cluster, behind a small round-robin TCP proxy standing in for a load balancer: members
// land on different nodes and chat, and when a node is stopped (SIGTERM), its member reconnects
// through the proxy to the other node with a new token. On three nodes: presence, and bans and
// slow mode, which hold for the room whichever node a member or a call goes through.
//
// The NATS cluster (three servers with JetStream) comes from test/cluster/cmd/natscluster; the
// Go test in test/cluster checks the cluster's guarantees in depth.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { CreateChatTokenCommand, SendEventCommand } from '@aws-sdk/client-ivschat';

import { REPO_ROOT, devCredentials, makeIvschatClient, startServer } from './lib/server.js';
import { RoomRecorder, createRoom, installWebSocket, sleep, tokenProvider } from './lib/messaging.js';
import { checkedExtension } from './lib/openapi.js';

installWebSocket();

// amazon-ivs-chat-messaging 1.1.1 schedules a connection refresh (a timer until a minute
// before the token expires) on every 'open' and keeps only the newest handle, so after a
// reconnection disconnect() leaves the first timer running and Node would wait an hour for it.
// Timers that long do not keep this test process alive.
const sdkSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = (fn, ms, ...args) => {
  const timer = sdkSetTimeout(fn, ms, ...args);
  if (ms > 10 * 60_000) timer.unref();
  return timer;
};
const { ChatRoom, SendMessageRequest } = await import('amazon-ivs-chat-messaging');

const execFileP = promisify(execFile);
const TEST_TIMEOUT_MS = 120_000;

/** Builds and starts natscluster; resolves with {urls, stop()}. */
async function startNATSCluster() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ivschatd-e2e-nats-'));
  const bin = path.join(dir, 'natscluster');
  await execFileP('go', ['build', '-o', bin, './test/cluster/cmd/natscluster'], { cwd: REPO_ROOT, maxBuffer: 16 << 20 });
  // natscluster exits when its standard input closes, so it cannot outlive this process.
  const child = spawn(bin, ['--servers', '3'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stderr.on('data', (d) => {
    output += d;
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const urls = await new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`natscluster not ready within 60 s: ${output}`)), 60_000);
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /natscluster ready (\S+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`natscluster exited (${code}): ${output}`));
    });
  });
  return {
    urls,
    stop: async () => {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A round-robin TCP proxy on loopback. WebSocket upgrades and other connections take turns
 * separately, so consecutive WebSocket connections go to different backends; a backend that
 * refuses the connection is skipped, as a load balancer skips a node that is down.
 * `routed` lists where each connection went: {ws, port}.
 */
async function startProxy(ports) {
  const turns = { ws: 0, http: 0 };
  const routed = [];
  const open = new Set();
  const server = net.createServer((client) => {
    open.add(client);
    client.on('error', () => {});
    client.on('close', () => open.delete(client));
    client.once('data', (first) => {
      client.pause();
      const ws = /\r\nupgrade:\s*websocket/i.test(first.toString('latin1'));
      const start = ws ? turns.ws++ : turns.http++;
      const attempt = (k) => {
        if (k >= ports.length || client.destroyed) {
          client.destroy();
          return;
        }
        const port = ports[(start + k) % ports.length];
        const upstream = net.connect(port, '127.0.0.1');
        let connected = false;
        upstream.on('error', () => {
          if (!connected) attempt(k + 1);
          else client.destroy();
        });
        upstream.once('connect', () => {
          connected = true;
          open.add(upstream);
          routed.push({ ws, port });
          upstream.on('close', () => {
            open.delete(upstream);
            client.destroy();
          });
          client.on('close', () => upstream.destroy());
          upstream.write(first);
          client.pipe(upstream);
          upstream.pipe(client);
          client.resume();
        });
      };
      attempt(0);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    routed,
    close: () => {
      for (const s of open) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

const members = [];
let nats;
let nodes = [];
let proxy;

after(async () => {
  for (const m of members) m.disconnect();
  if (proxy) await proxy.close();
  await Promise.all(nodes.map((n) => n.stop()));
  if (nats) await nats.stop();
});

describe('messaging SDK: two nodes of a cluster behind a round-robin proxy', () => {
  const ctx = {};
  before(async () => {
    nats = await startNATSCluster();
    const args = ['--nats-url', nats.urls, '--replicas', '3'];
    nodes = [await startServer({ args }), await startServer({ args })];
    proxy = await startProxy(nodes.map((n) => n.port));
    // The control plane goes through the proxy too. Retries cover a pooled HTTP connection
    // that led to the node stopped below.
    ctx.client = makeIvschatClient(proxy.url, { maxAttempts: 3 });
  });

  it(
    'a member joining on one node is replayed what was sent on the other, then gets live messages once',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const roomIdentifier = await createRoom(ctx.client, {
        name: 'cluster-replay',
        maximumMessageRatePerSecond: 100,
        tags: { 'ivschatd:history': '20', 'ivschatd:replay': '5' },
      });
      const member = (name) => {
        const m = new RoomRecorder(ChatRoom, {
          name,
          wsUrl: proxy.wsUrl,
          tokenProvider: tokenProvider(ctx.client, { roomIdentifier, userId: name, capabilities: ['SEND_MESSAGE'] }),
        });
        members.push(m);
        return m;
      };
      // One member on each node first, heard by both, so that the room's subscriptions have
      // reached every NATS server before the count starts (as in the test below).
      const anchors = [member('anchor0'), member('anchor1')];
      for (const a of anchors) await a.connect();
      for (let i = 0; ; i += 1) {
        await ctx.client.send(new SendEventCommand({ roomIdentifier, eventName: `settle-${i}` }));
        const heard = await Promise.all(
          anchors.map((m) => m.waitFor('event', (e) => e.eventName === `settle-${i}`, 500).then(() => true, () => false)),
        );
        if (heard.every(Boolean)) break;
        assert.ok(i < 20, 'both anchors hear the room');
      }
      const sender = member('sender');
      await sender.connect();
      const routesBefore = proxy.routed.filter((r) => r.ws).length;
      const sent = [];
      for (let i = 0; i < 8; i += 1) sent.push(await sender.room.sendMessage(new SendMessageRequest(`m${i}`)));
      // Joiners alternate between the nodes while the sender keeps sending.
      const sending = (async () => {
        for (let i = 8; i < 30; i += 1) {
          sent.push(await sender.room.sendMessage(new SendMessageRequest(`m${i}`)));
          await sleep(20); // under the room's rate
        }
      })();
      const joiners = [];
      for (let i = 0; i < 4; i += 1) {
        const j = member(`late${i}`);
        j.sentBefore = sent.length;
        await j.connect();
        joiners.push(j);
      }
      await sending;
      const ports = new Set(proxy.routed.filter((r) => r.ws).slice(routesBefore).map((r) => r.port));
      assert.equal(ports.size, 2, 'the joiners are on both nodes');
      for (const j of joiners) {
        await j.waitFor('message', (m) => m.content === 'm29', 10_000);
        const got = j.events.message.map((m) => Number(m.content.slice(1)));
        const first = got[0];
        assert.deepEqual(got, Array.from({ length: 30 - first }, (_, k) => first + k), `${j.name}: every message once, in order`);
        assert.ok(first <= j.sentBefore - 1, `${j.name}: messages sent before it joined were replayed (began at m${first})`);
        const replayed = j.events.message[0];
        assert.equal(replayed.id, sent[first].id);
        assert.equal(replayed.sendTime.getTime(), sent[first].sendTime.getTime());
      }
    },
  );

  it(
    'members on different nodes chat; a stopped node hands its member to the other',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const roomIdentifier = await createRoom(ctx.client, { name: 'cluster' });
      const member = (name) => {
        const m = new RoomRecorder(ChatRoom, {
          name,
          wsUrl: proxy.wsUrl,
          tokenProvider: tokenProvider(ctx.client, { roomIdentifier, userId: name, capabilities: ['SEND_MESSAGE'] }),
        });
        members.push(m);
        return m;
      };
      const routesBefore = proxy.routed.filter((r) => r.ws).length;
      const alice = member('alice');
      const bob = member('bob');
      await alice.connect();
      await bob.connect();
      const wsRoutes = proxy.routed.filter((r) => r.ws).slice(routesBefore);
      assert.equal(wsRoutes.length, 2);
      assert.notEqual(wsRoutes[0].port, wsRoutes[1].port, 'alice and bob are on different nodes');
      const aliceNode = nodes.find((n) => n.port === wsRoutes[0].port);

      // A room's subscription reaches the other NATS servers a moment after the first member
      // of a node joins: wait until both hear the room before counting on delivery.
      for (let i = 0; ; i += 1) {
        await ctx.client.send(new SendEventCommand({ roomIdentifier, eventName: `settle-${i}` }));
        const heard = await Promise.all(
          [alice, bob].map((m) => m.waitFor('event', (e) => e.eventName === `settle-${i}`, 500).then(() => true, () => false)),
        );
        if (heard.every(Boolean)) break;
        assert.ok(i < 20, 'both members hear the room');
      }

      await alice.room.sendMessage(new SendMessageRequest('hello from the first node'));
      const got = await bob.waitFor('message', (m) => m.content === 'hello from the first node');
      assert.equal(got.sender.userId, 'alice');
      await bob.room.sendMessage(new SendMessageRequest('hello from the second node'));
      await alice.waitFor('message', (m) => m.content === 'hello from the second node');

      // SIGTERM to alice's node: ERROR 401, and the SDK connects again, through the proxy,
      // to the node that is left, with a new token.
      const tokensBefore = alice.provider.calls;
      const stopped = aliceNode.stop();
      await alice.waitFor('connect', () => alice.events.connect.length >= 2, 20_000);
      assert.ok(alice.provider.calls > tokensBefore, 'a new token for the new connection');
      const { code } = await stopped;
      assert.equal(code, 0, 'the stopped node exits cleanly');
      const last = proxy.routed.filter((r) => r.ws).at(-1);
      assert.notEqual(last.port, aliceNode.port, 'alice is now on the other node');

      await alice.room.sendMessage(new SendMessageRequest('back on the other node'));
      await bob.waitFor('message', (m) => m.content === 'back on the other node');
      await bob.room.sendMessage(new SendMessageRequest('welcome back'));
      await alice.waitFor('message', (m) => m.content === 'welcome back');
    },
  );
});

/** Three ivschatd nodes on the NATS cluster, replicated storage; stopped by the file's after(). */
async function startThreeNodes() {
  const args = ['--nats-url', nats.urls, '--replicas', '3'];
  const three = [await startServer({ args }), await startServer({ args }), await startServer({ args })];
  nodes.push(...three);
  return three;
}

/** A member on the official SDK connected to one node, with a token minted through it. */
async function nodeMember(node, roomIdentifier, name, capabilities = []) {
  const m = new RoomRecorder(ChatRoom, {
    name: `${name}@${node.url}`,
    wsUrl: node.wsUrl,
    maxReconnectAttempts: 0,
    tokenProvider: tokenProvider(makeIvschatClient(node), { roomIdentifier, userId: name, capabilities }),
  });
  members.push(m);
  await m.connect(20_000);
  return m;
}

describe('presence across three nodes of a cluster', () => {
  const ctx = {};
  before(async () => {
    ctx.nodes = await startThreeNodes();
    ctx.client = makeIvschatClient(ctx.nodes[0]);
  });

  const listed = async (node, roomIdentifier) => {
    const users = [];
    let nextToken;
    do {
      const page = await checkedExtension(node.url, devCredentials(), 'ListRoomUsers', { roomIdentifier, maxResults: 2, ...(nextToken ? { nextToken } : {}) });
      users.push(...page.users);
      nextToken = page.nextToken;
    } while (nextToken);
    return users.map((u) => `${u.userId}×${u.connectionCount}`).join(' ');
  };
  /** Waits until ListRoomUsers through every given node lists `want`. */
  const awaitUsers = async (via, roomIdentifier, want, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (const node of via) {
      for (;;) {
        const got = await listed(node, roomIdentifier);
        if (got === want) break;
        if (Date.now() > deadline) assert.fail(`ListRoomUsers through ${node.url}: ${got}, want ${want}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const member = nodeMember;

  it(
    'ListRoomUsers and presence events across three nodes; a killed node\'s members drop out and leave',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const [n1, n2, n3] = ctx.nodes;
      const roomIdentifier = await createRoom(ctx.client, { name: 'presence-cluster', tags: { 'ivschatd:presence-events': 'true' } });
      const watcher = await member(n1, roomIdentifier, 'watcher');
      const presence = () => watcher.events.event.filter((e) => e.eventName.startsWith('ivschatd:')).map((e) => `${e.eventName.slice(9)}:${e.attributes.userId}`).sort();
      await member(n1, roomIdentifier, 'ann');
      const ann2 = await member(n2, roomIdentifier, 'ann');
      await member(n2, roomIdentifier, 'ben');
      await member(n3, roomIdentifier, 'cat');
      await member(n3, roomIdentifier, 'dan');
      await awaitUsers(ctx.nodes, roomIdentifier, 'ann×2 ben×1 cat×1 dan×1 watcher×1');
      await watcher.waitFor('event', (e) => e.eventName === 'ivschatd:join' && e.attributes.userId === 'dan');
      assert.deepEqual(presence(), ['join:ann', 'join:ben', 'join:cat', 'join:dan'], 'ann, on two nodes, joins once');

      ann2.disconnect();
      await awaitUsers(ctx.nodes, roomIdentifier, 'ann×1 ben×1 cat×1 dan×1 watcher×1');

      // kill -9: the node cannot say goodbye; its heartbeat expires and its members drop out.
      process.kill(n3.pid, 'SIGKILL');
      const killed = Date.now();
      await awaitUsers([n1, n2], roomIdentifier, 'ann×1 ben×1 watcher×1');
      assert.ok(Date.now() - killed < 20_000);
      // The nodes left tell the room that the killed node's users left, once each.
      await watcher.waitFor('event', (e) => e.eventName === 'ivschatd:leave' && e.attributes.userId === 'cat', 20_000);
      await watcher.waitFor('event', (e) => e.eventName === 'ivschatd:leave' && e.attributes.userId === 'dan', 20_000);
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(presence(), ['join:ann', 'join:ben', 'join:cat', 'join:dan', 'leave:cat', 'leave:dan']);
      assert.deepEqual(watcher.errorLogs(), [], 'the SDK parsed every frame');
      await n3.stop();
    },
  );
});

describe('bans and slow mode across three nodes of a cluster', () => {
  const ctx = {};
  before(async () => {
    ctx.nodes = await startThreeNodes();
    ctx.client = makeIvschatClient(ctx.nodes[0]);
  });

  const member = (node, roomIdentifier, name) => nodeMember(node, roomIdentifier, name, ['SEND_MESSAGE']);

  it(
    "slow mode counts a user's sends on every node; a ban issued on one node disconnects the user on all three and refuses its tokens there",
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const [n1, n2, n3] = ctx.nodes;
      const roomIdentifier = await createRoom(ctx.client, { name: 'bans-cluster', tags: { 'ivschatd:user-rate': '2/60' } });
      const watcher = await member(n1, roomIdentifier, 'watcher');
      const eve = [await member(n1, roomIdentifier, 'eve'), await member(n2, roomIdentifier, 'eve'), await member(n3, roomIdentifier, 'eve')];

      // Slow mode: two sends per minute for eve, whichever node each goes through.
      await eve[0].room.sendMessage(new SendMessageRequest('eve via node 1'));
      await eve[1].room.sendMessage(new SendMessageRequest('eve via node 2'));
      await assert.rejects(eve[2].room.sendMessage(new SendMessageRequest('eve via node 3')), (err) => {
        assert.equal(err.errorCode, 429);
        assert.match(err.errorMessage, /^slow mode: /);
        return true;
      });
      // Another user has an allowance of its own.
      await watcher.room.sendMessage(new SendMessageRequest('watcher is not slowed'));

      // A ban issued through node 2 ends eve's connections on all three nodes.
      const ban = await checkedExtension(n2.url, devCredentials(), 'BanUser', { roomIdentifier, userId: 'eve', durationSeconds: 600, reason: 'flooding' });
      for (const m of eve) assert.equal(await m.waitFor('disconnect', () => true, 20_000), 'serverDisconnect');
      const seen = await watcher.waitFor('userDisconnect', (e) => e.userId === 'eve', 20_000);
      assert.equal(seen.reason, 'flooding');
      assert.equal(watcher.state, 'connected');

      // Every node refuses eve a token, and a token minted before the ban opens nowhere.
      for (const node of ctx.nodes) {
        await assert.rejects(
          makeIvschatClient(node).send(new CreateChatTokenCommand({ roomIdentifier, userId: 'eve' })),
          (err) => err.name === 'AccessDeniedException' && err.message.includes(`until ${ban.expireTime.replace(/\.\d+Z$/, 'Z')}`),
        );
      }
      const { bans } = await checkedExtension(n3.url, devCredentials(), 'ListBans', { roomIdentifier });
      assert.deepEqual(bans.map((b) => b.userId), ['eve']);

      // Unbanned through node 3: eve connects again through node 1.
      await checkedExtension(n3.url, devCredentials(), 'UnbanUser', { roomIdentifier, userId: 'eve' });
      const back = await member(n1, roomIdentifier, 'eve');
      assert.equal(back.state, 'connected');
      assert.deepEqual(watcher.errorLogs(), [], 'the SDK parsed every frame');
    },
  );
});
