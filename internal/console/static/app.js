// The console: rooms, a room's live feed and moderation, logging configurations, chat tokens.
// Every action is a control-plane operation (client.js api()); the live views are
// Server-Sent Events from /console/live/...

import { api, getSession, signIn, signOut, OperationError } from './client.js';

const app = document.getElementById('app');
const dialog = document.getElementById('dialog');
let session = null;
let view = null; // the current view's {close()}: its event streams

// ---- small DOM helpers ----------------------------------------------------------------

/** h('button', {class: 'x', onclick}, 'text', child...) */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const allowed = (op) => session && session.allowed.includes(op);
const idOf = (arn) => String(arn).split('/').pop();
const fmtTime = (iso) => {
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleString([], { dateStyle: 'short', timeStyle: 'medium' });
};
const clock = (iso) => {
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
};

/** key=value lines → object (blank lines skipped). */
function parsePairs(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t) continue;
    const i = t.indexOf('=');
    if (i <= 0) throw new Error(`"${t}" is not key=value`);
    out[t.slice(0, i).trim()] = t.slice(i + 1).trim();
  }
  return out;
}
const pairsText = (obj) => Object.entries(obj || {}).map(([k, v]) => `${k}=${v}`).join('\n');

function flash(container, err, ok = false) {
  container.replaceChildren();
  if (!err) return;
  container.append(h('div', { class: ok ? 'flash ok' : 'flash', role: ok ? 'status' : 'alert' },
    ok || !(err instanceof OperationError) || !err.code || err.code === 'NotSignedIn' ? String(err.message || err) : `${err.code}: ${err.message}`));
}

/**
 * A modal form. fields: [{name, label, type, value, hint, options, required, rows}]. Resolves
 * with the values when `confirm` (the action's verb) is pressed, or null when cancelled.
 * submit(values) may throw to keep the dialog open with the error shown.
 */
function ask({ title, text, fields = [], confirm, danger = false, submit }) {
  return new Promise((resolve) => {
    const errors = h('div');
    const inputs = {};
    const body = fields.map((f) => {
      let input;
      if (f.type === 'select') {
        input = h('select', { name: f.name }, f.options.map((o) => h('option', { value: o.value, selected: o.value === f.value }, o.label)));
      } else if (f.type === 'textarea') {
        input = h('textarea', { name: f.name, rows: f.rows || 3, placeholder: f.placeholder }, f.value || '');
      } else if (f.type === 'checks') {
        const box = h('fieldset', {}, h('legend', {}, f.label), f.options.map((o) =>
          h('label', { class: 'check' }, h('input', { type: 'checkbox', name: f.name, value: o.value, checked: (f.value || []).includes(o.value) }), o.label)));
        inputs[f.name] = box;
        return box;
      } else {
        input = h('input', { name: f.name, type: f.type || 'text', value: f.value ?? '', required: f.required, min: f.min, max: f.max, placeholder: f.placeholder, autocomplete: 'off' });
      }
      inputs[f.name] = input;
      return h('label', {}, f.label, f.hint ? h('span', { class: 'hint' }, ` ${f.hint}`) : null, input);
    });
    const values = () => {
      const out = {};
      for (const f of fields) {
        if (f.type === 'checks') out[f.name] = [...inputs[f.name].querySelectorAll('input:checked')].map((i) => i.value);
        else out[f.name] = inputs[f.name].value;
      }
      return out;
    };
    const form = h('form', { method: 'dialog' },
      h('h2', {}, title), text ? h('p', { class: 'muted' }, text) : null, errors, body,
      h('div', { class: 'buttons' },
        h('button', { type: 'button', onclick: () => { dialog.close(); resolve(null); } }, 'Cancel'),
        h('button', { type: 'submit', class: danger ? 'danger' : 'primary' }, confirm)));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const v = values();
      try {
        const result = submit ? await submit(v) : v;
        dialog.close();
        resolve(result ?? v);
      } catch (err) {
        flash(errors, err);
      }
    });
    dialog.replaceChildren(form);
    dialog.onclose = () => resolve(null);
    dialog.showModal();
    const first = form.querySelector('input, select, textarea');
    if (first) first.focus();
  });
}

