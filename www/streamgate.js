// streamgate.js — the gateway's browser client, served at /streamgate.js.
// One connection for several channels: a WebSocket that reconnects with
// backoff and resumes each channel from the last id it delivered, or, when
// WebSockets cannot open, long-polling with the same resume. Gaps the gateway
// signals are passed on, never hidden; a message is delivered at most once.
// No dependencies; nothing here talks to anything but the gateway.
//
//   import { connect } from '/streamgate.js';
//   const sg = connect('', { channels: ['news', 'sports'] });
//   sg.on('message', (m) => console.log(m.channel, m.id, m.data));
//   sg.on('gap', (g) => console.warn('lost on', g.channel, g.reason));
//   await sg.publish('news', 'hello');
//
// README "Browser client: streamgate.js" documents the options and events.

const DEFAULTS = {
  channels: [],
  transport: 'auto', // 'auto' | 'ws' | 'longpoll'
  token: null, // a string, or a function returning one (or a promise of one)
  lastEventId: null, // where every channel of `channels` starts (null: live)
  reconnectMs: 250, // first reconnect delay; doubled per failure, with jitter
  maxReconnectMs: 10000,
  wsAttempts: 3, // WebSockets that fail to open in a row before 'auto' long-polls
  openTimeoutMs: 10000, // a WebSocket not open by then counts as failed
};
// WebSocket close codes after which reconnecting cannot help: the gateway
// refused the request (1008) or what the client sent (1002, 1003, 1007, 1009)
const FATAL_CLOSE = new Set([1002, 1003, 1007, 1008, 1009]);
const ID_RE = /^(\d+)-(\d+)$/;

// Compares two ids "MS-SEQ" in the gateway's order (negative: a before b).
export function compareIds(a, b) {
  const x = ID_RE.exec(a);
  const y = ID_RE.exec(b);
  if (!x || !y) return a === '0' ? (b === '0' ? 0 : -1) : 1;
  return Number(x[1]) - Number(y[1]) || Number(x[2]) - Number(y[2]);
}
const newest = (a, b) => (a == null ? b : b == null || compareIds(a, b) >= 0 ? a : b);

class Client {
  constructor(baseUrl, opts) {
    this.opts = { ...DEFAULTS, ...opts };
    const base = new URL(baseUrl || '/', globalThis.location?.href);
    this.httpBase = base.origin + base.pathname.replace(/\/$/, '');
    this.wsBase = this.httpBase.replace(/^http/, 'ws');
    this.transport = this.opts.transport === 'longpoll' ? 'longpoll' : 'ws';
    this.state = 'connecting'; // 'connecting' | 'open' | 'reconnecting' | 'closed'
    this.subs = new Map(); // channel -> {pos: id to resume after, or null (live); gap: the last one told}
    this.synced = new Set(); // channels the open WebSocket delivers in id order with the others
    this.seen = null; // the newest id this client saw on any channel
    this.listeners = new Map();
    this.pending = new Map(); // WebSocket command ref -> {resolve, reject}
    this.refs = 0;
    this.failures = 0; // connections that failed since the last open
    this.wsFailures = 0; // WebSockets that never opened, in a row
    this.timer = null;
    this.ws = null;
    this.poll = null; // the running long-poll's AbortController
    this.generation = 0; // bumped by stop(): a connect that awaited sees it was superseded
    for (const ch of this.opts.channels) this.subs.set(ch, { pos: this.opts.lastEventId });
    queueMicrotask(() => this.connect());
  }

  // ---------------------------------------------------------- public API

