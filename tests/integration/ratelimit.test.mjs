// Rate limits: publish_rate and publish_burst (a token bucket per client,
// shared by every worker) for HTTP and WebSocket publishes;
// max_connections_per_ip; X-Forwarded-For believed from trusted_proxies
// only; metrics_listen. Loopback addresses 127.0.0.2 and 127.0.0.3 are
// other clients (the client socket binds them with localAddress).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import { freePort, metrics, request, startServer, waitFor, withTimeout } from './lib/server.mjs';
import { curl } from './lib/clients.mjs';
import { parseResponses } from './lib/raw.mjs';
import { mint, now } from './lib/jwt.mjs';

const RATE_LIMITED = {
  error: 'rate_limited', detail: 'this client publishes faster than publish_rate allows',
};
const PER_IP = {
  error: 'too_many_connections_per_ip', detail: 'this address has max_connections_per_ip connections open',
};

// A connected socket from localAddress (default 127.0.0.1).
function open(port, localAddress = '127.0.0.1') {
  return withTimeout(new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port, localAddress });
    sock.once('connect', () => resolve(sock));
    sock.once('error', reject);
  }), 5000, `connect from ${localAddress}`);
}

// Everything the server sends on sock until it closes (bounded).
function drain(sock, timeoutMs = 5000) {
  return withTimeout(new Promise((resolve) => {
    let text = '';
    sock.on('data', (d) => (text += d.toString('latin1')));
    sock.on('error', () => {});
    sock.on('close', () => resolve(text));
  }), timeoutMs, 'the server to close');
}