/** An EventSource whose handlers get parsed JSON; closed with the view. */
function live(url, handlers, onState) {
  const es = new EventSource(url);
  for (const [name, fn] of Object.entries(handlers)) {
    es.addEventListener(name, (e) => fn(JSON.parse(e.data)));
  }
  es.addEventListener('open', () => onState && onState('live'));
  es.addEventListener('error', () => onState && onState(es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting'));
  es.addEventListener('signed-out', () => { es.close(); showSignIn('Your session has ended. Sign in again.'); });
  return es;
}

function liveBadge() {
  const b = h('span', { class: 'pill', title: 'fed by the server as things happen' }, 'connecting…');
  return { el: b, set: (state) => { b.textContent = state === 'live' ? 'live' : state; b.className = state === 'live' ? 'pill live' : 'pill'; } };
}

// ---- sign-in ------------------------------------------------------------------------------

function showSignIn(message) {
  if (view) view.close();
  view = null;
  session = null;
  document.getElementById('nav').hidden = true;
  document.getElementById('sign-out').hidden = true;
  document.getElementById('who').textContent = '';
  const errors = h('div');
  if (message) flash(errors, new Error(message));
  const key = h('input', { name: 'accessKeyId', required: true, autocomplete: 'username', spellcheck: 'false' });
  const secret = h('input', { name: 'secretAccessKey', type: 'password', required: true, autocomplete: 'current-password' });
  const form = h('form', { class: 'card signin' },
    h('h1', {}, 'Sign in'),
    h('p', { class: 'muted' }, 'With the access key id and secret access key of a principal configured on this server (--credentials or IVSCHATD_ACCESS_KEY_ID).'),
    errors,
    h('label', {}, 'Access key id', key),
    h('label', {}, 'Secret access key', secret),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      session = await signIn(key.value.trim(), secret.value);
      secret.value = '';
      signedIn();
    } catch (err) {
      flash(errors, err);
    }
  });
  app.replaceChildren(form);
  key.focus();
}

function signedIn() {
  document.getElementById('nav').hidden = false;
  document.getElementById('who').textContent = `account ${session.accountId} · ${session.accessKeyId}`;
  document.getElementById('sign-out').hidden = !session.signIn;
  route();
}

// ---- rooms ----------------------------------------------------------------------------------

const EXTENSION_TAGS = ['ivschatd:history', 'ivschatd:replay', 'ivschatd:user-rate', 'ivschatd:presence-events'];

function roomFields(room = {}, configs = []) {
  const tags = room.tags || {};
  const plain = Object.fromEntries(Object.entries(tags).filter(([k]) => !EXTENSION_TAGS.includes(k)));
  return [
    { name: 'name', label: 'Name', value: room.name, hint: '0–128 of a-z A-Z 0-9 - _', placeholder: 'my-stream-chat' },
    { name: 'maximumMessageLength', label: 'Maximum message length', type: 'number', min: 1, max: 500, value: room.maximumMessageLength ?? 500, hint: '1–500 characters' },
    { name: 'maximumMessageRatePerSecond', label: 'Maximum message rate per second', type: 'number', min: 1, max: 100, value: room.maximumMessageRatePerSecond ?? 10, hint: '1–100, the whole room' },
    { name: 'reviewUri', label: 'Message review handler', value: room.messageReviewHandler?.uri || '', placeholder: 'arn:aws:lambda:us-east-1:123456789012:function:review', hint: 'Lambda ARN; empty for none' },
    { name: 'fallbackResult', label: 'Review fallback', type: 'select', value: room.messageReviewHandler?.fallbackResult || 'ALLOW',
      options: [{ value: 'ALLOW', label: 'ALLOW (deliver when the handler fails)' }, { value: 'DENY', label: 'DENY (refuse when the handler fails)' }] },
    { name: 'logging', label: 'Logging configurations', type: 'checks', value: room.loggingConfigurationIdentifiers || [],
      options: configs.map((c) => ({ value: c.arn, label: c.name || c.id })) },
    { name: 'history', label: 'ivschatd:history', value: tags['ivschatd:history'] || '', hint: 'messages kept, 1–1000 (extension)' },
    { name: 'replay', label: 'ivschatd:replay', value: tags['ivschatd:replay'] || '', hint: 'kept messages sent on connect, 0–100' },
    { name: 'userRate', label: 'ivschatd:user-rate', value: tags['ivschatd:user-rate'] || '', hint: 'slow mode M/S, e.g. 1/5' },
    { name: 'presence', label: 'ivschatd:presence-events', type: 'select', value: tags['ivschatd:presence-events'] || '',
      options: [{ value: '', label: 'off' }, { value: 'true', label: 'true (join and leave events)' }] },
    { name: 'tags', label: 'Tags', type: 'textarea', value: pairsText(plain), placeholder: 'team=video', hint: 'key=value, one a line' },
  ];
}

