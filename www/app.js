// The live channel page: one channel, three transports (EventSource,
// WebSocket, long-poll) switched live, resume from the last id seen, gap
// signals shown as they come. Talks only to the gateway that served it.
//
// Query parameters: channel=NAME, transport=sse|ws|longpoll,
// reconnect_ms=N (first reconnect delay, doubled per failed attempt up to
// 15 s; default 1000), history=0 (start live instead of replaying history).
import { el, clock, idTime, wireCopyButtons, origin, wsOrigin } from './common.js';

const CHANNEL_RE = /^[A-Za-z0-9_.:-]{1,128}$/;
const TRANSPORTS = { sse: 'EventSource', ws: 'WebSocket', longpoll: 'Long-poll' };
const MAX_SHOWN = 500;
const MAX_LOG = 100;
const OPEN_TIMEOUT_MS = 10000; // a connection that does not open by then is retried

const params = new URLSearchParams(location.search);
const intParam = (name, fallback, min, max) => {
  const n = Number.parseInt(params.get(name) ?? '', 10);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : fallback;
};
const settings = {
  reconnectMs: intParam('reconnect_ms', 1000, 50, 60000),
  history: params.get('history') !== '0',
};
settings.maxReconnectMs = Math.max(15000, settings.reconnectMs);

const $ = (id) => document.getElementById(id);
const ui = {
  channelForm: $('channel-form'), channel: $('channel'), feedChannel: $('feed-channel'),
  state: $('state'), stateNote: $('state-note'), lastId: $('last-id'), toggle: $('toggle'), retry: $('retry'),
  messages: $('messages'), empty: $('empty'), count: $('count'), clear: $('clear'),
  composer: $('composer'), text: $('composer-text'), viaPost: $('via-post'), viaWs: $('via-ws'),
  sendResult: $('send-result'), log: $('log'), infoLink: $('info-link'),
  curlStream: $('curl-stream'), curlSse: $('curl-sse'), curlResume: $('curl-resume'), curlPost: $('curl-post'),
};

const app = {
  channel: CHANNEL_RE.test(params.get('channel') ?? '') ? params.get('channel') : 'news',
  transport: TRANSPORTS[params.get('transport')] ? params.get('transport') : 'sse',
  lastId: null, // id of the last message shown: where the next connection resumes
  session: null, // the current connection attempt
  attempt: 0, // failed attempts since the last open
  retryTimer: null,
  paused: false,
  mine: new Set(), // ids this page published
  pending: new Map(), // WebSocket publish ref -> {resolve, timer}
  refs: 0,
  sendVia: 'post', // the user's choice; WebSocket only while one is open
};

// ---------------------------------------------------------------- state

function setState(kind, note = '') {
  ui.state.dataset.state = kind;
  ui.state.textContent = kind;
  ui.stateNote.textContent = note;
  ui.retry.hidden = kind !== 'reconnecting';
  const wsOpen = app.session?.transport === 'ws' && kind === 'open';
  ui.viaWs.disabled = !wsOpen;
  (wsOpen && app.sendVia === 'ws' ? ui.viaWs : ui.viaPost).checked = true;
}

function addNote(session, text) {
  session.notes.push(text);
  if (app.session === session) setState(ui.state.dataset.state, session.notes.join(' · '));
}

function log(text, kind = '') {
  const now = new Date();
  ui.log.prepend(el('li', { class: kind }, el('time', { datetime: now.toISOString() }, clock(now)), ' ', text));
  while (ui.log.children.length > MAX_LOG) ui.log.lastElementChild.remove();
}

function setLastId(id) {
  app.lastId = id;
  ui.lastId.textContent = id;
  renderCommands();
}

// ---------------------------------------------------------------- messages

function updateCount() {
  const n = ui.messages.querySelectorAll('.msg').length;
  ui.count.textContent = String(n);
  ui.empty.hidden = ui.messages.children.length > 0;
}

