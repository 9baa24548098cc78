// Helpers for the browser test: a tiny loopback HTTP server that serves a test page and
// the ES modules of amazon-ivs-chat-messaging (and its one bare import, uuid) from
// node_modules, and Debian's chromium driven by playwright-core. Nothing downloads a browser.

import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const JS_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The only folders the page server exposes, by URL prefix. */
const MOUNTS = {
  '/node_modules/amazon-ivs-chat-messaging/dist/esm/': path.join(JS_ROOT, 'node_modules/amazon-ivs-chat-messaging/dist/esm'),
  '/node_modules/uuid/dist/esm-browser/': path.join(JS_ROOT, 'node_modules/uuid/dist/esm-browser'),
};

/**
 * The import map the README describes: the SDK's ESM entry and uuid's browser build
 * (the SDK's only bare import). Its modules import each other by relative paths.
 */
export const IMPORT_MAP = {
  imports: {
    'amazon-ivs-chat-messaging': '/node_modules/amazon-ivs-chat-messaging/dist/esm/index.js',
    uuid: '/node_modules/uuid/dist/esm-browser/index.js',
  },
};

const TYPES = {
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
};

/**
 * Starts an HTTP server on 127.0.0.1:0 that answers `/` with `html` and serves the SDK's
 * files under MOUNTS. Resolves with {url, requests, close()}; `requests` lists the paths
 * asked for, with their status.
 */
export async function servePage(html) {
  const requests = [];
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const send = (status, type, body) => {
      requests.push({ path: url.pathname, status });
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET') return send(405, 'text/plain', 'method not allowed\n');
    if (url.pathname === '/') return send(200, 'text/html; charset=utf-8', html);
    for (const [prefix, dir] of Object.entries(MOUNTS)) {
      if (!url.pathname.startsWith(prefix)) continue;
      const file = path.resolve(dir, decodeURIComponent(url.pathname.slice(prefix.length)));
      if (!file.startsWith(dir + path.sep)) break;
      try {
        const body = await readFile(file);
        return send(200, TYPES[path.extname(file)] || 'application/octet-stream', body);
      } catch {
        break;
      }
    }
    return send(404, 'text/plain', 'not found\n');
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const CHROMIUM_PATH = process.env.IVSCHATD_CHROMIUM || '/usr/bin/chromium';

/** Debian's chromium, headless, with no outside network traffic of its own. */
export function launchChromium(extraArgs = []) {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      ...extraArgs,
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