function roomTags(v) {
  const tags = parsePairs(v.tags);
  const ext = { 'ivschatd:history': v.history, 'ivschatd:replay': v.replay, 'ivschatd:user-rate': v.userRate, 'ivschatd:presence-events': v.presence };
  for (const [k, val] of Object.entries(ext)) if (val && val.trim()) tags[k] = val.trim();
  return tags;
}

async function loggingConfigurations() {
  if (!allowed('ListLoggingConfigurations')) return [];
  const out = [];
  let nextToken;
  do {
    const page = await api('ListLoggingConfigurations', nextToken ? { nextToken } : {});
    out.push(...page.loggingConfigurations);
    nextToken = page.nextToken;
  } while (nextToken);
  return out;
}

async function createRoom() {
  const configs = await loggingConfigurations().catch(() => []);
  const room = await ask({
    title: 'Create room', confirm: 'Create room', fields: roomFields({}, configs),
    submit: (v) => api('CreateRoom', {
      ...(v.name ? { name: v.name } : {}),
      maximumMessageLength: Number(v.maximumMessageLength),
      maximumMessageRatePerSecond: Number(v.maximumMessageRatePerSecond),
      ...(v.reviewUri ? { messageReviewHandler: { uri: v.reviewUri, fallbackResult: v.fallbackResult } } : {}),
      loggingConfigurationIdentifiers: v.logging,
      tags: roomTags(v),
    }),
  });
  if (room && room.id) location.hash = `#/rooms/${room.id}`;
}

async function editRoom(room) {
  const configs = await loggingConfigurations().catch(() => []);
  await ask({
    title: 'Edit room', confirm: 'Save room', fields: roomFields(room, configs),
    submit: async (v) => {
      const tags = roomTags(v);
      await api('UpdateRoom', {
        identifier: room.arn,
        name: v.name,
        maximumMessageLength: Number(v.maximumMessageLength),
        maximumMessageRatePerSecond: Number(v.maximumMessageRatePerSecond),
        messageReviewHandler: v.reviewUri ? { uri: v.reviewUri, fallbackResult: v.fallbackResult } : { uri: '' },
        loggingConfigurationIdentifiers: v.logging,
      });
      const removed = Object.keys(room.tags || {}).filter((k) => !(k in tags));
      if (removed.length) await api('UntagResource', { resourceArn: room.arn, tagKeys: removed });
      if (Object.keys(tags).length) await api('TagResource', { resourceArn: room.arn, tags });
    },
  });
}

function tagList(tags) {
  const entries = Object.entries(tags || {});
  if (!entries.length) return h('span', { class: 'muted' }, '—');
  return entries.map(([k, v]) => h('span', { class: k.startsWith('ivschatd:') ? 'tag ext' : 'tag' }, `${k}=${v}`));
}