function nearBottom() {
  const m = ui.messages;
  return m.scrollHeight - m.scrollTop - m.clientHeight < 80;
}

function append(node) {
  const stick = nearBottom();
  ui.messages.append(node);
  const msgs = ui.messages.querySelectorAll('.msg');
  for (let i = 0; i < msgs.length - MAX_SHOWN; i++) msgs[i].remove();
  updateCount();
  if (stick) ui.messages.scrollTop = ui.messages.scrollHeight;
}

function addMessage(env, transport) {
  const arrived = new Date();
  const published = idTime(env.id);
  const delay = published ? arrived - published : null;
  const title = published
    ? `published ${clock(published)}, arrived ${delay} ms later`
    : 'arrival time';
  const mine = app.mine.has(env.id);
  append(el('li', {
    class: mine ? 'msg mine' : 'msg',
    dataset: { id: env.id, channel: env.channel, transport },
  },
  el('div', { class: 'msg-meta' },
    el('span', { class: 'msg-channel', title: 'channel' }, `#${env.channel}`),
    env.event ? el('span', { class: 'msg-event', title: 'event name' }, env.event) : null,
    el('code', { class: 'msg-id', title: 'message id' }, env.id),
    el('span', { class: 'msg-via', title: 'received over' }, TRANSPORTS[transport]),
    el('span', { class: 'msg-you' }, 'you'),
    el('time', { class: 'msg-time', datetime: arrived.toISOString(), title }, clock(arrived))),
  el('div', { class: 'msg-data' }, env.data)));
}

function addDivider(text, kind = '') {
  append(el('li', { class: `divider ${kind}`, role: 'note' }, el('span', {}, text)));
}

function markMine(id) {
  app.mine.add(id);
  for (const li of ui.messages.querySelectorAll('.msg')) if (li.dataset.id === id) li.classList.add('mine');
}

// ---------------------------------------------------------------- gaps

function gapText(g) {
  const after = g.last_event_id ? ` after id ${g.last_event_id}` : '';
  const from = g.first_id ? `history now starts at ${g.first_id}` : 'history is empty';
  switch (g.reason) {
    case 'restarted': return `the gateway restarted: messages${after} may be lost; ${from}`;
    case 'evicted': return `messages${after} were evicted from history; ${from}`;
    case 'unknown': return `id ${g.last_event_id} is newer than anything this gateway gave; ${from}`;
    default: return `${g.reason || 'unknown reason'}; ${from}`;
  }
}

