// Upstream mode: a real backend written here (node:http on loopback)
// streams NDJSON tokens, SSE, plain text, error answers and drops; the
// gateway proxies it to every transport, byte for byte, and records
// durable streams into channels that clients resume from.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, metrics, request, sleep, startServer, tempDir, waitFor } from './lib/server.mjs';
import { curl, eventSource, stalledGet, wsClient } from './lib/clients.mjs';
import { parseSse, prng, randomInt } from './lib/messages.mjs';
import { mint, now } from './lib/jwt.mjs';
import { h2Connect, h2Request, makeCa, makeServerCert, tlsArgs } from './lib/tls.mjs';
import { END, expectTransports, openTransports, token, tokens, writeTokens } from './lib/upstream.mjs';

const SSE_BODY = 'id: 7\nevent: greet\ndata: hello\ndata: world\n\n: a comment\n\ndata: plain\n\n' +
  'id: 8\ndata: {"x":1}\n\n';

// The backend. state.generated[key] counts tokens written per request key
// (?key=), state.closed[key] is set when a request's connection closed
// before its body was complete.
function startUpstream() {
  const state = { generated: {}, closed: {}, requests: [] };
  const srv = http.createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    const url = new URL(req.url, 'http://x');
    const key = url.searchParams.get('key') || '';
    state.requests.push({ method: req.method, url: req.url, headers: req.headers, body });
    const route = url.pathname.replace(/^\/[a-z]+/, '');
    if (route.startsWith('/tok/')) {
      // 50 tokens/s by default
      await writeTokens(res, Number(route.slice(5)), Number(url.searchParams.get('every_ms') || 20), state, key);
    } else if (route === '/sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const part of [SSE_BODY.slice(0, 13), SSE_BODY.slice(13, 40), SSE_BODY.slice(40)]) {
        res.write(part);
        await sleep(20);
      }
      res.end();
    } else if (route === '/text') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      for (const part of ['alpha', 'beta gamma', 'delta']) {
        res.write(part);
        await sleep(50);
      }
      res.end();
    } else if (route === '/teapot') {
      res.writeHead(422, { 'content-type': 'application/problem+json' });
      res.end('{"title":"no tokens left","status":422}');
    } else if (route === '/oops') {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('backend down\n');
    } else if (route === '/drop') {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(`${token(0)}\n${token(1)}\n`);
      await sleep(50);
      res.socket.destroy();
    } else if (route === '/echo') {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      const h = req.headers;
      res.end(`${JSON.stringify({
        method: req.method, url: req.url, body,
        authorization: h.authorization, cookie: h.cookie, 'content-type': h['content-type'],
        'x-request-id': h['x-request-id'], 'x-secret': h['x-secret'] ?? null,
        'x-forwarded-for': h['x-forwarded-for'], 'x-forwarded-proto': h['x-forwarded-proto'],
      })}\n`);
    } else if (route.startsWith('/big/')) { // as fast as the gateway reads
      const n = Number(route.slice(5));
      const pad = 'x'.repeat(1000);
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      state.generated[key] = 0;
      for (let i = 0; i < n && !res.destroyed; i++) {
        if (!res.write(`{"i":${i},"pad":"${pad}"}\n`)) await new Promise((r) => res.once('drain', r));
        state.generated[key] = i + 1;
      }
      res.end();
    } else if (route === '/grip') { // Pushpin's GRIP hold-stream
      res.writeHead(200, { 'content-type': 'text/plain', 'grip-hold': 'stream',
        'grip-channel': `${url.searchParams.get('ch')}; prev-id=3` });
      res.end('welcome');
    } else if (route === '/bad') { // two lines that are not JSON between good ones
      res.writeHead(200, { 'content-type': 'application/jsonl' });
      res.end('1\nnot json\n{"a":\n\n2');
    } else if (route === '/hang') {
      await sleep(5000); // never answers in time
      res.destroy();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ srv, state, port: srv.address().port })));
}

