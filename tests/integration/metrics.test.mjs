// /metrics read with a real Prometheus text-format parser (npm
// parse-prometheus-text-format): every family has # HELP and # TYPE, and
// after a known sequence (streams per transport, messages delivered, ends
// by known causes) the counters, gauges and histograms hold exact values.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import parsePrometheus from 'parse-prometheus-text-format';
import { publish, request, startServer, waitFor, waitForConnections, withTimeout } from './lib/server.mjs';
import { curl, stalledGet, wsClient } from './lib/clients.mjs';
import { mint, now } from './lib/jwt.mjs';

const TRANSPORTS = ['chunked', 'sse', 'ws', 'longpoll', 'ndjson'];
const REASONS = ['ended', 'client_left', 'slow_client', 'shutdown', 'deleted', 'token_expired', 'error'];

async function scrape(base, headers = {}) {
  const res = await request(base, { path: '/metrics', headers });
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4');
  // the parser gives types as prom2json does, upper-case
  const families = parsePrometheus(res.text).map((f) => ({ ...f, type: f.type.toLowerCase() }));
  return { text: res.text, families };
}

// {label value: number} of one labelled family.
function byLabel(families, name, label) {
  const f = families.find((x) => x.name === name);
  assert.ok(f, `family ${name}`);
  return Object.fromEntries(f.metrics.map((m) => [m.labels[label], Number(m.value)]));
}

const zeros = (keys) => Object.fromEntries(keys.map((k) => [k, 0]));