// "news; reason=evicted; first_id=1-0, sports; reason=..." -> [{channel, reason, first_id}]
function parseGapHeader(value, lastEventId) {
  return value.split(',').map((entry) => {
    const [channel, ...pairs] = entry.split(';').map((s) => s.trim());
    const g = { type: 'gap', channel, last_event_id: lastEventId, first_id: null, reason: '' };
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      if (eq > 0) g[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    if (g.first_id === 'null' || g.first_id === '') g.first_id = null;
    return g;
  });
}

// ---------------------------------------------------------------- transports
// Each takes (session, events) and returns a stop function. events:
// open(), message(envelope), cursor(id), gap(signal), control(json),
// drop(reason, fatal).

function query(session, extra = {}) {
  const q = new URLSearchParams(extra);
  if (session.from) q.set('last_event_id', session.from);
  return q.toString();
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function openEventSource(session, on) {
  // every data line is the JSON envelope, so the page sees the channel and
  // id; the page reconnects itself, with the id in the URL, so the URL
  // never holds a stale last_event_id
  const es = new EventSource(`/channels/${session.channel}?${query(session, { format: 'json' })}`);
  es.onopen = () => on.open();
  es.onmessage = (e) => {
    const env = parseJson(e.data);
    if (env && typeof env.id === 'string') on.message(env);
    else log(`not an envelope: ${e.data}`, 'warn');
  };
  es.addEventListener('sg.gap', (e) => {
    const g = parseJson(e.data);
    if (g) on.gap(g);
  });
  es.onerror = () => on.drop(session.opened ? 'the stream ended' : 'cannot connect');
  return () => es.close();
}

function openWebSocket(session, on) {
  const ws = new WebSocket(`${wsOrigin}/channels/${session.channel}?${query(session, { format: 'json' })}`);
  session.socket = ws;
  ws.onopen = () => on.open();
  ws.onmessage = (e) => {
    const msg = parseJson(e.data);
    if (!msg) log(`not JSON: ${e.data}`, 'warn');
    else if (msg.type) on.control(msg);
    else on.message(msg);
  };
  ws.onclose = (e) => {
    const why = e.code === 1006 ? 'the connection was lost' : `closed ${e.code}${e.reason ? `: ${e.reason}` : ''}`;
    // 1008 refuses the request (bad channel, forbidden), except a slow consumer
    const fatal = e.code === 1008 && !/^slow consumer/.test(e.reason);
    on.drop(session.opened || e.code !== 1006 ? why : 'cannot connect', fatal);
  };
  return () => {
    ws.onopen = ws.onmessage = ws.onclose = null;
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close(1000, 'bye');
  };
}

function openLongPoll(session, on) {
  const abort = new AbortController();
  const { signal } = abort;
  let cursor = session.from;
  (async () => {
    // a long-poll answers only when there is something to say, so a quick
    // health check tells "the gateway is there" apart from "nothing yet"
    try {
      const health = await fetch('/healthz', { signal, cache: 'no-store' });
      if (!health.ok) throw new Error(`HTTP ${health.status}`);
    } catch {
      if (!signal.aborted) on.drop('cannot connect');
      return;
    }
    on.open();
    while (!signal.aborted) {
      const q = new URLSearchParams({ transport: 'longpoll' });
      if (cursor) q.set('last_event_id', cursor);
      const asked = Date.now();
      let res;
      let body;
      try {
        res = await fetch(`/channels/${session.channel}?${q}`, { signal, cache: 'no-store' });
        body = await res.text();
      } catch {
        if (!signal.aborted) on.drop('the poll failed');
        return;
      }
      if (signal.aborted) return;
      if (!res.ok) {
        const err = parseJson(body);
        on.drop(`HTTP ${res.status}${err ? ` ${err.error}: ${err.detail}` : ''}`, res.status < 500);
        return;
      }
      const gap = res.headers.get('X-Streamgate-Gap');
      if (gap) for (const g of parseGapHeader(gap, cursor)) on.gap(g);
      const list = parseJson(body);
      for (const env of Array.isArray(list) ? list : []) on.message(env);
      const next = res.headers.get('Last-Event-ID');
      if (next) {
        cursor = next;
        on.cursor(next);
      }
      // an empty answer at once (a gateway shutting down) is not a reason to spin
      if (!list?.length && Date.now() - asked < 200) await new Promise((r) => setTimeout(r, 500));
    }
  })();
  return () => abort.abort();
}

const OPENERS = { sse: openEventSource, ws: openWebSocket, longpoll: openLongPoll };

// ---------------------------------------------------------------- connection

function stopSession() {
  clearTimeout(app.retryTimer);
  app.retryTimer = null;
  const s = app.session;
  if (s && !s.closed) {
    s.closed = true;
    clearTimeout(s.openTimer);
    s.stop?.();
  }
}

function connect(reason) {
  stopSession();
  app.paused = false;
  ui.toggle.textContent = 'Disconnect';
  const resumeFrom = app.lastId;
  const session = {
    transport: app.transport,
    channel: app.channel,
    from: resumeFrom ?? (settings.history ? '0' : null),
    resumed: resumeFrom !== null,
    opened: false,
    closed: false,
    notes: [],
  };
  app.session = session;
  const name = TRANSPORTS[session.transport];
  setState(app.attempt ? 'reconnecting' : 'connecting',
    `${name} to #${session.channel}${session.resumed ? `, resuming after id ${resumeFrom}` : ''}`);
  const doing = { connect: 'connecting', reconnect: 'reconnecting' }[reason] ?? `switching ${reason}`;
  log(`${doing}: ${name} to #${session.channel}${session.resumed ? `, after id ${resumeFrom}` : ''}`);
  const live = () => app.session === session && !session.closed;
  const on = {
    open() {
      if (!live()) return;
      clearTimeout(session.openTimer);
      session.opened = true;
      app.attempt = 0;
      let note;
      if (session.resumed) note = `resumed from id ${session.from}`;
      else if (session.from === '0') note = 'replaying history, then live';
      else note = 'live from now';
      session.notes = [note];
      setState('open', note);
      log(`open (${name}): ${note}`, 'ok');
      if (session.resumed && reason !== 'connect') addDivider(`${reason === 'reconnect' ? `Reconnected over ${name}` : `Switched ${reason} to ${name}`} — ${note}`);
    },
    message(env) {
      if (!live() || !env || typeof env.id !== 'string') return;
      addMessage(env, session.transport);
      setLastId(env.id);
    },
    cursor(id) {
      if (live() && id !== '0') setLastId(id);
    },
    gap(g) {
      if (!live()) return;
      const text = gapText(g);
      addNote(session, `gap signalled (${g.reason})`);
      log(`gap signalled: ${text}`, 'warn');
      addDivider(`Gap signalled: ${text}`, 'gap');
    },
    control(msg) {
      if (!live()) return;
      if (msg.type === 'gap') this.gap(msg);
      else if (msg.ref && app.pending.has(msg.ref)) {
        const p = app.pending.get(msg.ref);
        app.pending.delete(msg.ref);
        clearTimeout(p.timer);
        p.resolve(msg);
      } else if (msg.type === 'error') log(`error from the gateway: ${msg.error}: ${msg.detail}`, 'warn');
      else log(`${msg.type}${msg.channel ? ` #${msg.channel}` : ''}`);
    },
    drop(why, fatal = false) {
      if (!live()) return;
      session.closed = true;
      clearTimeout(session.openTimer);
      session.stop?.();
      if (fatal) {
        setState('error', why);
        log(`stopped: ${why}`, 'error');
        ui.toggle.textContent = 'Connect';
        app.paused = true;
        return;
      }
      app.attempt += 1;
      const delay = Math.min(settings.reconnectMs * 2 ** (app.attempt - 1), settings.maxReconnectMs);
      const secs = (delay / 1000).toFixed(1);
      setState('reconnecting', `${why}; retrying in ${secs} s (attempt ${app.attempt})`);
      log(`${why}; reconnecting in ${secs} s`, 'warn');
      app.retryTimer = setTimeout(() => connect('reconnect'), delay);
    },
  };
  session.openTimer = setTimeout(() => on.drop(`no answer within ${OPEN_TIMEOUT_MS / 1000} s`), OPEN_TIMEOUT_MS);
  session.stop = OPENERS[session.transport](session, on);
}

function disconnect() {
  stopSession();
  app.paused = true;
  app.attempt = 0;
  ui.toggle.textContent = 'Connect';
  setState('closed', app.lastId ? `Connect resumes after id ${app.lastId}` : 'disconnected');
  log('disconnected by you');
}

// ---------------------------------------------------------------- sending

function sendOverWebSocket(text) {
  const ws = app.session?.socket;
  if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new Error('the WebSocket is not open'));
  const ref = `r${++app.refs}`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      app.pending.delete(ref);
      reject(new Error('no reply within 5 s'));
    }, 5000);
    app.pending.set(ref, { resolve, timer });
    ws.send(JSON.stringify({ type: 'publish', channel: app.channel, data: text, ref }));
  });
}