describe('upstream mode', { timeout: 120000 }, () => {
  let up, server, tmp, deadPort;
  before(async () => {
    up = await startUpstream();
    deadPort = await freePort();
    tmp = tempDir();
    const url = `http://127.0.0.1:${up.port}`;
    const cfg = {
      upstream_timeout_ms: 300,
      durable_ttl_ms: 60000,
      upstreams: [
        { path: '/up/*', url, format: 'auto' },
        { path: '/txt/*', url, format: 'text' },
        { path: '/dur/*', url, durable: true },
        { path: '/dead/*', url: `http://127.0.0.1:${deadPort}` },
      ],
    };
    const file = path.join(tmp.dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify(cfg));
    // no heartbeat: byte-exact streams that wait (GRIP) stay exact
    server = await startServer({ args: ['--config', file, '--heartbeat-ms', '0'] });
  });
  after(async () => {
    await server?.stop();
    up?.srv.close();
    tmp?.cleanup();
  });

  it('NDJSON tokens at 50/s reach curl, SSE, EventSource, WebSocket and ndjson byte for byte', async () => {
    const n = 100;
    await expectTransports(await openTransports(`${server.url}/up/tok/${n}`), tokens(n));
  });

  it('an SSE upstream keeps ids, event names and multi-line data; comments are dropped', async () => {
    const c = await curl(`${server.url}/up/sse`, { args: ['-H', 'Accept: text/event-stream'] }).done;
    assert.deepEqual(parseSse(c.stdout.toString()), [
      { id: '7', event: 'greet', data: 'hello\nworld' },
      { id: null, event: null, data: 'plain' },
      { id: '8', event: null, data: '{"x":1}' },
      { id: null, event: 'end', data: END },
    ]);
    const ws = await wsClient(`${server.url.replace('http:', 'ws:')}/up/sse`);
    await ws.waitClosed();
    assert.deepEqual(ws.payloads(), ['hello\nworld', 'plain', '{"x":1}', END]);
  });

  it('plain text: each chunk as it arrives, one message each', async () => {
    const c = await curl(`${server.url}/txt/text?transport=ndjson`).done;
    const msgs = c.stdout.toString().trim().split('\n').map((l) => JSON.parse(l).data);
    assert.deepEqual(msgs, ['alpha', 'beta gamma', 'delta', END]);
  });

  it('a non-2xx answer before the stream is passed through: status, type, body', async () => {
    const a = await request(server.url, { path: '/up/teapot' });
    assert.equal(a.status, 422);
    assert.equal(a.headers['content-type'], 'application/problem+json');
    assert.equal(a.text, '{"title":"no tokens left","status":422}');
    const b = await request(server.url, { path: '/up/oops', headers: { Accept: 'text/event-stream' } });
    assert.equal(b.status, 503);
    assert.equal(b.headers['content-type'], 'text/plain');
    assert.equal(b.text, 'backend down\n');
  });

  it('nothing listening: 502; no head within upstream_timeout_ms: 504', async () => {
    const a = await request(server.url, { path: '/dead/x' });
    assert.equal(a.status, 502);
    assert.equal(a.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(a.text), {
      error: 'upstream_unreachable', detail: 'the upstream refused or could not be reached',
      upstream: `http://127.0.0.1:${deadPort}`,
    });
    const t0 = Date.now();
    const b = await request(server.url, { path: '/up/hang' });
    assert.equal(b.status, 504);
    assert.deepEqual(JSON.parse(b.text), {
      error: 'upstream_timeout', detail: 'no response head within upstream_timeout_ms',
      upstream: `http://127.0.0.1:${up.port}`,
    });
    assert.ok(Date.now() - t0 >= 250, 'waited upstream_timeout_ms');
  });

  it('a drop mid-stream: the error message, then a clean end', async () => {
    const c = await curl(`${server.url}/up/drop`, { args: ['-H', 'Accept: text/event-stream'] }).done;
    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.stdout.toString(), `: ok\n\ndata: ${token(0)}\n\ndata: ${token(1)}\n\n` +
      'event: error\ndata: {"type":"error","reason":"upstream_closed"}\n\n');
  });

  it('malformed NDJSON lines are skipped and counted in streamgate_upstream_malformed_total', async () => {
    const before = (await metrics(server.url)).streamgate_upstream_malformed_total;
    const c = await curl(`${server.url}/up/bad?transport=ndjson`).done;
    assert.deepEqual(c.stdout.toString().trim().split('\n').map((l) => JSON.parse(l).data), ['1', '2', END]);
    assert.equal((await metrics(server.url)).streamgate_upstream_malformed_total, before + 2);
  });

  it('POST: method, target, body and the listed headers go upstream, plus X-Forwarded-*', async () => {
    const res = await request(server.url, {
      method: 'POST', path: '/up/echo?q=a%20b&n=1', body: '{"prompt":"hi"}',
      headers: {
        'Content-Type': 'application/json', Authorization: 'Bearer abc', Cookie: 'k=v',
        'X-Request-Id': 'r-1', 'X-Secret': 'no',
      },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.text.trim().split('\n')[0]), {
      method: 'POST', url: '/up/echo?q=a%20b&n=1', body: '{"prompt":"hi"}', authorization: 'Bearer abc',
      cookie: 'k=v', 'content-type': 'application/json', 'x-request-id': 'r-1', 'x-secret': null,
      'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'http',
    });
  });

  it('GRIP hold-stream: the body first, then what is published to Grip-Channel, on every transport', async () => {
    const u = `${server.url}/up/grip?ch=g1`;
    const plain = curl(u);
    const sse = curl(u, { args: ['-H', 'Accept: text/event-stream'] });
    const nd = curl(`${u}&transport=ndjson`);
    const ws = await wsClient(u.replace('http:', 'ws:'));
    await Promise.all([plain.waitBytes(8), sse.waitBytes(21), nd.waitBytes(10), ws.waitCount(1)]);
    await waitFor(async () => {
      const info = await request(server.url, { path: '/channels/g1/info' });
      return info.status === 200 && JSON.parse(info.text).subscribers === 4;
    }, { what: 'four clients held on g1' });
    const pub = await request(server.url, { method: 'POST', path: '/channels/g1', body: 'news' });
    assert.equal(pub.status, 200);
    const id = JSON.parse(pub.text).id;
    assert.equal((await plain.waitBytes(13)).toString(), 'welcome\nnews\n');
    assert.equal((await sse.waitBytes(21 + 5 + id.length + 12)).toString(),
      `: ok\n\ndata: welcome\n\nid: ${id}\ndata: news\n\n`);
    const lines = (await nd.waitBytes(1)) && await waitFor(() => {
      const t = nd.stdout().toString();
      return t.split('\n').length > 2 && t;
    }, { what: 'two ndjson lines' });
    assert.deepEqual(lines.trim().split('\n').map((l) => JSON.parse(l)), [
      { channel: '', id: null, event: null, data: 'welcome' }, { channel: 'g1', id, event: null, data: 'news' }]);
    await ws.waitCount(2);
    assert.deepEqual(ws.payloads(), ['welcome', 'news']);
    for (const c of [plain, sse, nd]) await c.kill();
    await ws.close();
    const hdr = plain.headers().headers;
    assert.equal(hdr['grip-hold'], undefined, 'no Grip-* header reaches the client');
  });

  // A durable stream read over SSE in pieces: each piece a curl cut after a
  // random number of events (or a random time), resumed from the last id.
  async function readInPieces(first, rng, { pauseMs = [0, 150] } = {}) {
    const got = [];
    let id = null, last = null, ended = false, pieces = 0;
    let c = curl(first, { args: ['-H', 'Accept: text/event-stream'] });
    while (!ended) {
      pieces++;
      const hs = await c.waitHeaders();
      assert.equal(hs.status, 200);
      if (!id) id = hs.headers['stream-id'];
      const take = randomInt(rng, 1, 25);
      await waitFor(() => {
        const evs = parseSse(c.stdout().toString());
        return evs.some((e) => e.event === 'end') || evs.filter((e) => e.id).length >= take;
      }, { timeoutMs: 20000, what: 'events of a piece' });
      await c.kill('SIGKILL');
      for (const e of parseSse(c.stdout().toString())) {
        assert.ok(e.id, `every recorded event has an id: ${JSON.stringify(e)}`);
        last = e.id;
        if (e.event === 'stream') { assert.equal(e.data, `{"type":"stream","id":"${id}"}`); continue; }
        if (e.event === 'end') { ended = true; assert.equal(e.data, END); break; }
        got.push(e.data);
      }
      await sleep(randomInt(rng, pauseMs[0], pauseMs[1]));
      if (!ended) c = curl(`${server.url}/streams/${id}`, { args: ['-H', 'Accept: text/event-stream', '-H', `Last-Event-ID: ${last}`] });
    }
    return { got, id, pieces };
  }

  it('durable: cut at random points and resumed with Last-Event-ID: no loss, no duplicate', async () => {
    const { got, id, pieces } = await readInPieces(`${server.url}/dur/tok/120?key=cuts`, prng(15));
    assert.match(id, /^[0-9a-f]{16}$/);
    assert.ok(pieces >= 3, `cut several times (${pieces})`);
    assert.deepEqual(got, tokens(120));
  });

  it('durable: the upstream goes on with no client; a resume after it finished gets the rest', async () => {
    const c = curl(`${server.url}/dur/tok/40?key=alone&every_ms=10`);
    const hs = await c.waitHeaders();
    const id = hs.headers['stream-id'];
    await c.waitBytes(1);
    await c.kill('SIGKILL');
    await waitFor(() => up.state.generated.alone === 40, { what: 'the upstream to finish alone' });
    assert.equal(up.state.closed.alone, undefined, 'the upstream request was not cancelled');
    const all = [`{"type":"stream","id":"${id}"}`, ...tokens(40), END];
    const es = await eventSource(`${server.url}/streams/${id}?last_event_id=0`, { eventNames: ['end', 'stream'] });
    await es.waitCount(42);
    es.close();
    assert.deepEqual(es.events.map((e) => e.data), all);
    // and over a WebSocket and long-poll, from the start
    const ws = await wsClient(`${server.url.replace('http:', 'ws:')}/streams/${id}?last_event_id=0`);
    await ws.waitClosed();
    assert.deepEqual(ws.payloads(), all);
    const lp = await request(server.url, { path: `/streams/${id}?transport=longpoll&last_event_id=0` });
    assert.deepEqual(JSON.parse(lp.text).map((m) => m.data), all);
    // plain curl: the tokens only
    assert.equal(await curl(`${server.url}/streams/${id}?last_event_id=0`).done.then((r) => r.stdout.toString()),
      tokens(40).map((t) => `${t}\n`).join(''));
  });

  it('durable: DELETE /streams/ID aborts the upstream request and ends subscribers', async () => {
    const c = curl(`${server.url}/dur/tok/2000?key=del`, { args: ['-H', 'Accept: text/event-stream'] });
    const id = (await c.waitHeaders()).headers['stream-id'];
    await waitFor(() => up.state.generated.del >= 3, { what: 'tokens before the delete' });
    const res = await request(server.url, { method: 'DELETE', path: `/streams/${id}` });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.text), { stream: id, deleted: true });
    await waitFor(() => up.state.closed.del, { what: 'the upstream to see its request closed' });
    const r = await c.done;
    const evs = parseSse(r.stdout.toString());
    assert.deepEqual(evs.at(-1), { ...evs.at(-1), event: 'end', data: '{"type":"end","reason":"deleted"}' });
    assert.ok(up.state.generated.del < 2000);
    const gone = await request(server.url, { method: 'DELETE', path: '/streams/0123456789abcdef' });
    assert.equal(gone.status, 404);
    // a deleted finished stream is gone at once; an unknown id is 404 on every transport
    assert.deepEqual(JSON.parse((await request(server.url, { method: 'DELETE', path: `/streams/${id}` })).text),
      { stream: id, deleted: true });
    const unknown = await request(server.url, { path: `/streams/${id}?last_event_id=0` });
    assert.equal(unknown.status, 404);
    assert.deepEqual(JSON.parse(unknown.text), {
      error: 'no_such_stream', detail: 'no stream with this id, or it expired (durable_ttl_ms)',
    });
    const ws = await wsClient(`${server.url.replace('http:', 'ws:')}/streams/0123456789abcdef`);
    await ws.waitClosed();
    assert.deepEqual(ws.payloads(), ['{"type":"error","reason":"no_such_stream"}']);
  });
});