function roomsView() {
  const badge = liveBadge();
  const search = h('input', { type: 'search', class: 'search', placeholder: 'Search by name, id or tag', 'aria-label': 'Search rooms' });
  const list = h('div');
  let rows = null;
  const render = () => {
    if (!rows) return;
    const q = search.value.trim().toLowerCase();
    const shown = rows.filter((r) => !q || [r.name, r.id, r.arn, ...Object.entries(r.tags).map(([k, v]) => `${k}=${v}`)].some((s) => s.toLowerCase().includes(q)));
    if (!rows.length) {
      list.replaceChildren(h('div', { class: 'empty' }, h('strong', {}, 'No rooms yet'),
        allowed('CreateRoom') ? 'Create room to start; then create a chat token and open the demo chat.' : 'This principal may not create rooms; rooms created through the API appear here.'));
      return;
    }
    if (!shown.length) {
      list.replaceChildren(h('div', { class: 'empty' }, h('strong', {}, 'No room matches'), 'Clear the search to see every room.'));
      return;
    }
    list.replaceChildren(h('div', { class: 'table-wrap card flush' }, h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Room'), h('th', { class: 'num', title: 'connections (users) on every node' }, 'Connected'),
        h('th', { class: 'num', title: 'messages in the last minute, counted while this page is open' }, 'Msgs/min'),
        h('th', { class: 'hide-narrow' }, 'Review handler'), h('th', { class: 'hide-narrow' }, 'Logging'), h('th', {}, 'Tags'))),
      h('tbody', {}, shown.map((r) => h('tr', { dataset: { id: r.id } },
        h('td', {}, h('a', { href: `#/rooms/${r.id}` }, r.name || '(no name)'), h('div', { class: 'mono muted' }, r.id)),
        h('td', { class: 'num' }, `${r.connections}`, h('span', { class: 'muted' }, ` (${r.users})`)),
        h('td', { class: 'num' }, String(r.messagesLastMinute)),
        h('td', { class: 'hide-narrow mono' }, r.messageReviewHandler?.uri ? idOf(r.messageReviewHandler.uri.split(':').pop()) : h('span', { class: 'muted' }, '—')),
        h('td', { class: 'hide-narrow mono' }, r.loggingConfigurationIdentifiers.length ? r.loggingConfigurationIdentifiers.map(idOf).join(', ') : h('span', { class: 'muted' }, '—')),
        h('td', {}, tagList(r.tags))))))));
  };
  search.addEventListener('input', render);
  app.replaceChildren(
    h('div', { class: 'page-head' },
      h('div', { class: 'grow' }, h('h1', {}, 'Rooms ', badge.el), h('p', { class: 'muted' }, `Account ${session.accountId}, region ${session.region}. Connected counts are members on every node.`)),
      h('div', { class: 'actions' }, search, allowed('CreateRoom') ? h('button', { type: 'button', class: 'primary', onclick: () => createRoom() }, 'Create room') : null)),
    list);
  list.append(h('p', { class: 'muted' }, 'Loading rooms…'));
  const es = live('/console/live/rooms', {
    rooms: (r) => { rows = r; render(); },
    failure: (e) => flash(list, new Error(e.message)),
    lost: () => {},
  }, badge.set);
  return { close: () => es.close() };
}

// ---- one room ----------------------------------------------------------------------------

function feedItem(p, room, state) {
  if (p.Type === 'MESSAGE') {
    const actions = [];
    if (allowed('DeleteMessage')) {
      actions.push(h('button', { type: 'button', class: 'small danger', onclick: async () => {
        await ask({ title: 'Delete message', text: `“${p.Content}” from ${p.Sender.UserId}`, confirm: 'Delete message', danger: true,
          fields: [{ name: 'reason', label: 'Reason', hint: 'optional, shown to members' }],
          submit: (v) => api('DeleteMessage', { roomIdentifier: room.arn, id: p.Id, ...(v.reason ? { reason: v.reason } : {}) }) });
      } }, 'Delete message'));
    }
    if (allowed('DisconnectUser')) actions.push(disconnectButton(room, p.Sender.UserId));
    if (allowed(BAN)) actions.push(banButton(room, p.Sender.UserId, state.bansChanged));
    return h('li', { class: 'message', dataset: { id: p.Id, user: p.Sender.UserId } },
      h('div', { class: 'body' },
        h('div', { class: 'meta' }, h('strong', {}, p.Sender.UserId), ' · ', h('time', { datetime: p.SendTime }, clock(p.SendTime)), ' · ', h('span', { class: 'mono' }, p.Id)),
        h('div', { class: 'content' }, p.Content)),
      actions);
  }
  const a = p.Attributes || {};
  let text;
  if (p.EventName === 'aws:DELETE_MESSAGE') {
    const id = a.MessageId || a.MessageID;
    const li = state.feed.querySelector(`li.message[data-id="${CSS.escape(id)}"]`);
    if (li) {
      li.classList.add('deleted');
      li.querySelectorAll('button').forEach((b) => b.remove());
    }
    text = `Message ${id} deleted${a.Reason ? `: ${a.Reason}` : ''}`;
  } else if (p.EventName === 'aws:DISCONNECT_USER') {
    text = `${a.UserId} disconnected${a.Reason ? `: ${a.Reason}` : ''}`;
  } else {
    const attrs = Object.entries(a).map(([k, v]) => `${k}=${v}`).join(', ');
    text = `Event ${p.EventName}${attrs ? ` (${attrs})` : ''}`;
  }
  return h('li', { class: 'event', dataset: { id: p.Id } },
    h('div', { class: 'body' }, h('div', { class: 'meta' }, h('time', { datetime: p.SendTime }, clock(p.SendTime))), text));
}

