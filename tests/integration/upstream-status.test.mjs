// Upstream mode's answers before the stream starts, on WebSocket and
// HTTP/2: the upgrade (no 101) and the HTTP/2 HEADERS wait for the
// upstream's head, so a non-2xx answer, 502 and 504 reach those clients
// as the HTTP status, content type and body, exactly as curl gets them.
// A 2xx still streams (also when the whole body came with the head).
// Long-poll on a plain upstream goes on across polls (GET /streams/ID)
// with every message once, and is cancelled when the polls stop.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import WebSocket from 'ws';
import { freePort, request, sleep, startServer, tempDir, waitFor, withTimeout } from './lib/server.mjs';
import { wsClient, wsRefused } from './lib/clients.mjs';
import { parseResponses, rawExchange } from './lib/raw.mjs';
import { h2Connect, h2Request, makeCa, makeServerCert, tlsArgs } from './lib/tls.mjs';
import { END, tokens, writeTokens } from './lib/upstream.mjs';

const PROBLEM = '{"title":"no tokens left","status":422}';

// The backend: /tok/N (N NDJSON tokens every ?every_ms, 20 by default; 0:
// all at once with the head), /teapot 422, /oops 503, /hang (never in time).
// requests counts what it was asked; closed[key] is set when a /tok/
// request (?key=) was closed before its end, generated[key] counts tokens.
function startUpstream() {
  const state = { requests: 0, closed: {}, generated: {}, hangsClosed: 0 };
  const srv = http.createServer(async (req, res) => {
    state.requests++;
    const url = new URL(req.url, 'http://x');
    const route = url.pathname.replace(/^\/[a-z]+/, '');
    if (route.startsWith('/tok/')) {
      await writeTokens(res, Number(route.slice(5)), Number(url.searchParams.get('every_ms') ?? 20), state,
        url.searchParams.get('key') || '');
    } else if (route === '/teapot') {
      res.writeHead(422, { 'content-type': 'application/problem+json' });
      res.end(PROBLEM);
    } else if (route === '/oops') {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.write('backend ');
      await sleep(30);
      res.end('down\n');
    } else if (route === '/hang') {
      let over = false;
      res.on('close', () => { if (!over) { state.hangsClosed++; state.hangClosedAt = Date.now(); } });
      await sleep(3000);
      over = true;
      res.destroy();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ srv, state, port: srv.address().port })));
}

