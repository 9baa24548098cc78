// Every program in examples/ run as its README line says, against one fresh ivschatd:
// with Debian's interpreters and CLIs (/usr/bin/python3 with python3-boto3, /usr/bin/aws
// from awscli 2.9.19), the examples' own npm packages (examples/js), and Debian's chromium.
// The review handlers run first, so that the server can be started with both of them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { DEV_ACCESS_KEY_ID, DEV_SECRET_ACCESS_KEY, REGION, ACCOUNT_ID, REPO_ROOT, makeIvschatClient, startServer } from '../lib/server.js';
import { RoomRecorder, createRoom, expectChatError, installWebSocket, tokenProvider } from '../lib/messaging.js';
import { launchChromium } from '../lib/browser.js';
import { COMMANDS, markedBlocks, runnable } from './readme.js';

const TIMEOUT_MS = 120_000;
const ROOM_ARN = new RegExp(`arn:aws:ivschat:${REGION}:${ACCOUNT_ID}:room/[A-Za-z0-9]{12}`);
const LOGGING_ARN = new RegExp(`arn:aws:ivschat:${REGION}:${ACCOUNT_ID}:logging-configuration/[A-Za-z0-9]{12}`);
const reviewArn = (name) => `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:${name}`;

// Debian's AWS CLI first on PATH (the machine may have others), alone: a /usr/bin first on
// PATH could also put an older Debian go or node before the ones the suite runs with. The
// Python examples name /usr/bin/python3 themselves.
const debianTools = mkdtempSync(path.join(os.tmpdir(), 'ivschatd-examples-path-'));
symlinkSync('/usr/bin/aws', path.join(debianTools, 'aws'));
const PATH = `${debianTools}:${process.env.PATH}`;

// Each example runs in its own process group (a `cd … && node …` line is a shell with a
// child), so that stopping it stops all of it.
const children = new Set();
const killGroup = (child, signal) => {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
};
process.once('exit', () => {
  for (const c of children) killGroup(c, 'SIGKILL');
  rmSync(debianTools, { recursive: true, force: true });
});

/** Runs a command to its end; resolves with {code, stdout, stderr}. */
function run(argv, { cwd = REPO_ROOT, env = {}, timeoutMs = 90_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, env: { ...process.env, PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Runs an example's README command (with `args` appended) in bash from the repository root. */
const runExample = (command, args = '', options = {}) => run(['bash', '-c', `${runnable(command, bin)} ${args}`], options);
let bin;

/** Asserts a run ended with status 0 and printed lines matching `patterns`, in order. */
function expectOutput(result, patterns) {
  const detail = `exit ${result.code} (${result.signal ?? 'no signal'})\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
  assert.equal(result.code, 0, detail);
  const lines = result.stdout.split('\n');
  let at = 0;
  for (const p of patterns) {
    const found = lines.findIndex((l, i) => i >= at && p.test(l));
    assert.ok(found >= 0, `no line matching ${p} after line ${at}; ${detail}`);
    at = found + 1;
  }
}

/**
 * Starts a long-running example (a shell command) and resolves with the URL of its
 * "listening on" line, its output so far, stop() (SIGTERM to its process group), signal(),
 * and `exited`, which resolves with its exit code and signal.
 */
function startListening(command, { env = {}, timeoutMs = 30_000 } = {}) {
  const argv = ['bash', '-c', command];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: REPO_ROOT, env: { ...process.env, PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.add(child);
    let out = '';
    const exited = new Promise((done) => {
      child.once('exit', (code, signal) => {
        children.delete(child);
        clearTimeout(timer);
        done({ code, signal });
        reject(new Error(`${command} exited (${code}, ${signal}):\n${out}`));
      });
    });
    const timer = setTimeout(() => reject(new Error(`${command} printed no URL within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const onData = (d) => {
      out += d;
      const m = /(https?:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], output: () => out, exited, stop: () => killGroup(child, 'SIGTERM'), signal: (sig) => killGroup(child, sig) });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => { out += d; });
  });
}