const post = (channel, body, extra = '') =>
  `POST /channels/${channel} HTTP/1.1\r\nHost: gw\r\nContent-Type: text/plain\r\n${extra}` +
  `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;

// One request on a fresh connection from localAddress: its parsed answer.
async function once(port, text, localAddress) {
  const sock = await open(port, localAddress);
  const answer = drain(sock);
  sock.write(text);
  return parseResponses(await answer)[0];
}

const statusOf = (r) => r.status;
const counts = (answers) => answers.reduce((m, r) => ({ ...m, [r.status]: (m[r.status] || 0) + 1 }), {});

describe('publish_rate and publish_burst', { timeout: 60000 }, () => {
  let server;
  before(async () => {
    server = await startServer({ args: ['--publish-rate', '5', '--publish-burst', '10'] });
  });
  after(async () => {
    await server.stop();
  });

  it('20 POSTs at once: exactly 10 published and 10 refused with 429 and Retry-After', async () => {
    // every connection is open before any request is written, so the
    // burst reaches the gateway within a few milliseconds (5 a second
    // refill one token in 200 ms)
    const socks = await Promise.all(Array.from({ length: 20 }, () => open(server.port, '127.0.0.2')));
    const answers = socks.map((s) => drain(s));
    socks.forEach((s, i) => s.write(post('rate.burst', `m${i}`)));
    const got = (await Promise.all(answers)).map((t) => parseResponses(t)[0]);
    assert.deepStrictEqual(counts(got), { 200: 10, 429: 10 });
    for (const r of got.filter((a) => a.status === 429)) {
      assert.equal(r.headers['retry-after'], '1');
      assert.equal(r.headers['content-type'], 'application/json');
      assert.deepStrictEqual(JSON.parse(r.body), RATE_LIMITED);
    }
    const info = await request(server.url, { path: '/channels/rate.burst/info' });
    assert.equal(JSON.parse(info.text).history.count, 10);
    // another client has its own bucket; GETs and other methods are not counted
    assert.equal((await once(server.port, post('rate.burst', 'other'), '127.0.0.3')).status, 200);
    assert.equal((await request(server.url, { path: '/channels/rate.burst/info', headers: {} })).status, 200);
    const m = await metrics(server.url);
    assert.equal(m.streamgate_rate_limited_total, 10);
    assert.equal(m.streamgate_rate_limit_keys, 2);
  });

  it('a refused client may publish again once Retry-After has passed', async () => {
    const first = await Promise.all(Array.from({ length: 11 }, () => once(server.port, post('rate.again', 'x'), '127.0.0.4')));
    assert.deepStrictEqual(counts(first), { 200: 10, 429: 1 });
    await new Promise((r) => setTimeout(r, 1000 * Number(first.find((a) => a.status === 429).headers['retry-after'])));
    assert.equal((await once(server.port, post('rate.again', 'y'), '127.0.0.4')).status, 200);
  });
});

describe('publish_rate with tokens', { timeout: 60000 }, () => {
  const SECRET = 'rate-secret';
  let server;
  const bearer = (sub) => `Authorization: Bearer ${mint('HS256', SECRET,
    { sub, exp: now() + 600, streamgate: { publish: ['rate.*'] } })}\r\n`;
  before(async () => {
    server = await startServer({ args: ['--publish-rate', '1', '--publish-burst', '3',
      '--auth-jwt-alg', 'HS256', '--auth-jwt-key', SECRET] });
  });
  after(async () => {
    await server.stop();
  });

  it('a client with a token is its sub: two users on one address have a bucket each, one user on two addresses one', async () => {
    const burst = (sub, from) => Promise.all(Array.from({ length: 4 }, () =>
      once(server.port, post('rate.sub', 'x', bearer(sub)), from)));
    assert.deepStrictEqual(counts(await burst('alice', '127.0.0.6')), { 200: 3, 429: 1 });
    assert.deepStrictEqual(counts(await burst('bob', '127.0.0.6')), { 200: 3, 429: 1 });
    // alice again, from another address: her bucket is still empty
    assert.equal((await once(server.port, post('rate.sub', 'x', bearer('alice')), '127.0.0.7')).status, 429);
  });

  it('tickets count as publishes: a client cannot fill the ticket table', async () => {
    const ticket = `POST /auth/ticket HTTP/1.1\r\nHost: gw\r\n${bearer('carol')}Content-Length: 0\r\nConnection: close\r\n\r\n`;
    const got = await Promise.all(Array.from({ length: 4 }, () => once(server.port, ticket, '127.0.0.9')));
    assert.deepStrictEqual(counts(got), { 200: 3, 429: 1 });
    assert.deepStrictEqual(JSON.parse(got.find((r) => r.status === 429).body), RATE_LIMITED);
  });
});

describe('publish_rate over WebSocket', { timeout: 60000 }, () => {
  let server;
  before(async () => {
    server = await startServer({ args: ['--publish-rate', '1', '--publish-burst', '3'] });
  });
  after(async () => {
    await server.stop();
  });

  it('commands past the burst get an error reply with retry_after; the socket stays open', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/channels/rate.ws`, { localAddress: '127.0.0.5' });
    const got = [];
    ws.on('message', (d) => got.push(d.toString('utf8')));
    await withTimeout(new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }), 5000, 'ws open');
    for (let ref = 1; ref <= 5; ref++) ws.send(JSON.stringify({ type: 'publish', channel: 'rate.ws', data: `d${ref}`, ref }));
    await waitFor(() => got.length >= 5 + 3, { what: '3 messages and 5 replies' });
    const replies = got.filter((t) => t.startsWith('{')).map((t) => JSON.parse(t));
    assert.deepStrictEqual(replies.map((r) => [r.type, r.ref]),
      [['published', 1], ['published', 2], ['published', 3], ['error', 4], ['error', 5]]);
    assert.equal(got.find((t) => t.includes('"ref":4')),
      '{"type":"error","error":"rate_limited","detail":"this client publishes faster than publish_rate allows",' +
      '"retry_after":1,"ref":4}');
    // an HTTP publish from the same client shares the bucket
    assert.equal((await once(server.port, post('rate.ws', 'http'), '127.0.0.5')).status, 429);
    await new Promise((r) => setTimeout(r, 1100));
    ws.send(JSON.stringify({ type: 'publish', channel: 'rate.ws', data: 'later', ref: 6 }));
    await waitFor(() => got.some((t) => t.includes('"ref":6')), { what: 'the reply to ref 6' });
    assert.equal(JSON.parse(got.find((t) => t.includes('"ref":6'))).type, 'published');
    ws.close(1000);
  });
});

describe('trusted_proxies and X-Forwarded-For', { timeout: 60000 }, () => {
  let server;
  before(async () => {
    server = await startServer({ args: ['--publish-rate', '1', '--publish-burst', '1', '--trusted-proxies', '127.0.0.1, ::1'] });
  });
  after(async () => {
    await server.stop();
  });

  it('from a trusted proxy, the rightmost untrusted hop is the client', async () => {
    const xff = (v) => `X-Forwarded-For: ${v}\r\n`;
    assert.equal((await once(server.port, post('xff', 'a', xff('9.9.9.9, 1.1.1.1')))).status, 200);
    assert.equal((await once(server.port, post('xff', 'b', xff('1.1.1.1')))).status, 429);
    assert.equal((await once(server.port, post('xff', 'c', xff('1.1.1.1, 127.0.0.1')))).status, 429);
    assert.equal((await once(server.port, post('xff', 'd', xff('2.2.2.2')))).status, 200);
    assert.equal((await once(server.port, post('xff', 'e', xff('1.1.1.1') + xff('3.3.3.3')))).status, 200);
  });

  it('from an untrusted peer, X-Forwarded-For is ignored: the socket address counts', async () => {
    const xff = (v) => `X-Forwarded-For: ${v}\r\n`;
    assert.equal((await once(server.port, post('xff', 'f', xff('4.4.4.4')), '127.0.0.6')).status, 200);
    assert.equal((await once(server.port, post('xff', 'g', xff('5.5.5.5')), '127.0.0.6')).status, 429);
    // the bucket that was taken is 127.0.0.6's: a proxy naming it finds it empty
    assert.equal((await once(server.port, post('xff', 'h', xff('127.0.0.6')))).status, 429);
  });
});

