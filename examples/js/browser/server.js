// The browser example's backend: it makes a room, serves the chat page and the messaging
// SDK's ES modules from node_modules, and mints a chat token for each user who joins. The
// page never sees AWS credentials.
//
//   export AWS_ACCESS_KEY_ID=ivschatd-dev AWS_SECRET_ACCESS_KEY=ivschatd-dev-secret AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
//   cd examples/js && npm ci && node browser/server.js
//   then open http://127.0.0.1:8090/?user=alice and http://127.0.0.1:8090/?user=bob
//
// IVSCHAT_ENDPOINT names ivschatd (default http://127.0.0.1:8080); PORT this server (8090; 8081 is ivschatd's admin listener).
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { IvschatClient, CreateRoomCommand, CreateChatTokenCommand } from '@aws-sdk/client-ivschat';

const here = path.dirname(fileURLToPath(import.meta.url));
const endpoint = process.env.IVSCHAT_ENDPOINT ?? 'http://127.0.0.1:8080';
const ivschat = new IvschatClient({ endpoint });
const { arn } = await ivschat.send(new CreateRoomCommand({ name: 'browser-demo' }));

// The page loads the SDK through an import map (index.html); these are the only files it needs.
const mounts = {
  '/node_modules/amazon-ivs-chat-messaging/dist/esm/': path.join(here, '../node_modules/amazon-ivs-chat-messaging/dist/esm'),
  '/node_modules/uuid/dist/esm-browser/': path.join(here, '../node_modules/uuid/dist/esm-browser'),
};

async function handle(req, res) {
  const url = new URL(req.url, 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/') {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    return res.end(await readFile(path.join(here, 'index.html')));
  }
  if (req.method === 'POST' && url.pathname === '/token') {
    // A real backend checks who is asking before it mints a token for them.
    const userId = url.searchParams.get('user') || 'anonymous';
    const t = await ivschat.send(new CreateChatTokenCommand({
      roomIdentifier: arn, userId, capabilities: ['SEND_MESSAGE', 'DELETE_MESSAGE'],
    }));
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return res.end(JSON.stringify({
      messagingUrl: endpoint.replace(/^http/, 'ws'),
      token: t.token, tokenExpirationTime: t.tokenExpirationTime, sessionExpirationTime: t.sessionExpirationTime,
    }));
  }
  for (const [prefix, dir] of Object.entries(mounts)) {
    const file = path.join(dir, path.normalize(decodeURIComponent(url.pathname.slice(prefix.length))));
    if (req.method === 'GET' && url.pathname.startsWith(prefix) && file.startsWith(dir + path.sep)) {
      res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' });
      return res.end(await readFile(file));
    }
  }
  res.writeHead(404).end();
}

const server = http.createServer((req, res) => handle(req, res).catch((err) => {
  res.writeHead(err.code === 'ENOENT' ? 404 : 500).end();
}));
server.listen(Number(process.env.PORT ?? 8090), '127.0.0.1', () => {
  console.log(`chat page at http://127.0.0.1:${server.address().port}/?user=alice (room ${arn})`);
});