describe('/metrics in the Prometheus text format', { timeout: 90000 }, () => {
  let server;
  before(async () => {
    server = await startServer({ args: ['--heartbeat-ms', '0'] });
  });
  after(async () => {
    await server.stop();
  });

  it('every family has HELP and TYPE, parsed by a real parser', async () => {
    const { text, families } = await scrape(server.url);
    assert.ok(families.length >= 20, `${families.length} families`);
    for (const f of families) {
      assert.ok(f.help && f.help.length > 5, `HELP of ${f.name}`);
      assert.ok(['counter', 'gauge', 'histogram'].includes(f.type), `TYPE of ${f.name}: ${f.type}`);
      assert.ok(text.includes(`# HELP ${f.name} `) && text.includes(`# TYPE ${f.name} ${f.type}\n`));
    }
    // every sample line belongs to a family that was announced first
    const announced = new Set();
    for (const line of text.split('\n').filter(Boolean)) {
      const t = /^# TYPE (\S+) /.exec(line);
      if (t) announced.add(t[1]);
      if (line.startsWith('#')) continue;
      const name = /^[a-z_]+/.exec(line)[0].replace(/_(bucket|sum|count)$/, '');
      assert.ok(announced.has(name) || announced.has(/^[a-z_]+/.exec(line)[0]), `family of ${line}`);
    }
    const names = families.map((f) => f.name);
    for (const n of ['streamgate_connections', 'streamgate_connections_by_transport',
      'streamgate_connections_opened_total', 'streamgate_messages_delivered_total',
      'streamgate_streams_closed_total', 'streamgate_delivery_lag_seconds',
      'streamgate_stream_duration_seconds', 'streamgate_broker_up', 'streamgate_access_log_dropped_total'])
      assert.ok(names.includes(n), `family ${n}`);
    assert.equal(Number(families.find((f) => f.name === 'streamgate_broker_up').metrics[0].value), 1);
  });

  it('exact counts after streams on every transport, deliveries and known ends', async () => {
    const ch = `m${Date.now()}`;
    const url = `${server.url}/channels/${ch}`;
    const streams = [];
    for (let i = 0; i < 2; i++) {
      streams.push(curl(url), curl(url, { args: ['-H', 'Accept: text/event-stream'] }),
        curl(`${url}?transport=ndjson`));
    }
    for (const s of streams) await s.waitHeaders();
    const ws = [await wsClient(url.replace('http:', 'ws:')), await wsClient(url.replace('http:', 'ws:'))];
    const poll = request(server.url, { path: `/channels/${ch}?transport=longpoll&last_event_id=0` });
    await waitForConnections(server.url, 9);
    let { families } = await scrape(server.url);
    assert.deepEqual(byLabel(families, 'streamgate_connections_by_transport', 'transport'),
      { chunked: 2, sse: 2, ws: 2, longpoll: 1, ndjson: 2 });

    // one message answers the long-poll; two more reach the other eight
    await publish(server.url, ch, 'one');
    const answered = await poll;
    assert.equal(answered.status, 200);
    assert.equal(JSON.parse(answered.text).length, 1);
    await publish(server.url, ch, 'two');
    await publish(server.url, ch, 'three');
    for (const c of ws) await c.waitCount(3);
    for (const s of streams) await waitFor(() => s.stdout().toString().includes('three'), { what: 'three' });
    await waitFor(async () => byLabel((await scrape(server.url)).families,
      'streamgate_messages_delivered_total', 'transport').ndjson === 6, { what: 'deliveries counted' });
    ({ families } = await scrape(server.url));
    assert.deepEqual(byLabel(families, 'streamgate_messages_delivered_total', 'transport'),
      { chunked: 6, sse: 6, ws: 6, longpoll: 1, ndjson: 6 });

    // ends: six curls and two WebSockets leave, one subscriber's channel is deleted
    for (const s of streams) await s.kill();
    for (const c of ws) await c.close();
    const doomed = curl(`${server.url}/channels/${ch}-del`, { args: ['-H', 'Accept: text/event-stream'] });
    await doomed.waitHeaders();
    await waitForConnections(server.url, 1);
    const del = await request(server.url, { method: 'DELETE', path: `/channels/${ch}-del` });
    assert.equal(del.status, 200, del.text);
    assert.equal((await doomed.done).code, 0); // a clean end
    await waitForConnections(server.url, 0);

    ({ families } = await scrape(server.url));
    assert.deepEqual(byLabel(families, 'streamgate_connections_by_transport', 'transport'), zeros(TRANSPORTS));
    assert.deepEqual(byLabel(families, 'streamgate_connections_opened_total', 'transport'),
      { chunked: 2, sse: 3, ws: 2, longpoll: 1, ndjson: 2 });
    assert.deepEqual(byLabel(families, 'streamgate_streams_closed_total', 'reason'),
      { ...zeros(REASONS), ended: 1, client_left: 8, deleted: 1 });

    const lag = families.find((f) => f.name === 'streamgate_delivery_lag_seconds');
    assert.equal(lag.type, 'histogram');
    const h = lag.metrics[0];
    assert.equal(Number(h.count), 25); // = every delivery above
    // integer-like keys ("1", "5") come first in a JS object: order by bound
    const les = Object.keys(h.buckets).sort((a, b) => Number(a) - Number(b));
    assert.equal(les.at(-1), '+Inf');
    const counts = les.map((le) => Number(h.buckets[le]));
    for (let i = 1; i < counts.length; i++) assert.ok(counts[i] >= counts[i - 1], `bucket ${les[i]} monotone`);
    assert.equal(counts.at(-1), 25);
    assert.ok(Number(h.sum) >= 0 && Number(h.sum) < 25 * 10, `lag sum ${h.sum}`);
    const dur = families.find((f) => f.name === 'streamgate_stream_duration_seconds').metrics[0];
    assert.equal(Number(dur.count), 10); // ten streams ended
    assert.equal(Number(dur.buckets['+Inf']), 10);
  });
});