/** Resolves once a loopback port can be listened on again: whatever held it is gone. */
function portIsFree(port) {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(port, '127.0.0.1', () => s.close(resolve));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

describe('examples/', { timeout: TIMEOUT_MS * 4 }, () => {
  let server;
  let env;
  const handlers = {};

  before(async () => {
    bin = mkdtempSync(path.join(os.tmpdir(), 'ivschatd-examples-'));
    const built = await run(['go', 'build', '-o', bin + path.sep, './examples/go/...']);
    assert.equal(built.code, 0, `go build ./examples/go/...:\n${built.stderr}`);
    handlers.go = await startListening(`${runnable(COMMANDS.goReview, bin)} -addr 127.0.0.1:0`);
    handlers.python = await startListening(`${runnable(COMMANDS.pythonReview, bin)} 127.0.0.1:0`);
    server = await startServer({
      // A loaded machine may take longer than the default 200 ms to review; the test is of
      // the handlers' answers, not of their speed.
      args: [
        '--review-timeout', '10s',
        '--review-handler', `${reviewArn('review-go')}=${handlers.go.url}`,
        '--review-handler', `${reviewArn('review-python')}=${handlers.python.url}`,
      ],
    });
    // What the server prints for the user to paste, and where the examples find the server.
    env = {
      AWS_ACCESS_KEY_ID: DEV_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: DEV_SECRET_ACCESS_KEY,
      AWS_DEFAULT_REGION: REGION,
      AWS_REGION: REGION,
      IVSCHAT_ENDPOINT: server.url,
    };
  });

  after(async () => {
    for (const h of Object.values(handlers)) h.stop();
    if (server) await server.stop();
    if (bin) rmSync(bin, { recursive: true, force: true });
  });

  it('quick start: go run ./cmd/ivschatd prints the README\'s credentials lines, and Ctrl-C stops the server too', { timeout: TIMEOUT_MS }, async () => {
    const data = mkdtempSync(path.join(os.tmpdir(), 'ivschatd-quickstart-'));
    try {
      const quick = await startListening(`go run ./cmd/ivschatd --addr 127.0.0.1:0 --admin-addr 127.0.0.1:0 --data-dir ${data}`, { timeoutMs: 110_000 });
      const shown = markedBlocks().filter((b) => b.kind === 'output');
      assert.equal(shown.length, 1, 'the README shows the server\'s output once');
      for (let i = 0; i < 100 && !quick.output().includes(shown[0].lines.at(-1)); i++) await new Promise((r) => setTimeout(r, 100));
      const printed = quick.output().split('\n');
      for (const l of shown[0].lines) assert.ok(printed.includes(l), `go run ./cmd/ivschatd does not print the README's line ${JSON.stringify(l)}; it printed:\n${quick.output()}`);
      // A terminal's Ctrl-C is SIGINT to the foreground process group: go run and the server.
      // go run exits with status 1 after an interrupt, whatever the program's status.
      quick.signal('SIGINT');
      await quick.exited;
      await portIsFree(Number(new URL(quick.url).port));
      assert.match(quick.output(), /shutting down/);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });

  it('the server prints the credentials as one export line with both region variables', () => {
    const line = server.logs().split('\n').find((l) => l.startsWith('export '));
    assert.equal(line, `export AWS_ACCESS_KEY_ID=${DEV_ACCESS_KEY_ID} AWS_SECRET_ACCESS_KEY=${DEV_SECRET_ACCESS_KEY} AWS_DEFAULT_REGION=${REGION} AWS_REGION=${REGION}`);
  });

  const roomLines = [/^logging configuration /, /^room arn:/, /^token for alice, usable until \d{4}-/, /^deleted the room and the logging configuration$/];

  it('go: a logging configuration, a room logging to it, a token (aws-sdk-go-v2)', { timeout: TIMEOUT_MS }, async () => {
    const r = await runExample(COMMANDS.goRoom, '', { env });
    expectOutput(r, roomLines);
    assert.match(r.stdout, LOGGING_ARN);
    assert.match(r.stdout, ROOM_ARN);
  });

  it('python: the same with Debian python3 and boto3', { timeout: TIMEOUT_MS }, async () => {
    const r = await runExample(COMMANDS.pythonRoom, '', { env });
    expectOutput(r, roomLines);
    assert.match(r.stdout, /ACTIVE/);
  });

  it('cli: a room, a token, the room list with Debian awscli 2.9.19 and --endpoint-url', { timeout: TIMEOUT_MS }, async () => {
    const version = await run(['aws', '--version']);
    assert.match(version.stdout, /^aws-cli\/\S+ .*debian/, 'the test runs Debian\'s awscli');
    const r = await runExample(COMMANDS.cliRoom, '', { env });
    expectOutput(r, [/^room arn:/, /^token for alice, usable until \d{4}-/, ROOM_ARN, /^deleted arn:/]);
  });

  it('cli: ci.sh builds the server, runs it in the background on fresh data, and stops it', { timeout: TIMEOUT_MS }, async () => {
    const addr = `127.0.0.1:${await freePort()}`;
    // ci.sh runs the command it is given against its server: here the (quick) Go example.
    const r = await runExample(COMMANDS.ci, path.join(bin, 'room'), { env: { IVSCHATD_ADDR: addr, IVSCHATD_ADMIN_ADDR: '127.0.0.1:0' } });
    // The server's start-up lines and the client's share stdout; the client may start as soon as
    // the port accepts, before the server has printed its credentials, so each is checked in its
    // own order.
    expectOutput(r, [new RegExp(`listening on http://${addr}`), /^export AWS_ACCESS_KEY_ID=/]);
    expectOutput(r, roomLines);
    // The server is gone: its port is free again.
    await portIsFree(Number(addr.split(':')[1]));
  });

  it('js: two users chat in Node and one deletes a message', { timeout: TIMEOUT_MS }, async () => {
    const r = await runExample(COMMANDS.chat, '', { env });
    expectOutput(r, [/^room arn:/, /^bob got "hello bob" from alice$/, /^alice got "hi alice" from bob$/,
      /^bob saw message [A-Za-z0-9]{12} deleted \(typo\)$/, /^deleted the room$/]);
  });

  it('browser: two pages chat through browser/server.js in chromium', { timeout: TIMEOUT_MS }, async () => {
    const page = await startListening(runnable(COMMANDS.browser, bin), { env: { ...env, PORT: '0' } });
    const browser = await launchChromium();
    try {
      const open = async (user) => {
        const p = await browser.newPage();
        await p.goto(`${page.url}/?user=${user}`);
        await p.waitForFunction((u) => document.getElementById('status').textContent === `connected as ${u}`, user, { timeout: 20_000 });
        return p;
      };
      const alice = await open('alice');
      const bob = await open('bob');
      await alice.fill('#text', 'hello from the browser');
      await alice.click('#send button');
      await bob.waitForFunction(() => [...document.querySelectorAll('#messages li')].some((li) => li.textContent.startsWith('alice: hello from the browser')), null, { timeout: 10_000 });
      // alice deletes her message; it leaves bob's page too.
      await alice.click('#messages li button');
      await bob.waitForFunction(() => document.querySelectorAll('#messages li').length === 0, null, { timeout: 10_000 });
    } finally {
      await browser.close();
      page.stop();
    }
  });

  for (const [lang, name] of [['go', 'review-go'], ['python', 'review-python']]) {
    it(`${lang} review handler: masks "darn", denies a spoiler with ERROR 406`, { timeout: TIMEOUT_MS }, async () => {
      installWebSocket();
      const { ChatRoom, SendMessageRequest } = await import('amazon-ivs-chat-messaging');
      const client = makeIvschatClient(server);
      // fallbackResult DENY: a handler that does not answer denies, so ALLOW proves it answered.
      const roomArn = await createRoom(client, { messageReviewHandler: { uri: reviewArn(name), fallbackResult: 'DENY' } });
      const alice = new RoomRecorder(ChatRoom, {
        name: 'alice', wsUrl: server.wsUrl,
        tokenProvider: tokenProvider(client, { roomIdentifier: roomArn, userId: 'alice', capabilities: ['SEND_MESSAGE'] }),
      });
      try {
        await alice.connect(10_000);
        const sent = await alice.room.sendMessage(new SendMessageRequest('darn, it works'));
        assert.equal(sent.content, 'd**n, it works');
        await expectChatError(alice.room.sendMessage(new SendMessageRequest('spoiler: it was the butler')), 406);
      } finally {
        alice.disconnect();
      }
    });
  }
});