const upgrade = (p) => `GET ${p} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

// The WebSocket upgrade on a raw socket: exactly one HTTP answer, then the close.
async function rawUpgrade(port, p) {
  const text = await rawExchange(port, upgrade(p), { timeoutMs: 5000 });
  const answers = parseResponses(text);
  assert.equal(answers.length, 1, text);
  return answers[0];
}

describe('upstream statuses on WebSocket and HTTP/2', { timeout: 120000 }, () => {
  let up, server, tmp, ca, deadPort;
  before(async () => {
    up = await startUpstream();
    deadPort = await freePort();
    tmp = tempDir();
    ca = fs.readFileSync(makeCa(tmp.dir));
    const files = makeServerCert(tmp.dir);
    const url = `http://127.0.0.1:${up.port}`;
    const file = path.join(tmp.dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify({
      upstream_timeout_ms: 300,
      upstreams: [
        { path: '/up/*', url },
        { path: '/dur/*', url, durable: true },
        { path: '/dead/*', url: `http://127.0.0.1:${deadPort}` },
      ],
    }));
    server = await startServer({ tls: true, args: ['--config', file, '--heartbeat-ms', '0',
      '--longpoll-timeout-ms', '500', ...tlsArgs(files)] });
  });
  after(async () => {
    await server?.stop();
    up?.srv.close();
    tmp?.cleanup();
  });

  const unreachable = () => ({ error: 'upstream_unreachable', detail: 'the upstream refused or could not be reached',
    upstream: `http://127.0.0.1:${deadPort}` });
  const timeout = () => ({ error: 'upstream_timeout', detail: 'no response head within upstream_timeout_ms',
    upstream: `http://127.0.0.1:${up.port}` });

  it('WebSocket: the upgrade is answered with the upstream\'s status, type and body instead of 101', async () => {
    for (const p of ['/up/teapot', '/dur/teapot']) {
      const a = await rawUpgrade(server.port, p);
      assert.equal(a.status, 422, p);
      assert.equal(a.headers['content-type'], 'application/problem+json');
      assert.equal(a.headers.upgrade, undefined);
      assert.equal(a.body, PROBLEM);
    }
    const b = await rawUpgrade(server.port, '/up/oops');
    assert.equal(b.status, 503);
    assert.equal(b.headers['content-type'], 'text/plain');
    assert.equal(b.body, 'backend down\n');
    const w = await wsRefused(`${server.url.replace('http:', 'ws:')}/up/teapot`);
    assert.deepEqual(w, { status: 422, type: 'application/problem+json', body: PROBLEM });
  });

  it('WebSocket: nothing listening is 502, no head in time 504, as JSON', async () => {
    const a = await rawUpgrade(server.port, '/dead/x');
    assert.equal(a.status, 502);
    assert.equal(a.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(a.body), unreachable());
    const t0 = Date.now();
    const b = await wsRefused(`${server.url.replace('http:', 'ws:')}/up/hang`);
    assert.ok(Date.now() - t0 >= 250, 'waited upstream_timeout_ms');
    assert.equal(b.status, 504);
    assert.deepEqual(JSON.parse(b.body), timeout());
  });

  it('WebSocket: a 2xx upgrades and streams, also when the whole body came with the head', async () => {
    for (const q of ['every_ms=0', 'every_ms=5']) {
      const ws = await wsClient(`${server.url.replace('http:', 'ws:')}/up/tok/30?${q}`);
      const closed = await ws.waitClosed();
      assert.equal(closed.code, 1000);
      assert.deepEqual(ws.payloads(), [...tokens(30), END], q);
    }
    const d = await wsClient(`${server.url.replace('http:', 'ws:')}/dur/tok/5?every_ms=0`);
    await d.waitClosed();
    const p = d.payloads();
    assert.match(p[0], /^\{"type":"stream","id":"[0-9a-f]{16}"\}$/);
    assert.deepEqual(p.slice(1), [...tokens(5), END]);
  });

  it('WebSocket: a client that leaves during the wait cancels the upstream request; the gateway goes on', async () => {
    const before = up.state.requests;
    const closedBefore = up.state.hangsClosed;
    const t0 = Date.now();
    await rawExchange(server.port, upgrade('/up/hang?ws=leaves'), { timeoutMs: 100 });
    await waitFor(() => up.state.hangsClosed === closedBefore + 1,
      { timeoutMs: 2000, what: 'the upstream to see its request closed' });
    // the client left at 100 ms; upstream_timeout_ms (300) would close it later
    assert.ok(up.state.hangClosedAt - t0 < 280, `closed ${up.state.hangClosedAt - t0} ms after the upgrade`);
    assert.equal(up.state.requests, before + 1);
    const h = await request(server.url, { path: '/healthz' });
    assert.equal(h.status, 200);
  });

  it('HTTP/2: the exact status, content type and body; a 2xx streams', async () => {
    const session = await h2Connect(server.tlsPort, ca);
    try {
      const a = await h2Request(session, { path: '/up/teapot', headers: { accept: 'text/event-stream' } });
      assert.deepEqual([a.status, a.headers['content-type'], a.text], [422, 'application/problem+json', PROBLEM]);
      const b = await h2Request(session, { path: '/up/oops' });
      assert.deepEqual([b.status, b.headers['content-type'], b.text], [503, 'text/plain', 'backend down\n']);
      const c = await h2Request(session, { path: '/dead/x' });
      assert.equal(c.status, 502);
      assert.equal(c.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(c.text), unreachable());
      const d = await h2Request(session, { path: '/up/hang?transport=ndjson' });
      assert.equal(d.status, 504);
      assert.deepEqual(JSON.parse(d.text), timeout());
      const e = await h2Request(session, { path: '/dur/teapot' });
      assert.deepEqual([e.status, e.text], [422, PROBLEM]);
      const f = await h2Request(session, { path: '/up/tok/3?every_ms=1' });
      assert.deepEqual([f.status, f.text], [200, tokens(3).map((t) => `${t}\n`).join('')]);
      const g = await h2Request(session, { path: '/streams/0123456789abcdef?last_event_id=0' });
      assert.equal(g.status, 404);
      assert.equal(JSON.parse(g.text).error, 'no_such_stream');
    } finally {
      session.close();
    }
  });

  // Polls a plain upstream path with long-poll until the end message:
  // the first poll on path, the next ones on /streams/ID from the last id.
  async function pollAll(first, { maxPolls = 500 } = {}) {
    const got = [];
    let res = await request(server.url, { path: first, timeoutMs: 5000 });
    const id = res.headers['stream-id'];
    assert.match(id ?? '', /^[0-9a-f]{16}$/, 'a Stream-Id for the next poll');
    for (let polls = 1; polls <= maxPolls; polls++) {
      assert.equal(res.status, 200, res.text);
      const batch = JSON.parse(res.text);
      got.push(...batch);
      if (batch.some((m) => m.event === 'end')) return { got, id, polls };
      const last = res.headers['last-event-id'];
      res = await request(server.url, { path: `/streams/${id}?transport=longpoll&last_event_id=${last}`, timeoutMs: 5000 });
    }
    throw new Error(`no end after ${maxPolls} polls`);
  }

  it('long-poll on a plain upstream at 50 msgs/s: every message exactly once across polls', async () => {
    const n = 100;
    const { got, id, polls } = await pollAll(`/up/tok/${n}?every_ms=20&key=lp&transport=longpoll`);
    assert.ok(polls >= 5, `several polls (${polls})`);
    assert.deepEqual(got.map((m) => [m.event, m.data]), [['stream', `{"type":"stream","id":"${id}"}`],
      ...tokens(n).map((t) => [null, t]), ['end', END]]);
    const ids = got.map((m) => m.id);
    assert.equal(new Set(ids).size, ids.length, 'each message once');
    assert.equal(up.state.closed.lp, undefined);
  });

  it('long-poll on a plain upstream: a non-2xx is still the answer', async () => {
    const a = await request(server.url, { path: '/up/teapot?transport=longpoll' });
    assert.deepEqual([a.status, a.headers['content-type'], a.text], [422, 'application/problem+json', PROBLEM]);
  });

  it('long-poll on a plain upstream: polls that stop cancel the upstream request, then the stream expires', async () => {
    const first = await request(server.url, { path: '/up/tok/1000?every_ms=20&key=gone&transport=longpoll' });
    assert.equal(first.status, 200);
    const id = first.headers['stream-id'];
    const t0 = Date.now();
    // 2 x longpoll_timeout_ms without a poll, checked every longpoll_timeout_ms
    await waitFor(() => up.state.closed.gone, { timeoutMs: 5000, what: 'the upstream request cancelled' });
    const took = Date.now() - t0;
    assert.ok(took >= 900 && took < 3000, `cancelled after ${took} ms`);
    assert.ok(up.state.generated.gone < 200);
    const rest = await request(server.url, { path: `/streams/${id}?transport=longpoll&last_event_id=0` });
    const batch = JSON.parse(rest.text);
    assert.deepEqual(batch.at(-1).data, '{"type":"end","reason":"abandoned"}');
    await waitFor(async () => (await request(server.url, { path: `/streams/${id}?last_event_id=0` })).status === 404,
      { timeoutMs: 5000, what: 'the finished stream to expire' });
  });
});