function disconnectButton(room, userId) {
  return h('button', { type: 'button', class: 'small', onclick: () => ask({
    title: 'Disconnect', text: `Closes every connection of ${userId} in this room. They may reconnect with a new token.`, confirm: 'Disconnect', danger: true,
    fields: [{ name: 'reason', label: 'Reason', hint: 'optional, shown to members' }],
    submit: (v) => api('DisconnectUser', { roomIdentifier: room.arn, userId, ...(v.reason ? { reason: v.reason } : {}) }),
  }) }, 'Disconnect');
}

const BAN = 'ivschatd:BanUser';
const LIST_MESSAGES = 'ivschatd:ListRoomMessages';

// loadHistory puts the messages the room keeps (ivschatd:history) at the top of the feed,
// oldest first, before what arrived live meanwhile; a message already shown live is not shown twice.
async function loadHistory(room, state, feedEmpty) {
  let kept;
  try {
    kept = (await api(LIST_MESSAGES, { roomIdentifier: room.arn, maxResults: 100 })).messages;
  } catch (err) {
    state.feed.prepend(h('li', { class: 'event' }, h('div', { class: 'body' }, `History could not be read: ${err.message}`)));
    return;
  }
  const first = state.feed.firstChild;
  for (const p of kept.reverse()) {
    if (state.feed.querySelector(`li[data-id="${CSS.escape(p.Id)}"]`)) continue;
    const li = feedItem(p, room, state);
    li.classList.add('kept');
    state.feed.insertBefore(li, first);
  }
  if (kept.length) feedEmpty.hidden = true;
}

function banButton(room, userId, onBanned) {
  return h('button', { type: 'button', class: 'small danger', onclick: async () => {
    const done = await ask({
      title: 'Ban', text: `Disconnects ${userId} and refuses them new tokens and connections to this room.`, confirm: 'Ban', danger: true,
      fields: [{ name: 'duration', label: 'Duration in seconds', type: 'number', min: 1, hint: 'empty: until unbanned' },
        { name: 'reason', label: 'Reason', hint: 'optional' }],
      submit: async (v) => {
        await api(BAN, { roomIdentifier: room.arn, userId, ...(v.duration ? { durationSeconds: Number(v.duration) } : {}), ...(v.reason ? { reason: v.reason } : {}) });
        if (allowed('DisconnectUser')) await api('DisconnectUser', { roomIdentifier: room.arn, userId, reason: v.reason || 'banned' });
      },
    });
    if (done && onBanned) onBanned();
  } }, 'Ban');
}

function bansCard(room) {
  const list = h('ul', { class: 'members', 'aria-label': 'Bans' });
  const errors = h('div');
  const load = async () => {
    try {
      const out = await api('ivschatd:ListBans', { roomIdentifier: room.arn });
      list.replaceChildren(...(out.bans.length ? out.bans.map((b) => h('li', { dataset: { user: b.userId } },
        h('span', { class: 'name' }, b.userId),
        h('span', { class: 'muted' }, b.expireTime ? `until ${fmtTime(b.expireTime)}` : 'until unbanned', b.reason ? ` · ${b.reason}` : ''),
        allowed('ivschatd:UnbanUser') ? h('button', { type: 'button', class: 'small', onclick: async () => {
          await api('ivschatd:UnbanUser', { roomIdentifier: room.arn, userId: b.userId });
          load();
        } }, 'Unban') : null)) : [h('li', { class: 'muted' }, 'Nobody is banned. Ban a user from the connected list or a message.')]));
    } catch (err) {
      flash(errors, err);
    }
  };
  load();
  return { el: h('section', { class: 'card', 'aria-label': 'Bans' }, h('h2', {}, 'Bans'), errors, list), load };
}