describe('upstream backpressure', { timeout: 120000 }, () => {
  let up, server, tmp;
  before(async () => {
    up = await startUpstream();
    tmp = tempDir();
    const file = path.join(tmp.dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify({ upstreams: [{ path: '/up/*', url: `http://127.0.0.1:${up.port}` }] }));
    server = await startServer({ args: ['--config', file, '--queue-bytes', '65536'] });
  });
  after(async () => {
    await server?.stop();
    up?.srv.close();
    tmp?.cleanup();
  });

  it('a client that does not read pauses the upstream; once it reads, every line arrives', async () => {
    const n = 30000; // 30 MB: far more than the socket buffers between them hold
    const { socket, closed } = await stalledGet(server.port, `/up/big/${n}?key=bp`, 'Connection: close\r\n');
    await waitFor(() => up.state.generated.bp > 0, { what: 'the upstream to start' });
    let last = -1;
    await waitFor(async () => {
      const now = up.state.generated.bp;
      const still = now === last;
      last = now;
      await sleep(300);
      return still;
    }, { timeoutMs: 20000, what: 'the upstream to be paused' });
    assert.ok(last < n / 2, `the upstream stopped early (${last} of ${n} lines)`);
    const parts = [];
    socket.on('data', (d) => parts.push(d));
    socket.resume();
    await closed;
    const text = Buffer.concat(parts).toString('latin1');
    const ids = [...text.matchAll(/\{"i":(\d+),/g)].map((m) => Number(m[1]));
    assert.equal(ids.length, n);
    assert.ok(ids.every((v, k) => v === k), 'every line once, in order');
  });
});

describe('upstream admission', { timeout: 60000 }, () => {
  const KEY = 'upstream-test-secret-0123456789abcdef';
  let up, server, tmp;
  before(async () => {
    up = await startUpstream();
    tmp = tempDir();
    const file = path.join(tmp.dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify({
      auth_jwt_alg: 'HS256', auth_jwt_key: KEY,
      upstreams: [{ path: '/up/*', url: `http://127.0.0.1:${up.port}` }],
    }));
    server = await startServer({ args: ['--config', file] });
  });
  after(async () => {
    await server?.stop();
    up?.srv.close();
    tmp?.cleanup();
  });

  it('a token that fails is refused before the upstream is called; a valid one is passed on', async () => {
    const bad = await request(server.url, { path: '/up/echo', headers: { Authorization: 'Bearer abc.def.ghi' } });
    assert.equal(bad.status, 401);
    assert.equal(JSON.parse(bad.text).error, 'invalid_token');
    assert.equal(up.state.requests.length, 0, 'the upstream was not called');
    const token = mint('HS256', KEY, { exp: now() + 60 });
    const ok = await request(server.url, { path: '/up/echo', headers: { Authorization: `Bearer ${token}` } });
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.text.split('\n')[0]).authorization, `Bearer ${token}`);
    assert.equal(up.state.requests.length, 1);
  });
});

