// Helpers that start a fresh ivschatd for an end-to-end test file and build
// SDK clients pointed at it.
//
// Contract with the server (see README.md in this folder):
//   ivschatd --addr 127.0.0.1:0 --admin-addr 127.0.0.1:0 --data-dir <dir> [extra flags]
//   prints "listening on http://127.0.0.1:<port>" on stdout once ready,
//   answers GET /healthz with 200, and exits on SIGTERM.

import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { IvschatClient } from '@aws-sdk/client-ivschat';

const execFileP = promisify(execFile);

/** Repository root (this file is test/e2e/js/lib/server.js). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/** Development identity the server accepts on loopback. */
export const DEV_ACCESS_KEY_ID = 'ivschatd-dev';
export const DEV_SECRET_ACCESS_KEY = 'ivschatd-dev-secret';
// The SDK annotates the credentials object it is given, so hand each client a copy.
export const devCredentials = () => ({
  accessKeyId: DEV_ACCESS_KEY_ID,
  secretAccessKey: DEV_SECRET_ACCESS_KEY,
});
export const ACCOUNT_ID = '123456789012';
export const REGION = 'us-east-1';

export const ROOM_ARN_RE = new RegExp(`^arn:aws:ivschat:${REGION}:${ACCOUNT_ID}:room/([A-Za-z0-9]{12})$`);
export const LOGGING_CONFIGURATION_ARN_RE = new RegExp(
  `^arn:aws:ivschat:${REGION}:${ACCOUNT_ID}:logging-configuration/([A-Za-z0-9]{12})$`,
);

/** A well-formed room ARN for an id (default: one no server will have made). */
export function roomArn(id = 'AbCdEf123456') {
  return `arn:aws:ivschat:${REGION}:${ACCOUNT_ID}:room/${id}`;
}

/** A well-formed logging-configuration ARN for an id. */
export function loggingConfigurationArn(id = 'AbCdEf123456') {
  return `arn:aws:ivschat:${REGION}:${ACCOUNT_ID}:logging-configuration/${id}`;
}

const START_TIMEOUT_MS = Number(process.env.IVSCHATD_START_TIMEOUT_MS || 30_000);
const STOP_TIMEOUT_MS = 10_000;
const VERBOSE = process.env.IVSCHATD_E2E_VERBOSE === '1';
const MAX_LOG_CHARS = 64 * 1024;

// Everything this process started or created, cleaned up at exit even when a
// test forgot to call stop() or the runner is interrupted.
const liveChildren = new Set();
const tempDirs = new Set();
process.once('exit', () => {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of tempDirs) {
    rmSync(dir, { recursive: true, force: true });
  }
});

let buildPromise = null;

/**
 * Path to the ivschatd binary: $IVSCHATD_BIN when set, otherwise the result of
 * `go build ./cmd/ivschatd` into a temporary folder (built once per process).
 */
export function ivschatdBinary() {
  const fromEnv = process.env.IVSCHATD_BIN;
  if (fromEnv) {
    const bin = path.resolve(fromEnv);
    if (!existsSync(bin)) {
      return Promise.reject(new Error(`IVSCHATD_BIN=${fromEnv} does not exist`));
    }
    return Promise.resolve(bin);
  }
  if (!buildPromise) {
    buildPromise = (async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'ivschatd-e2e-bin-'));
      tempDirs.add(dir);
      const bin = path.join(dir, 'ivschatd');
      try {
        await execFileP('go', ['build', '-o', bin, './cmd/ivschatd'], {
          cwd: REPO_ROOT,
          maxBuffer: 16 * 1024 * 1024,
        });
      } catch (err) {
        throw new Error(`go build ./cmd/ivschatd failed:\n${err.stderr || err.message}`);
      }
      return bin;
    })();
  }
  return buildPromise;
}

/**
 * Start a fresh ivschatd on a random loopback port with an empty data dir.
 *
 * @param {object} [options]
 * @param {string[]} [options.args] extra command-line flags, e.g. ['--max-logging-configurations', '1']
 * @param {Record<string,string>} [options.env] extra environment variables
 * @returns {Promise<{url: string, wsUrl: string, port: number, dataDir: string, pid: number,
 *   logs: () => string, stop: () => Promise<{code: number|null, signal: string|null}>}>}
 */
export async function startServer({ args = [], env = {}, ca } = {}) {
  const bin = await ivschatdBinary();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'ivschatd-e2e-data-'));
  tempDirs.add(dataDir);

  const child = spawn(bin, ['--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0', '--data-dir', dataDir, ...args], {
    cwd: dataDir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveChildren.add(child);

  let output = '';
  const record = (stream) => (chunk) => {
    const text = chunk.toString('utf8');
    output += text;
    if (output.length > MAX_LOG_CHARS) output = output.slice(-MAX_LOG_CHARS);
    if (VERBOSE) process.stderr.write(`[ivschatd ${child.pid} ${stream}] ${text}`);
  };
  child.stderr.on('data', record('stderr'));

  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      liveChildren.delete(child);
      resolve({ code, signal });
    });
  });
  let hasExited = false;
  exited.then(() => {
    hasExited = true;
  });

  // Wait for "listening on http://..." on stdout.
  const url = await new Promise((resolve, reject) => {
    let stdoutBuf = '';
    const onData = (chunk) => {
      record('stdout')(chunk);
      stdoutBuf += chunk.toString('utf8');
      const m = /listening on (https?:\/\/[^\s"'<>,;]+)/.exec(stdoutBuf);
      if (m) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.stdout.on('data', record('stdout')); // keep draining
        resolve(new URL(m[1]).origin);
      }
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ivschatd did not print "listening on http://..." within ${START_TIMEOUT_MS} ms; output:\n${output}`));
    }, START_TIMEOUT_MS);
    child.stdout.on('data', onData);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${bin}: ${err.message}`));
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`ivschatd exited (code ${code}, signal ${signal}) before listening; output:\n${output}`));
    });
  }).catch(async (err) => {
    rmSync(dataDir, { recursive: true, force: true });
    tempDirs.delete(dataDir);
    throw err;
  });

  let stopping = null;
  const stop = () => {
    if (!stopping) {
      stopping = (async () => {
        if (!hasExited) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
          await exited;
          clearTimeout(timer);
        }
        rmSync(dataDir, { recursive: true, force: true });
        tempDirs.delete(dataDir);
        return exited;
      })();
    }
    return stopping;
  };

  try {
    await waitHealthy(url, () => hasExited, ca);
  } catch (err) {
    await stop();
    throw new Error(`${err.message}; output:\n${output}`);
  }

  const { port } = new URL(url);
  return {
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    port: Number(port),
    dataDir,
    pid: child.pid,
    logs: () => output,
    stop,
  };
}