async function sendOverPost(text) {
  const res = await fetch(`/channels/${app.channel}`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/plain; charset=utf-8' },
    body: text,
  });
  const body = parseJson(await res.text()) || {};
  if (!res.ok) return { type: 'error', error: body.error || `HTTP ${res.status}`, detail: body.detail || '' };
  return { type: 'published', ...body };
}

async function send(ev) {
  ev.preventDefault();
  const text = ui.text.value;
  if (text === '') {
    ui.text.focus();
    return;
  }
  const overWs = ui.viaWs.checked && !ui.viaWs.disabled;
  const via = overWs ? 'WebSocket' : 'HTTP POST';
  ui.sendResult.className = 'send-result';
  let reply;
  try {
    reply = overWs ? await sendOverWebSocket(text) : await sendOverPost(text);
  } catch (err) {
    ui.sendResult.className = 'send-result bad';
    ui.sendResult.textContent = `Not sent over ${via}: ${err.message === 'Failed to fetch' ? 'the gateway is unreachable' : err.message}`;
    return;
  }
  if (reply.type !== 'published') {
    ui.sendResult.className = 'send-result bad';
    ui.sendResult.textContent = `Refused over ${via}: ${reply.error}${reply.detail ? ` — ${reply.detail}` : ''}`;
    return;
  }
  markMine(reply.id);
  const n = reply.subscribers;
  ui.sendResult.className = 'send-result ok';
  ui.sendResult.textContent = `Sent over ${via} · id ${reply.id} · delivered to ${n} subscriber${n === 1 ? '' : 's'}`;
  ui.text.value = '';
  ui.text.focus();
}