describe('GET /channels: the top channels and totals', { timeout: 60000 }, () => {
  let server;
  before(async () => {
    server = await startServer({ args: ['--heartbeat-ms', '0'] });
  });
  after(async () => {
    await server.stop();
  });

  it('ranks by subscribers and by publish rate, with exact counts', async () => {
    const subs = [];
    for (const [ch, n] of [['top-a', 3], ['top-b', 1]])
      for (let i = 0; i < n; i++) subs.push(curl(`${server.url}/channels/${ch}`, { args: ['-H', 'Accept: text/event-stream'] }));
    for (const s of subs) await s.waitHeaders();
    await waitForConnections(server.url, 4);
    for (let i = 0; i < 2; i++) await publish(server.url, 'top-a', `a${i}`);
    await publish(server.url, 'top-b', 'b');
    for (let i = 0; i < 5; i++) await publish(server.url, 'top-c', `c${i}`);
    await new Promise((r) => setTimeout(r, 1100)); // top-c's rate window closes at its next publish
    await publish(server.url, 'top-c', 'c5');
    const get = async (q = '') => {
      const res = await request(server.url, { path: `/channels${q}` });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers['content-type'], 'application/json');
      return JSON.parse(res.text);
    };
    // with several workers, the others' snapshots follow within a second
    const body = await waitFor(async () => {
      const b = await get('?limit=2');
      return b.subscribers === 4 && b.by_subscribers[1]?.subscribers === 1 && b.by_publish_rate[0]?.published === 6 && b;
    }, { what: 'every worker in GET /channels' });
    assert.deepEqual(Object.keys(body), ['channels', 'subscribers', 'publish_rate', 'limit', 'by_subscribers', 'by_publish_rate']);
    assert.equal(body.channels, 3);
    assert.equal(body.limit, 2);
    assert.deepEqual(body.by_subscribers.map((c) => [c.channel, c.subscribers, c.published]),
      [['top-a', 3, 2], ['top-b', 1, 1]]);
    assert.equal(body.by_publish_rate.length, 2);
    assert.equal(body.by_publish_rate[0].channel, 'top-c');
    const rate = body.by_publish_rate[0].publish_rate;
    assert.ok(rate > 2 && rate <= 5, `top-c rate ${rate}`); // 5 publishes over 1.1 s or more
    assert.ok(body.publish_rate >= rate);
    assert.equal((await get()).limit, 20);
    assert.equal((await get()).by_subscribers.length, 3);
    for (const bad of ['0', '1001', 'abc', '-1', '1e3'])
      assert.equal((await request(server.url, { path: `/channels?limit=${bad}` })).status, 400, bad);
    for (const s of subs) await s.kill();
  });
});

describe('/metrics: streams closed as slow, for an error, by token expiry', { timeout: 120000 }, () => {
  const SECRET = 'metrics-test-secret-0123456789abcdef';
  const token = (claims) => mint('HS256', SECRET, { sub: 'm', iat: now(), ...claims });
  const admin = { Authorization: `Bearer ${token({ exp: now() + 3600, streamgate: { admin: true } })}` };
  let server;
  before(async () => {
    server = await startServer({
      args: ['--heartbeat-ms', '0', '--queue-bytes', '65536', '--slow-policy', 'disconnect', '--history-count', '16',
        '--auth-jwt-alg', 'HS256', '--auth-jwt-key', SECRET, '--anonymous-subscribe', '*', '--anonymous-publish', '*'],
    });
  });
  after(async () => {
    await server.stop();
  });

  it('one of each, counted under its reason', async () => {
    // a client that stops reading, under slow_policy disconnect
    const stalled = await stalledGet(server.port, '/channels/slow');
    await waitFor(async () => (await publish(server.url, 'slow', 'hello')).subscribers === 1, { what: 'stalled subscribed' });
    let cut = false;
    for (let i = 0; i < 4096 && !cut; i++)
      cut = (await publish(server.url, 'slow', `m${i}:`.padEnd(32768, 'x'))).subscribers === 0;
    assert.ok(cut, 'the stalled client was cut');
    stalled.socket.destroy();
    // a protocol error: a binary WebSocket message
    const ws = await wsClient(`ws://127.0.0.1:${server.port}/channels/err`);
    ws.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    assert.equal((await ws.waitClosed(10000)).code, 1003);
    // a token that expires while its stream is open
    const exp = now() + 2; // at least a second left: never expired before the stream opens
    const sse = curl(`${server.url}/channels/exp?access_token=${token({ exp, streamgate: { subscribe: ['exp'] } })}`,
      { args: ['-H', 'Accept: text/event-stream'] });
    await sse.waitHeaders();
    const done = await withTimeout(sse.done, 10000, 'the stream to end when its token expires');
    assert.equal(done.code, 0);
    assert.ok(done.stdout.toString().includes('token_expired'));
    await waitFor(async () => byLabel((await scrape(server.url, admin)).families,
      'streamgate_connections_by_transport', 'transport').sse === 0, { what: 'every stream gone' });
    const { families } = await scrape(server.url, admin);
    assert.deepEqual(byLabel(families, 'streamgate_streams_closed_total', 'reason'),
      { ...zeros(REASONS), slow_client: 1, error: 1, token_expired: 1 });
  });
});