function settingsList(room) {
  const rows = [
    ['ARN', h('span', { class: 'mono' }, room.arn)],
    ['Maximum message length', room.maximumMessageLength],
    ['Maximum message rate', `${room.maximumMessageRatePerSecond} per second`],
    ['Review handler', room.messageReviewHandler?.uri ? `${room.messageReviewHandler.uri} (fallback ${room.messageReviewHandler.fallbackResult})` : '—'],
    ['Logging configurations', room.loggingConfigurationIdentifiers?.length ? room.loggingConfigurationIdentifiers.map(idOf).join(', ') : '—'],
    ['Tags', tagList(room.tags)],
    ['Created', fmtTime(room.createTime)],
    ['Updated', fmtTime(room.updateTime)],
  ];
  return h('dl', { class: 'kv' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function tokenCard(room) {
  const out = h('div', { class: 'token-out' });
  const user = h('input', { name: 'userId', required: true, placeholder: 'alice', autocomplete: 'off' });
  const caps = ['SEND_MESSAGE', 'DELETE_MESSAGE', 'DISCONNECT_USER'].map((c) =>
    h('label', { class: 'check' }, h('input', { type: 'checkbox', value: c, checked: c === 'SEND_MESSAGE' }), c));
  const minutes = h('input', { name: 'sessionDurationInMinutes', type: 'number', min: 1, max: 180, value: 60 });
  const attrs = h('textarea', { name: 'attributes', rows: 2, placeholder: 'displayName=Alice' });
  const errors = h('div');
  const form = h('form', {},
    h('h2', {}, 'Chat token'), errors,
    h('label', {}, 'User id', user),
    h('fieldset', {}, h('legend', {}, 'Capabilities'), caps),
    h('div', { class: 'row' }, h('label', {}, 'Session minutes', minutes), h('label', {}, 'Attributes', h('span', { class: 'hint' }, ' key=value'), attrs)),
    h('button', { type: 'submit', class: 'primary' }, 'Create chat token'), out);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    flash(errors);
    try {
      const t = await api('CreateChatToken', {
        roomIdentifier: room.arn, userId: user.value.trim(),
        capabilities: caps.map((l) => l.querySelector('input')).filter((i) => i.checked).map((i) => i.value),
        sessionDurationInMinutes: Number(minutes.value), attributes: parsePairs(attrs.value),
      });
      out.replaceChildren(
        h('label', {}, `Token for ${user.value.trim()}`, h('span', { class: 'hint' }, ` single use; expires ${clock(t.tokenExpirationTime)}, session until ${clock(t.sessionExpirationTime)}`),
          h('textarea', { readonly: true, 'aria-label': 'Chat token' }, t.token)),
        h('a', { class: 'button', href: `/demo#token=${encodeURIComponent(t.token)}`, target: '_blank', rel: 'noopener' }, 'Open demo chat'));
    } catch (err) {
      flash(errors, err);
    }
  });
  return h('section', { class: 'card', 'aria-label': 'Chat token' }, form);
}

function sendEventCard(room) {
  const name = h('input', { name: 'eventName', required: true, placeholder: 'app:announcement', autocomplete: 'off' });
  const attrs = h('textarea', { name: 'attributes', rows: 2, placeholder: 'text=Stream starts in 5 minutes' });
  const errors = h('div');
  const form = h('form', {}, h('h2', {}, 'Event'), errors, h('label', {}, 'Event name', name),
    h('label', {}, 'Attributes', h('span', { class: 'hint' }, ' key=value, one a line'), attrs),
    h('button', { type: 'submit', class: 'primary' }, 'Send event'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('SendEvent', { roomIdentifier: room.arn, eventName: name.value.trim(), attributes: parsePairs(attrs.value) });
      flash(errors, 'Sent.', true);
    } catch (err) {
      flash(errors, err);
    }
  });
  return h('section', { class: 'card', 'aria-label': 'Send event' }, form);
}