  // Calls fn(detail) for each event of that type; returns a function that stops it.
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.off(type, fn);
  }

  off(type, fn) {
    this.listeners.get(type)?.delete(fn);
  }

  get channels() {
    return [...this.subs.keys()];
  }

  // Adds a channel; with lastEventId it first gets what the history holds
  // after it, else it starts live (nothing older than what the client saw).
  subscribe(channel, { lastEventId = null } = {}) {
    if (this.subs.has(channel)) return;
    this.subs.set(channel, { pos: lastEventId ?? this.seen });
    if (this.state === 'closed') return;
    if (this.wsOpen()) this.subscribeCommand(channel, lastEventId);
    else if (this.poll || (!this.ws && !this.timer)) this.restart(); // else the coming connection takes it
  }

  unsubscribe(channel) {
    this.synced.delete(channel);
    if (!this.subs.delete(channel) || this.state === 'closed') return;
    if (this.wsOpen()) this.command({ type: 'unsubscribe', channel }).catch(() => {});
    else if (this.poll) this.restart();
  }

  // Publishes data (a string, or any JSON value, sent as its JSON text) on
  // channel: over the WebSocket when one is open, else with a POST. Resolves
  // {channel, id, subscribers}; rejects with an Error whose .code is the
  // gateway's error (e.g. 'forbidden'), or 'disconnected' when the socket
  // closed before the answer (the message may or may not have been published).
  async publish(channel, data, { event } = {}) {
    const body = { data: typeof data === 'string' ? data : JSON.stringify(data), ...(event ? { event } : {}) };
    if (this.wsOpen()) {
      const r = await this.command({ type: 'publish', channel, ...body });
      return { channel: r.channel, id: r.id, subscribers: r.subscribers };
    }
    const res = await fetch(`${this.httpBase}/channels/${encodeURIComponent(channel)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(await this.authHeader()) },
      body: JSON.stringify(body),
    });
    const answer = await res.json().catch(() => ({ error: 'bad_answer', detail: `HTTP ${res.status}` }));
    if (!res.ok) throw apiError(answer);
    return answer;
  }

  close() {
    if (this.state === 'closed') return;
    this.stop();
    this.state = 'closed';
    this.emit('end', { reason: 'closed' });
  }

  // ---------------------------------------------------------- plumbing

  emit(type, detail) {
    for (const fn of this.listeners.get(type) || []) {
      try {
        fn(detail);
      } catch (err) {
        queueMicrotask(() => { throw err; }); // a listener's bug is reported, not ours
      }
    }
  }

  // Where a new connection resumes, for every channel at once: the oldest
  // position among them (null: live). Ids are one order across channels,
  // so the gateway replays them merged; what a channel already has is
  // dropped by deliver(), and a gap it did not suffer by gap().
  cursor() {
    let cursor = null;
    for (const { pos } of this.subs.values())
      if (pos != null && (cursor == null || compareIds(pos, cursor) < 0)) cursor = pos;
    return cursor;
  }

  cursorQuery(extra) {
    const cursor = this.cursor();
    return new URLSearchParams({ ...extra, ...(cursor == null ? {} : { last_event_id: cursor }) });
  }

  channelPath() {
    return `/channels/${[...this.subs.keys()].map(encodeURIComponent).join(',')}`;
  }

  async token() {
    const t = this.opts.token;
    return typeof t === 'function' ? t() : t;
  }

  async authHeader() {
    const t = await this.token();
    return t ? { Authorization: `Bearer ${t}` } : {};
  }

  wsOpen() {
    return this.ws?.readyState === 1 && this.state === 'open';
  }

  // A message envelope {channel, id, event, data}: delivered unless it is
  // not after the channel's last one (a resume's overlap), or unsubscribed.
  deliver(m) {
    const sub = this.subs.get(m.channel);
    if (!sub || (sub.pos != null && compareIds(m.id, sub.pos) <= 0)) return;
    sub.pos = m.id;
    this.seen = newest(this.seen, m.id);
    this.emit('message', { channel: m.channel, id: m.id, event: m.event ?? null, data: m.data });
  }

  // A gap object. One whose first kept id is not after what this client
  // already has (a cursor older than the channel's own position) lost it
  // nothing; one equal to the last told (no message came since) says nothing new.
  gap(g) {
    const sub = this.subs.get(g.channel);
    const key = `${g.last_event_id} ${g.first_id} ${g.reason}`;
    if (!sub || (g.first_id && sub.pos != null && compareIds(g.first_id, sub.pos) <= 0) || sub.gap === key) return;
    sub.gap = key;
    this.emit('gap', { channel: g.channel, lastEventId: g.last_event_id, firstId: g.first_id ?? null, reason: g.reason });
  }

  opened() {
    this.failures = 0;
    this.state = 'open';
    this.emit('open', { transport: this.transport });
  }

  fail(err) {
    this.emit('error', err);
  }

  // Ends the connection for good: the gateway refused it or ended the stream.
  finish(reason, error) {
    if (error) this.fail(error);
    this.stop();
    this.state = 'closed';
    this.emit('end', { reason });
  }

  stop() {
    this.generation++;
    clearTimeout(this.timer);
    this.timer = null;
    this.poll?.abort();
    this.poll = null;
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      if (ws.readyState <= 1) ws.close(1000);
    }
    for (const p of this.pending.values()) p.reject(apiError({ error: 'disconnected', detail: 'the connection closed before the answer' }));
    this.pending.clear();
  }

  // Drops the current connection and opens the next one at once.
  restart() {
    this.stop();
    this.connect();
  }

  // After a failure: waits (full jitter over an exponential delay), then connects.
  retry() {
    this.stop();
    if (this.state === 'closed') return;
    const cap = Math.min(this.opts.maxReconnectMs, this.opts.reconnectMs * 2 ** Math.min(this.failures, 16));
    const delayMs = Math.round(cap / 2 + (Math.random() * cap) / 2);
    this.failures++;
    this.state = 'reconnecting';
    this.emit('reconnecting', { transport: this.transport, attempt: this.failures, delayMs });
    this.timer = setTimeout(() => this.connect(), delayMs);
  }

  connect() {
    if (this.state === 'closed' || this.subs.size === 0) return;
    const blocked = this.wsFailures >= this.opts.wsAttempts || typeof WebSocket !== 'function';
    if (this.transport === 'ws' && this.opts.transport === 'auto' && blocked) {
      this.transport = 'longpoll';
      this.emit('fallback', { transport: 'longpoll', wsFailures: this.wsFailures });
    }
    if (this.transport === 'ws') this.connectWs().catch((e) => this.finish('error', e));
    else this.longPoll();
  }

  // ---------------------------------------------------------- WebSocket

  async connectWs() {
    const generation = this.generation;
    const query = this.cursorQuery({ format: 'json' });
    const token = await this.token();
    if (token) query.set('access_token', token);
    if (this.generation !== generation || this.state === 'closed') return;
    const listed = this.channels;
    const ws = new WebSocket(`${this.wsBase}${this.channelPath()}?${query}`);
    let opened = false;
    this.ws = ws;
    this.synced = new Set(listed);
    this.timer = setTimeout(() => ws.close(), this.opts.openTimeoutMs);
    ws.onopen = () => {
      clearTimeout(this.timer);
      opened = true;
      this.wsFailures = 0;
      this.opened();
      // what changed while it was connecting
      for (const ch of listed) if (!this.subs.has(ch)) this.command({ type: 'unsubscribe', channel: ch }).catch(() => {});
      for (const ch of this.subs.keys()) if (!listed.includes(ch)) this.subscribeCommand(ch, this.subs.get(ch).pos);
    };
    ws.onmessage = (e) => this.wsMessage(e.data);
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      if (!opened) this.blockedCheck();
      if (e.code === 1000) this.finish('ended');
      else if (FATAL_CLOSE.has(e.code) && e.reason !== 'slow consumer') this.finish('refused', closeError(e));
      else {
        if (e.code === 4001) this.fail(closeError(e)); // token expired: the next connect asks opts.token again
        this.retry();
      }
    };
  }

  // A WebSocket that did not open counts toward the long-poll fallback only
  // when the gateway answers HTTP: a gateway that is down is not a block.
  blockedCheck() {
    if (this.opts.transport !== 'auto') return;
    fetch(`${this.httpBase}/healthz`, { cache: 'no-store' })
      .then((r) => { if (r.ok) this.wsFailures++; })
      .catch(() => {});
  }

  wsMessage(text) {
    let m;
    try {
      m = JSON.parse(text);
    } catch {
      return this.fail(apiError({ error: 'bad_frame', detail: 'a WebSocket message that is not JSON' }));
    }
    if (!m.type) {
      this.deliver(m);
      // one socket delivers its channels merged in id order: the others are caught up too
      for (const ch of this.synced) if (this.subs.has(ch)) this.subs.get(ch).pos = newest(this.subs.get(ch).pos, m.id);
      return;
    }
    if (m.type === 'gap') return this.gap(m);
    const p = m.ref != null && this.pending.get(m.ref);
    if (p) {
      this.pending.delete(m.ref);
      return m.type === 'error' ? p.reject(apiError(m)) : p.resolve(m);
    }
    if (m.type === 'unsubscribed' && this.subs.delete(m.channel)) // the gateway took the right away
      this.fail(apiError({ error: m.reason || 'unsubscribed', detail: `unsubscribed from ${m.channel}`, channel: m.channel }));
    else if (m.type === 'error') this.fail(apiError(m));
  }

  // Subscribes the open socket to channel (from lastEventId, or live); the
  // reply comes after the replay, so from then on it is in step with the rest.
  subscribeCommand(channel, lastEventId) {
    const from = lastEventId == null ? {} : { last_event_id: lastEventId };
    this.command({ type: 'subscribe', channel, ...from }).then(
      () => this.subs.has(channel) && this.synced.add(channel),
      (err) => {
        if (err.code === 'disconnected') return; // the next connection lists it
        this.subs.delete(channel); // refused: it must not spoil the next connection's URL
        this.fail(err);
      });
  }

  // Sends a command; resolves with its reply, rejects with its error reply.
  command(cmd) {
    const ref = ++this.refs;
    return new Promise((resolve, reject) => {
      this.pending.set(ref, { resolve, reject });
      this.ws.send(JSON.stringify({ ...cmd, ref }));
    });
  }

  // ---------------------------------------------------------- long-poll

  // One request at a time for every channel, from the cursor; each answer
  // moves every channel's position to the cursor it gives.
  async longPoll() {
    const ctl = new AbortController();
    this.poll = ctl;
    while (this.poll === ctl) {
      const list = [...this.subs.keys()];
      let res, body;
      try {
        res = await fetch(`${this.httpBase}${this.channelPath()}?${this.cursorQuery({ transport: 'longpoll' })}`,
          { signal: ctl.signal, headers: await this.authHeader(), cache: 'no-store' });
        body = await res.json();
      } catch (err) {
        if (this.poll === ctl) this.retry();
        return;
      }
      if (this.poll !== ctl) return;
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429)
        return this.finish('refused', apiError(body));
      if (!res.ok) return this.retry();
      if (this.state !== 'open') this.opened();
      for (const el of body) el.type === 'gap' ? this.gap(el) : this.deliver(el);
      // the answer vouches for every listed channel up to its cursor
      const cursor = res.headers.get('Last-Event-ID');
      for (const ch of list) if (this.subs.has(ch) && cursor) this.subs.get(ch).pos = newest(this.subs.get(ch).pos, cursor);
      this.seen = newest(this.seen, cursor);
    }
  }
}

function apiError(body) {
  const err = new Error(`${body.error}: ${body.detail ?? ''}`);
  Object.assign(err, { code: body.error, detail: body.detail, channel: body.channel });
  return err;
}

function closeError(e) {
  const [code, ...detail] = String(e.reason || 'closed').split(': ');
  return Object.assign(apiError({ error: code, detail: detail.join(': ') }), { closeCode: e.code });
}

// Opens a client of the gateway at baseUrl ('' or '/': the page's own) for
// opts.channels; see DEFAULTS for the other options.
export function connect(baseUrl, opts = {}) {
  return new Client(baseUrl, opts);
}