/** GET over https, trusting the PEM CA `ca`; resolves with the status. */
function httpsStatus(url, ca) {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function waitHealthy(url, hasExited, ca) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last = 'no attempt';
  while (Date.now() < deadline) {
    if (hasExited()) throw new Error('ivschatd exited while waiting for /healthz');
    try {
      let status;
      if (url.startsWith('https:')) {
        status = await httpsStatus(`${url}/healthz`, ca);
      } else {
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        status = res.status;
      }
      if (status === 200) return;
      last = `status ${status}`;
    } catch (err) {
      last = err.message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`GET ${url}/healthz did not answer 200 within ${START_TIMEOUT_MS} ms (last: ${last})`);
}

/**
 * An IvschatClient for a running server.
 *
 * Retries are off by default (maxAttempts 1) so that a server error is seen
 * as it is and not hidden by the SDK's retryer. Every HTTP exchange is
 * recorded on `client.exchanges` (see formatExchanges) for failure reports.
 *
 * @param {{url: string}|string} server a startServer() result or its URL
 * @param {object} [config] extra IvschatClient config (credentials, region, maxAttempts, ...)
 */
export function makeIvschatClient(server, config = {}) {
  const endpoint = typeof server === 'string' ? server : server.url;
  const client = new IvschatClient({
    endpoint,
    region: REGION,
    credentials: devCredentials(),
    maxAttempts: 1,
    ...config,
  });
  recordExchanges(client);
  return client;
}

const MAX_EXCHANGES = 20;
const MAX_BODY_CHARS = 4000;

/**
 * Adds a middleware that keeps the last signed request and raw response of
 * each call on `client.exchanges` (newest last).
 */
export function recordExchanges(client) {
  client.exchanges = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const req = args.request;
      const entry = {
        operation: context.commandName,
        request: {
          method: req.method,
          path: req.path,
          query: req.query,
          headers: { ...req.headers },
          body: typeof req.body === 'string' ? req.body : req.body == null ? '' : '<non-string body>',
        },
        response: null,
      };
      client.exchanges.push(entry);
      if (client.exchanges.length > MAX_EXCHANGES) client.exchanges.shift();
      let result;
      try {
        result = await next(args);
      } catch (err) {
        entry.response = { error: String(err && err.message) };
        throw err;
      }
      const res = result.response;
      let bodyText = '';
      if (res && res.body && typeof res.body[Symbol.asyncIterator] === 'function') {
        const chunks = [];
        for await (const chunk of res.body) chunks.push(Buffer.from(chunk));
        const buf = Buffer.concat(chunks);
        bodyText = buf.toString('utf8');
        const { Readable } = await import('node:stream');
        res.body = Readable.from([buf]);
      }
      entry.response = { statusCode: res && res.statusCode, headers: { ...(res && res.headers) }, body: bodyText };
      return result;
    },
    { step: 'deserialize', priority: 'low', name: 'ivschatdE2eRecordExchange' },
  );
  return client;
}

function truncate(s) {
  return s.length > MAX_BODY_CHARS ? `${s.slice(0, MAX_BODY_CHARS)}…(${s.length} chars)` : s;
}

/** Human-readable transcript of the last `n` exchanges of a client. */
export function formatExchanges(client, n = 2) {
  const list = (client.exchanges || []).slice(-n);
  if (list.length === 0) return '(no HTTP exchange recorded)';
  return list
    .map(({ operation, request, response }) => {
      const q = request.query && Object.keys(request.query).length ? `?${new URLSearchParams(flattenQuery(request.query))}` : '';
      const reqHeaders = Object.entries(request.headers)
        .filter(([k]) => !/^(authorization|user-agent|x-amz-user-agent|amz-sdk-invocation-id|amz-sdk-request)$/i.test(k))
        .map(([k, v]) => `  ${k}: ${v}`)
        .join('\n');
      let out = `--- ${operation}\n> ${request.method} ${request.path}${q}\n${reqHeaders}\n> ${truncate(request.body)}\n`;
      if (!response) {
        out += '< (no response)\n';
      } else if (response.error) {
        out += `< transport error: ${response.error}\n`;
      } else {
        const resHeaders = Object.entries(response.headers).map(([k, v]) => `  ${k}: ${v}`).join('\n');
        out += `< ${response.statusCode}\n${resHeaders}\n< ${truncate(response.body)}\n`;
      }
      return out;
    })
    .join('');
}

function flattenQuery(query) {
  const pairs = [];
  for (const [k, v] of Object.entries(query)) {
    for (const item of Array.isArray(v) ? v : [v]) pairs.push([k, item]);
  }
  return pairs;
}