function roomView(id) {
  const badge = liveBadge();
  const head = h('div', { class: 'page-head' });
  const feed = h('ol', { class: 'feed', 'aria-label': 'Messages and events' });
  const feedEmpty = h('div', { class: 'empty' }, h('strong', {}, 'Nothing yet'), 'Messages and events appear here as they happen. Create a chat token and open the demo chat, or send an event.');
  const members = h('ul', { class: 'members', 'aria-label': 'Connected users' });
  const membersEmpty = h('p', { class: 'muted' }, 'Nobody is connected.');
  const settings = h('div');
  const side = h('div');
  const state = { feed, room: null, bansChanged: () => {} };
  app.replaceChildren(head, h('div', { class: 'grid' },
    h('div', {},
      h('section', { class: 'card', 'aria-label': 'Messages and events' }, h('h2', {}, 'Messages and events ', badge.el), feed, feedEmpty),
      h('section', { class: 'card', 'aria-label': 'Settings' }, h('h2', {}, 'Settings'), settings)),
    side));
  const renderHead = (room) => {
    head.replaceChildren(
      h('div', { class: 'grow' }, h('p', { class: 'muted' }, h('a', { href: '#/rooms' }, 'Rooms'), ' / ', room.id), h('h1', {}, room.name || '(no name)')),
      h('div', { class: 'actions' },
        allowed('CreateChatToken') ? h('a', { class: 'button', href: `/demo?room=${encodeURIComponent(room.arn)}&user=viewer-${Math.random().toString(36).slice(2, 7)}`, target: '_blank', rel: 'noopener' }, 'Open demo chat') : null,
        allowed('UpdateRoom') ? h('button', { type: 'button', onclick: () => editRoom(state.room) }, 'Edit room') : null,
        allowed('DeleteRoom') ? h('button', { type: 'button', class: 'danger', onclick: () => ask({
          title: 'Delete room', text: `Deletes ${room.name || room.id} and disconnects everyone in it. This cannot be undone.`, confirm: 'Delete room', danger: true,
          submit: async () => { await api('DeleteRoom', { identifier: room.arn }); location.hash = '#/rooms'; },
        }) }, 'Delete room') : null));
  };
  let sideBuilt = false;
  const es = live(`/console/live/rooms/${encodeURIComponent(id)}`, {
    room: (room) => {
      state.room = room;
      renderHead(room);
      settings.replaceChildren(settingsList(room));
      if (!sideBuilt) {
        sideBuilt = true;
        if (room.tags?.['ivschatd:history'] && allowed(LIST_MESSAGES)) loadHistory(room, state, feedEmpty);
        side.append(
          h('section', { class: 'card', 'aria-label': 'Connected now' }, h('h2', {}, 'Connected now'),
            h('p', { class: 'muted' }, allowed('ivschatd:ListRoomUsers') ? 'Users with a connection to any node.' : 'This principal lacks the action ivschatd:ListRoomUsers, which lists them.'), members, membersEmpty,
            allowed(BAN) ? null : h('p', { class: 'gap' }, 'Ban: this principal lacks the action ivschatd:BanUser; Disconnect ends the connections, and the user can reconnect with a new token.')),
          allowed('ivschatd:ListBans') ? (() => { const b = bansCard(room); state.bansChanged = b.load; return b.el; })() : null,
          allowed('SendEvent') ? sendEventCard(room) : null,
          allowed('CreateChatToken') ? tokenCard(room) : null);
      }
    },
    members: (list) => {
      membersEmpty.hidden = list.length > 0;
      members.replaceChildren(...list.map((m) => h('li', { dataset: { user: m.userId } },
        h('span', { class: 'name' }, m.userId), h('span', { class: 'muted' }, m.connections === 1 ? '1 connection' : `${m.connections} connections`),
        allowed('DisconnectUser') && state.room ? disconnectButton(state.room, m.userId) : null,
        allowed(BAN) && state.room ? banButton(state.room, m.userId, state.bansChanged) : null)));
    },
    payload: (p) => {
      feedEmpty.hidden = true;
      feed.append(feedItem(p, state.room, state));
      feed.scrollTop = feed.scrollHeight;
    },
    deleted: () => {
      es.close();
      app.replaceChildren(h('div', { class: 'empty' }, h('strong', {}, 'This room was deleted'), h('a', { href: '#/rooms' }, 'Back to the rooms')));
    },
    lost: (e) => feed.append(h('li', { class: 'event' }, h('div', { class: 'body' }, e.message))),
  }, badge.set);
  es.addEventListener('error', async () => {
    if (es.readyState !== EventSource.CLOSED) return;
    // The stream was refused: say why (the room is gone, or not this account's).
    try {
      await api('GetRoom', { identifier: `arn:aws:ivschat:${session.region}:${session.accountId}:room/${id}` });
    } catch (err) {
      app.replaceChildren(h('div', { class: 'empty' }, h('strong', {}, 'Cannot show this room'), `${err.message}. `, h('a', { href: '#/rooms' }, 'Back to the rooms')));
    }
  });
  return { close: () => es.close() };
}

// ---- logging configurations -----------------------------------------------------------------

function destinationOf(c) {
  const d = c.destinationConfiguration || {};
  if (d.s3) return ['s3', d.s3.bucketName, `S3 bucket ${d.s3.bucketName}`];
  if (d.cloudWatchLogs) return ['cloudWatchLogs', d.cloudWatchLogs.logGroupName, `CloudWatch Logs group ${d.cloudWatchLogs.logGroupName}`];
  if (d.firehose) return ['firehose', d.firehose.deliveryStreamName, `Firehose stream ${d.firehose.deliveryStreamName}`];
  return ['s3', '', '—'];
}

function destinationBody(type, value) {
  const key = { s3: 'bucketName', cloudWatchLogs: 'logGroupName', firehose: 'deliveryStreamName' }[type];
  return { [type]: { [key]: value } };
}