// ---------------------------------------------------------------- page

function renderCommands() {
  const url = `${origin}/channels/${app.channel}`;
  ui.curlStream.textContent = `curl -N ${url}`;
  ui.curlSse.textContent = `curl -N -H 'Accept: text/event-stream' ${url}`;
  ui.curlResume.textContent = `curl -N '${url}?transport=ndjson&last_event_id=${app.lastId ?? 0}'`;
  ui.curlPost.textContent = `curl -d 'hello' ${url}`;
  ui.infoLink.href = `/channels/${app.channel}/info`;
}

function syncUrl() {
  const q = new URLSearchParams(location.search);
  q.set('channel', app.channel);
  q.set('transport', app.transport);
  history.replaceState(null, '', `${location.pathname}?${q}`);
}

function joinChannel(name) {
  app.channel = name;
  app.lastId = null;
  app.attempt = 0;
  ui.lastId.textContent = 'none yet';
  ui.messages.replaceChildren();
  updateCount();
  ui.channel.value = name;
  ui.feedChannel.textContent = name;
  document.title = `#${name} — streamgate`;
  renderCommands();
  syncUrl();
  connect('connect');
}

ui.channelForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const name = ui.channel.value.trim();
  if (!CHANNEL_RE.test(name)) {
    ui.channel.reportValidity();
    return;
  }
  if (name !== app.channel || app.paused) joinChannel(name);
});

for (const radio of document.querySelectorAll('input[name="transport"]')) {
  radio.checked = radio.value === app.transport;
  radio.addEventListener('change', () => {
    if (!radio.checked || radio.value === app.transport) return;
    const from = TRANSPORTS[app.transport];
    app.transport = radio.value;
    app.attempt = 0;
    syncUrl();
    if (radio.value === 'ws') app.sendVia = 'ws';
    connect(`from ${from}`);
  });
}

ui.toggle.addEventListener('click', () => (app.paused ? connect('connect') : disconnect()));
ui.retry.addEventListener('click', () => connect('reconnect'));
ui.clear.addEventListener('click', () => {
  ui.messages.replaceChildren();
  updateCount();
});
ui.composer.addEventListener('submit', send);
ui.text.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    ui.composer.requestSubmit();
  }
});
window.addEventListener('pagehide', stopSession);
wireCopyButtons();
for (const radio of [ui.viaPost, ui.viaWs]) radio.addEventListener('change', () => (app.sendVia = radio.value));
if (app.transport === 'ws') app.sendVia = 'ws';
joinChannel(app.channel);
