// GET /metrics/stream (README "GET /metrics/stream"): one JSON snapshot of
// the /metrics figures at once and then every interval_ms, over SSE (what
// the dashboard reads) or any other transport; the same admin right as
// /metrics; bounded, clear refusals of a bad interval_ms.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventSource, wsClient } from './lib/clients.mjs';
import { mint, now } from './lib/jwt.mjs';
import { WORKERS, expectError, metrics, publish, request, startServer, waitFor, waitForConnections } from './lib/server.mjs';

const SECRET = 'metrics-stream-secret-0123456789ab';
// clients still open when a test fails half-way: closed in after(), or an
// EventSource would reconnect for ever and the file would never end
const open = [];
const track = (client) => (open.push(client), client);
after(() => { for (const c of open) c.close(); });
const WORKERS_N = Number(WORKERS || 1);
// the snapshot's keys, in order, and the /metrics sample each one is
const FIELDS = {
  time_ms: null,
  workers: 'streamgate_workers',
  connections: 'streamgate_connections',
  open_connections: 'streamgate_open_connections',
  channels: 'streamgate_channels',
  published_total: 'streamgate_messages_published_total',
  frames_dropped_total: 'streamgate_frames_dropped_total',
  slow_disconnects_total: 'streamgate_slow_disconnects_total',
  channels_evicted_total: 'streamgate_channels_evicted_total',
  ws_ping_timeouts_total: 'streamgate_ws_ping_timeouts_total',
  rate_limited_total: 'streamgate_rate_limited_total',
  ip_limit_refused_total: 'streamgate_ip_limit_refused_total',
  messages_live: 'streamgate_messages_live',
  frames_live: 'streamgate_frames_live',
  // labelled or derived: checked one by one below
  connections_by_transport: null,
  delivered_total: null,
  delivery_lag_ms: null,
  top_channels: null,
};

describe('GET /metrics/stream on an open gateway', () => {
  let gw;
  before(async () => { gw = await startServer(); });
  after(async () => { await gw.stop(); });

  it('sends a snapshot at once and then every interval_ms, each equal to /metrics while nothing moves', async () => {
    const sub = track(await eventSource(`${gw.url}/channels/ms-news`));
    for (let i = 0; i < 5; i++) await publish(gw.url, 'ms-news', `m${i}`);
    await sub.waitCount(5);
    const stream = track(await eventSource(`${gw.url}/metrics/stream?interval_ms=200`));
    const events = await stream.waitCount(3, 5000);
    const snaps = events.map((e) => JSON.parse(e.data));
    for (const s of snaps) assert.deepEqual(Object.keys(s), Object.keys(FIELDS), 'the fields, in order');
    const gaps = snaps.slice(1).map((s, i) => s.time_ms - snaps[i].time_ms);
    assert.ok(gaps.every((d) => d >= 150 && d < 1000), `about 200 ms apart: ${gaps}`);
    // quiet now: the next snapshot says what /metrics says
    const m = await metrics(gw.url);
    const seen = stream.events.length;
    await stream.waitCount(seen + 1, 5000);
    const last = JSON.parse(stream.events.at(-1).data);
    for (const [field, sample] of Object.entries(FIELDS)) {
      // /metrics counted its own socket among the open ones; it has closed since
      const own = field === 'open_connections' ? 1 : 0;
      if (sample) assert.equal(last[field], m[sample] - own, `${field} = ${sample}`);
    }
    assert.deepEqual(last.connections_by_transport, { chunked: 0, sse: 2, ws: 0, longpoll: 0, ndjson: 0 });
    // the subscriber's 5, and every snapshot written before this one was made
    assert.equal(last.delivered_total, 5 + stream.events.length - 1);
    // since the previous snapshot exactly one thing was delivered: that snapshot
    assert.equal(typeof last.delivery_lag_ms.p50, 'number');
    assert.equal(last.delivery_lag_ms.p50, last.delivery_lag_ms.p99);
    assert.ok(snaps[0].delivery_lag_ms.p50 > 0 && snaps[0].delivery_lag_ms.p50 <= snaps[0].delivery_lag_ms.p99);
    assert.deepEqual(last.top_channels.map(({ channel, subscribers, published }) => ({ channel, subscribers, published })),
      [{ channel: 'ms-news', subscribers: 1, published: 5 }]);
    assert.equal(last.connections, 2, 'the subscriber and this stream');
    assert.equal(last.published_total, 5);
    assert.ok(Math.abs(last.time_ms - Date.now()) < 5000, 'time_ms is the wall clock');
    stream.close();
    sub.close();
    await waitForConnections(gw.url, 0);
  });

  it('streams on the other transports too: a chunked line, a WebSocket message', async () => {
    const ac = new AbortController();
    const res = await fetch(`${gw.url}/metrics/stream`, { signal: ac.signal });
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    let text = '';
    while (!text.includes('\n')) text += new TextDecoder().decode((await reader.read()).value);
    assert.equal(JSON.parse(text.split('\n')[0]).workers, WORKERS_N);
    ac.abort();
    const ws = await wsClient(`${gw.url.replace('http', 'ws')}/metrics/stream`);
    await ws.waitCount(1, 5000);
    assert.equal(JSON.parse(ws.payloads()[0]).workers, WORKERS_N);
    await ws.close();
  });

  it('refuses a bad interval_ms with 400 bad_argument', async () => {
    for (const v of ['', 'abc', '99', '60001', '1e3', '-1', '1000x', '99999999999999999999'])
      expectError(await request(gw.url, { path: `/metrics/stream?interval_ms=${encodeURIComponent(v)}` }), 400, 'bad_argument');
    expectError(await request(gw.url, { method: 'POST', path: '/metrics/stream', body: 'x' }), 405, 'method_not_allowed');
  });
});

describe('GET /metrics/stream needs the admin right', () => {
  let gw;
  const token = (admin) => mint('HS256', SECRET, { sub: 'op', exp: now() + 3600, streamgate: { subscribe: ['*'], admin } });
  before(async () => { gw = await startServer({ args: ['--auth-jwt-alg', 'HS256', '--auth-jwt-key', SECRET, '--anonymous-subscribe', '*'] }); });
  after(async () => { await gw.stop(); });

  it('401 without a token, 403 with a token that is not admin, a stream with an admin one', async () => {
    const none = await request(gw.url, { path: '/metrics/stream' });
    assert.equal(expectError(none, 401, 'token_required'), 'a token is needed to read /metrics/stream');
    const user = await request(gw.url, { path: '/metrics/stream', headers: { Authorization: `Bearer ${token(false)}` } });
    assert.equal(expectError(user, 403, 'forbidden'), 'not allowed to read /metrics/stream');
    const ws = await wsClient(`${gw.url.replace('http', 'ws')}/metrics/stream?access_token=${token(false)}`);
    assert.equal((await ws.waitClosed()).code, 1008, 'a WebSocket is closed 1008');
    const admin = track(await eventSource(`${gw.url}/metrics/stream?access_token=${token(true)}`));
    const [first] = await admin.waitCount(1, 5000);
    assert.equal(JSON.parse(first.data).connections, 1);
    admin.close();
    await waitFor(async () => (await request(gw.url, {
      path: '/metrics', headers: { Authorization: `Bearer ${token(true)}` },
    })).text.includes('\nstreamgate_connections 0\n'), { what: 'the stream to end' });
  });
});