describe('max_connections_per_ip', { timeout: 60000 }, () => {
  let server;
  let metricsPort;
  before(async () => {
    metricsPort = await freePort();
    server = await startServer({
      args: ['--max-connections-per-ip', '3', '--metrics-listen', `127.0.0.1:${metricsPort}`],
    });
  });
  after(async () => {
    await server.stop();
  });

  const healthz = 'GET /healthz HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n';
  const viaMetrics = async () => (await metrics(`http://127.0.0.1:${metricsPort}`));

  it('the 4th connection from one address gets 429 and is closed; others and freed places are served', async () => {
    // three streams from 127.0.0.7: two SSE, one WebSocket
    const streams = [
      curl(`${server.url}/channels/perip`, { args: ['--interface', '127.0.0.7', '-H', 'Accept: text/event-stream'] }),
      curl(`${server.url}/channels/perip`, { args: ['--interface', '127.0.0.7'] }),
    ];
    await Promise.all(streams.map((c) => c.waitHeaders()));
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/channels/perip`, { localAddress: '127.0.0.7' });
    await withTimeout(new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }), 5000, 'ws open');
    const fourth = await once(server.port, healthz, '127.0.0.7');
    assert.equal(fourth.status, 429);
    assert.equal(fourth.headers['retry-after'], '1');
    assert.equal(fourth.headers.connection, 'close');
    assert.deepStrictEqual(JSON.parse(fourth.body), PER_IP);
    // a WebSocket handshake is refused the same way
    const wsRefused = new WebSocket(`ws://127.0.0.1:${server.port}/channels/perip`, { localAddress: '127.0.0.7' });
    const status = await withTimeout(new Promise((resolve) => {
      wsRefused.once('unexpected-response', (_, res) => resolve(res.statusCode));
      wsRefused.once('open', () => resolve(101));
      wsRefused.on('error', () => {});
    }), 5000, 'the refused handshake');
    assert.equal(status, 429);
    // another address, and the metrics port, are served
    assert.equal((await once(server.port, healthz, '127.0.0.8')).status, 200);
    assert.equal((await viaMetrics()).streamgate_ip_limit_refused_total, 2);
    // closing the WebSocket frees its place
    ws.close(1000);
    await waitFor(async () => (await once(server.port, healthz, '127.0.0.7')).status === 200,
      { what: 'a place for 127.0.0.7 after a WebSocket closed' });
    // and closing an SSE stream frees its own: two WebSockets fill the
    // places again, and the next is refused
    await streams[0].kill();
    const wsOpen = async () => {
      const w = new WebSocket(`ws://127.0.0.1:${server.port}/channels/perip`, { localAddress: '127.0.0.7' });
      await withTimeout(new Promise((resolve, reject) => { w.once('open', resolve); w.once('error', reject); }), 5000, 'ws open');
      return w;
    };
    // (a connection the client has closed holds its place until the
    // gateway has read its end: places come back a moment later)
    const more = [];
    more.push(await waitFor(() => wsOpen().catch(() => null), { what: 'a place for 127.0.0.7 after a stream closed' }));
    more.push(await waitFor(() => wsOpen().catch(() => null), { what: 'the last place for 127.0.0.7' }));
    assert.equal((await once(server.port, healthz, '127.0.0.7')).status, 429);
    for (const w of more) w.close(1000);
    await streams[1].kill();
  });
});

describe('metrics_listen', { timeout: 60000 }, () => {
  let server;
  let port;
  before(async () => {
    port = await freePort();
    server = await startServer({ args: ['--metrics-listen', `127.0.0.1:${port}`] });
  });
  after(async () => {
    await server.stop();
  });

  it('serves /metrics and /healthz, and nothing else', async () => {
    const base = `http://127.0.0.1:${port}`;
    const m = await request(base, { path: '/metrics' });
    assert.equal(m.status, 200);
    assert.match(m.text, /^streamgate_workers \d+$/m);
    assert.equal((await request(base, { path: '/healthz' })).text, '{"status":"ok"}');
    for (const [method, path] of [['GET', '/channels/x'], ['POST', '/channels/x'], ['GET', '/'], ['GET', '/channels/x/info']]) {
      const res = await request(base, { method, path, body: method === 'POST' ? 'x' : undefined });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.deepStrictEqual(JSON.parse(res.text),
        { error: 'not_found', detail: 'metrics_listen serves /metrics and /healthz only' });
    }
    // the main port still serves everything
    assert.equal((await request(server.url, { path: '/metrics' })).status, 200);
  });
});