describe('upstream over TLS: HTTP/2 and HTTP/1.1', { timeout: 60000 }, () => {
  let up, server, tmp, ca;
  before(async () => {
    up = await startUpstream();
    tmp = tempDir();
    ca = fs.readFileSync(makeCa(tmp.dir));
    const files = makeServerCert(tmp.dir);
    const file = path.join(tmp.dir, 'config.json');
    const url = `http://127.0.0.1:${up.port}`;
    fs.writeFileSync(file, JSON.stringify({
      upstreams: [{ path: '/up/*', url }, { path: '/dur/*', url, durable: true }],
    }));
    server = await startServer({ tls: true, args: ['--config', file, ...tlsArgs(files)] });
  });
  after(async () => {
    await server?.stop();
    up?.srv.close();
    tmp?.cleanup();
  });

  it('HTTP/2: a POST streams with its body forwarded, X-Forwarded-Proto https; a durable stream has Stream-Id', async () => {
    const session = await h2Connect(server.tlsPort, ca);
    try {
      const echo = await h2Request(session, {
        method: 'POST', path: '/up/echo', body: 'over h2', headers: { 'content-type': 'text/plain' },
      });
      assert.equal(echo.status, 200);
      const e = JSON.parse(echo.text.split('\n')[0]);
      assert.deepEqual([e.method, e.body, e['x-forwarded-proto'], e['content-type']],
        ['POST', 'over h2', 'https', 'text/plain']);
      const d = await h2Request(session, { path: '/dur/tok/3?every_ms=1', headers: { accept: 'text/event-stream' } });
      assert.equal(d.status, 200);
      const id = d.headers['stream-id'];
      assert.match(id, /^[0-9a-f]{16}$/);
      const evs = parseSse(d.text);
      assert.deepEqual(evs.map((v) => [v.event, v.data]), [['stream', `{"type":"stream","id":"${id}"}`],
        ...tokens(3).map((t) => [null, t]), ['end', END]]);
    } finally {
      session.close();
    }
  });

  it('HTTP/1.1 over TLS: X-Forwarded-Proto https', async () => {
    const c = await curl(`https://127.0.0.1:${server.tlsPort}/up/echo`, {
      args: ['--http1.1', '--cacert', path.join(tmp.dir, 'ca.pem')],
    }).done;
    assert.equal(c.code, 0, c.stderr);
    assert.equal(JSON.parse(c.stdout.toString().split('\n')[0])['x-forwarded-proto'], 'https');
  });
});
