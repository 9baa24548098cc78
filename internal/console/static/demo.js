// The demo chat: joins a room with a chat token as an application would, over our own
// messaging client (ivschat.js). Opened from the console (/demo?room=ARN&user=ID[&caps=..]) it
// mints its tokens through the console's session; given a token (/demo#token=...) it uses that
// one, and asks for another when the session ends.

import { ChatSocket, deletedMessageId } from './ivschat.js';
import { api, getConfig } from './client.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const mint = params.get('room')
  ? {
      roomIdentifier: params.get('room'),
      userId: params.get('user') || 'demo-user',
      capabilities: (params.get('caps') ?? 'SEND_MESSAGE').split(',').filter(Boolean),
      attributes: params.get('name') ? { displayName: params.get('name') } : undefined,
    }
  : null;

let wsUrl = '';
let socket = null;
let me = mint ? mint.userId : '';
const mine = new Set(); // request ids of this tab's messages
let attempts = 0; // reconnects in a row without an open socket
let ended = false;

function setStatus(text, state) {
  const s = $('status');
  s.textContent = text;
  s.dataset.state = state;
}

function time(iso) {
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function append(li) {
  $('messages').append(li);
  $('empty').hidden = true;
  li.scrollIntoView({ block: 'end' });
}

function notice(text, kind = 'info') {
  const li = document.createElement('li');
  li.className = `notice ${kind}`;
  li.textContent = text;
  append(li);
}

function showMessage(m) {
  if (mine.has(m.RequestId)) me = m.Sender.UserId;
  const li = document.createElement('li');
  li.className = 'msg' + (m.Sender.UserId === me ? ' mine' : '');
  li.dataset.id = m.Id;
  const head = document.createElement('div');
  head.className = 'head';
  const who = document.createElement('span');
  who.className = 'sender';
  who.textContent = m.Sender.Attributes?.displayName || m.Sender.UserId;
  const when = document.createElement('time');
  when.dateTime = m.SendTime;
  when.textContent = time(m.SendTime);
  head.append(who, when);
  const body = document.createElement('p');
  body.className = 'content';
  body.textContent = m.Content;
  li.append(head, body);
  append(li);
}

function showEvent(ev) {
  const a = ev.Attributes || {};
  switch (ev.EventName) {
    case 'aws:DELETE_MESSAGE': {
      const id = deletedMessageId(ev);
      const li = document.querySelector(`#messages li.msg[data-id="${CSS.escape(id)}"]`);
      if (li) li.remove();
      notice(`A message was deleted${a.Reason ? `: ${a.Reason}` : ''}`, 'deleted');
      break;
    }
    case 'aws:DISCONNECT_USER':
      notice(`${a.UserId === me ? 'You were' : `${a.UserId} was`} disconnected by a moderator${a.Reason ? `: ${a.Reason}` : ''}`, 'disconnected');
      break;
    default: {
      const attrs = Object.entries(a).map(([k, v]) => `${k}=${v}`).join(', ');
      notice(`Event ${ev.EventName}${attrs ? ` (${attrs})` : ''}`, 'event');
    }
  }
}

function showEnded(text, canReconnect) {
  ended = true;
  $('ended-text').textContent = text;
  $('reconnect').hidden = !canReconnect;
  $('ended').hidden = false;
  $('send-form').hidden = true;
}

async function newToken() {
  const t = await api('CreateChatToken', mint);
  return t.token;
}

async function connect(token) {
  ended = false;
  $('ended').hidden = true;
  $('send-form').hidden = false;
  setStatus('connecting…', 'connecting');
  const s = new ChatSocket(wsUrl, token);
  socket = s;
  s.on('open', () => {
    attempts = 0;
    setStatus(me ? `connected as ${me}` : 'connected', 'open');
    $('message').focus();
  });
  s.on('message', showMessage);
  s.on('event', showEvent);
  s.on('error', (e) => {
    notice(`Error ${e.ErrorCode}: ${e.ErrorMessage}`, 'error');
  });
  s.on('close', (c) => {
    if (socket !== s) return;
    socket = null;
    if (!c.opened) {
      setStatus('refused', 'closed');
      showEnded('The server refused the connection: the token was used already, has expired, the room is gone, or you may not join it.', !!mint);
      return;
    }
    if (c.code === 1000 || c.clean) {
      // A clean close is the server's decision (moderator, room deleted, session ended):
      // like the official SDK, do not reconnect on our own unless the session expired.
      if (/expired/i.test(c.reason) && mint && attempts < 3) {
        attempts++;
        notice('The chat session ended; reconnecting with a new token…');
        reconnect();
        return;
      }
      setStatus('disconnected', 'closed');
      showEnded(`Disconnected${c.reason ? `: ${c.reason}` : ''}.`, true);
      return;
    }
    // The connection broke: reconnect with a new token, a few times.
    if (mint && attempts < 3) {
      attempts++;
      notice('The connection broke; reconnecting with a new token…');
      setTimeout(reconnect, 500 * attempts);
      return;
    }
    setStatus('disconnected', 'closed');
    showEnded(`The connection broke (code ${c.code}).`, true);
  });
}

async function reconnect() {
  if (!mint) {
    // A given token is single-use: ask for another.
    $('room').hidden = true;
    $('join').hidden = false;
    setStatus('needs a new token', 'closed');
    return;
  }
  try {
    await connect(await newToken());
  } catch (err) {
    setStatus('refused', 'closed');
    showEnded(`Could not get a chat token: ${err.message}`, true);
  }
}

async function start() {
  try {
    ({ wsUrl } = await getConfig());
  } catch (err) {
    setStatus(`cannot reach the console: ${err.message}`, 'closed');
    return;
  }
  $('send-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('message');
    const text = input.value.trim();
    if (!text || !socket) return;
    mine.add(socket.sendMessage(text));
    input.value = '';
  });
  $('reconnect').addEventListener('click', () => {
    attempts = 0;
    reconnect();
  });
  $('join-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const token = $('join-token').value.trim();
    $('join-token').value = '';
    $('join').hidden = true;
    $('room').hidden = false;
    connect(token);
  });
  const given = new URLSearchParams(location.hash.slice(1)).get('token');
  if (given) history.replaceState(null, '', location.pathname + location.search); // single use: not kept in history
  if (mint) {
    $('who').textContent = `Room ${mint.roomIdentifier.split('/').pop()} as ${mint.userId}`;
    $('room').hidden = false;
    reconnect();
  } else if (given) {
    $('who').textContent = 'Joined with a given chat token';
    $('room').hidden = false;
    connect(given);
  } else {
    $('join').hidden = false;
    setStatus('waiting for a token', 'closed');
  }
}

start();