function loggingFields(c = {}) {
  const [type, value] = c.arn ? destinationOf(c) : ['s3', ''];
  return [
    { name: 'name', label: 'Name', value: c.name },
    { name: 'type', label: 'Destination', type: 'select', value: type, options: [
      { value: 's3', label: 'S3 bucket' }, { value: 'cloudWatchLogs', label: 'CloudWatch Logs group' }, { value: 'firehose', label: 'Firehose delivery stream' }] },
    { name: 'value', label: 'Bucket, log group or stream name', value, required: true },
    ...(c.arn ? [] : [{ name: 'tags', label: 'Tags', type: 'textarea', placeholder: 'team=video', hint: 'key=value, one a line' }]),
  ];
}

function loggingView() {
  const list = h('div');
  const errors = h('div');
  const load = async () => {
    try {
      const configs = await loggingConfigurations();
      if (!configs.length) {
        list.replaceChildren(h('div', { class: 'empty' }, h('strong', {}, 'No logging configurations'),
          'Create logging configuration to keep a room\'s messages and events in S3, CloudWatch Logs or Firehose; then attach it to a room with Edit room.'));
        return;
      }
      list.replaceChildren(h('div', { class: 'table-wrap card flush' }, h('table', {},
        h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Destination'), h('th', {}, 'State'), h('th', { class: 'hide-narrow' }, 'Tags'), h('th', {}, ''))),
        h('tbody', {}, configs.map((c) => h('tr', { dataset: { id: c.id } },
          h('td', {}, c.name || '(no name)', h('div', { class: 'mono muted' }, c.id)),
          h('td', {}, destinationOf(c)[2]),
          h('td', {}, h('span', { class: c.state === 'ACTIVE' ? 'pill live' : 'pill' }, c.state)),
          h('td', { class: 'hide-narrow' }, tagList(c.tags)),
          h('td', {},
            allowed('UpdateLoggingConfiguration') ? h('button', { type: 'button', class: 'small', onclick: async () => {
              await ask({ title: 'Edit logging configuration', confirm: 'Save logging configuration', fields: loggingFields(c),
                submit: (v) => api('UpdateLoggingConfiguration', { identifier: c.arn, name: v.name, destinationConfiguration: destinationBody(v.type, v.value) }) });
              load();
            } }, 'Edit logging configuration') : null, ' ',
            allowed('DeleteLoggingConfiguration') ? h('button', { type: 'button', class: 'small danger', onclick: async () => {
              await ask({ title: 'Delete logging configuration', text: `Deletes ${c.name || c.id}. A room that uses it must drop it first.`, confirm: 'Delete logging configuration', danger: true,
                submit: () => api('DeleteLoggingConfiguration', { identifier: c.arn }) });
              load();
            } }, 'Delete logging configuration') : null)))))));
    } catch (err) {
      flash(errors, err);
    }
  };
  app.replaceChildren(
    h('div', { class: 'page-head' },
      h('div', { class: 'grow' }, h('h1', {}, 'Logging configurations'), h('p', { class: 'muted' }, 'Where rooms send their chat logs.')),
      h('div', { class: 'actions' }, allowed('CreateLoggingConfiguration') ? h('button', { type: 'button', class: 'primary', onclick: async () => {
        await ask({ title: 'Create logging configuration', confirm: 'Create logging configuration', fields: loggingFields(),
          submit: (v) => api('CreateLoggingConfiguration', { ...(v.name ? { name: v.name } : {}), destinationConfiguration: destinationBody(v.type, v.value), tags: parsePairs(v.tags) }) });
        load();
      } }, 'Create logging configuration') : null)),
    errors, list);
  load();
  return { close: () => {} };
}

// ---- routing ----------------------------------------------------------------------------------

function route() {
  if (!session) return;
  if (view) view.close();
  const hash = location.hash || '#/rooms';
  const m = /^#\/rooms\/([A-Za-z0-9]+)$/.exec(hash);
  const section = hash.startsWith('#/logging') ? 'logging' : 'rooms';
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  view = m ? roomView(m[1]) : section === 'logging' ? loggingView() : roomsView();
}

window.addEventListener('hashchange', route);
document.getElementById('sign-out').addEventListener('click', async () => {
  await signOut();
  showSignIn();
});

(async () => {
  try {
    session = await getSession();
  } catch (err) {
    app.replaceChildren(h('div', { class: 'flash', role: 'alert' }, `Cannot reach the console: ${err.message}`));
    return;
  }
  if (session) signedIn();
  else showSignIn();
})();
