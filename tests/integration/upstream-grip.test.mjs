// GRIP (Pushpin compatibility) in upstream mode: a real backend written
// here answers with Grip-* instructions and checks the Grip-Sig the gateway
// signs; items published through POST /publish/ (main listener with the
// admin right, or grip_publish_listen) reach held clients on every
// transport byte for byte; Grip-Keep-Alive, Grip-Hold: response and the
// per-upstream "grip" and "auth" switches, with exact statuses.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import {
  expectError, freePort, request, runBinary, startServer, tempDir, waitFor,
} from './lib/server.mjs';
import { curl, wsClient, wsRefused } from './lib/clients.mjs';
import { mint, now } from './lib/jwt.mjs';
import { ID_PATTERN, parseSse } from './lib/messages.mjs';
import { HAVE_REDIS, nodeArgs, startRedis } from './lib/redis.mjs';

const SECRET = 'grip-test-secret-0123456789abcdef';
const GRIP_KEY = 'backend-shared-grip-key';
const END = '{"type":"end"}';

const token = (claims = {}, key = SECRET) => mint('HS256', key, {
  sub: 'alice', exp: now() + 3600, streamgate: { subscribe: ['news'], publish: [] }, ...claims,
});
const bearer = (t) => ({ Authorization: `Bearer ${t}` });
const ADMIN = bearer(token({ streamgate: { admin: true, subscribe: ['*'], publish: ['*'] } }));

// Verifies a Grip-Sig as a backend would (HS256 with the shared key, exp):
// its claims, or null.
function gripSigClaims(sig, key) {
  const [h, p, s] = String(sig).split('.');
  if (!s) return null;
  const want = crypto.createHmac('sha256', key).update(`${h}.${p}`).digest('base64url');
  if (want !== s) return null;
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  return header.alg === 'HS256' && claims.exp > now() ? claims : null;
}

// The backend: GRIP answers by route; every request is recorded.
function startBackend() {
  const requests = [];
  const srv = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const ch = url.searchParams.get('ch');
    requests.push({ url: req.url, headers: req.headers });
    const route = url.pathname.replace(/^\/[a-z]+/, '');
    if (route === '/stream') {
      const h = { 'content-type': 'text/plain', 'grip-hold': 'stream', 'grip-channel': ch };
      if (url.searchParams.get('ka')) h['grip-keep-alive'] = 'ping\\n; format=cstring; timeout=1';
      if (url.searchParams.get('ka64')) h['grip-keep-alive'] = `${Buffer.from('k\n').toString('base64')}; format=base64; timeout=1`;
      if (url.searchParams.get('link')) h['grip-link'] = '</stream?ch=next>; rel=next';
      res.writeHead(200, h);
      res.end('welcome');
    } else if (route === '/resp') {
      res.writeHead(200, {
        'content-type': 'text/x-held', 'grip-hold': 'response', 'grip-channel': ch,
        'grip-timeout': url.searchParams.get('t') || '20',
      });
      res.end('timeout body');
    } else {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    }
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ srv, requests, port: srv.address().port })));
}

const last = (b) => b.requests[b.requests.length - 1];

describe('upstream GRIP', { timeout: 120000 }, () => {
  let backend, server, tmp, gripBase;
  before(async () => {
    backend = await startBackend();
    tmp = tempDir();
    const gripPort = await freePort();
    gripBase = `http://127.0.0.1:${gripPort}`;
    const url = `http://127.0.0.1:${backend.port}`;
    const fwd = 'Authorization, Grip-Sig';
    const cfg = {
      auth_jwt_alg: 'HS256',
      auth_jwt_key: SECRET,
      anonymous_subscribe: 'open.*',
      grip_publish_listen: `127.0.0.1:${gripPort}`,
      max_body_bytes: 262144,
      upstreams: [
        { path: '/g/*', url, grip_key: GRIP_KEY, forward_headers: fwd },
        { path: '/ng/*', url, grip: false, grip_key: GRIP_KEY, forward_headers: fwd },
        { path: '/req/*', url, auth: 'require', forward_headers: fwd },
        { path: '/reqch/*', url, auth: 'require', channel: 'news', forward_headers: fwd },
        { path: '/off/*', url, auth: 'off', forward_headers: fwd },
      ],
    };
    const file = path.join(tmp.dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify(cfg));
    // no heartbeat: byte-exact held streams stay exact
    server = await startServer({ args: ['--config', file, '--heartbeat-ms', '0'] });
  });
  after(async () => {
    await server?.stop();
    backend?.srv.close();
    tmp?.cleanup();
  });

  const publishItems = (base, items, headers = {}) => request(base, {
    method: 'POST', path: '/publish/', headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof items === 'string' ? items : JSON.stringify({ items }),
  });
  const streamItem = (channel, content) => ({ channel, formats: { 'http-stream': { content } } });

  async function subscribers(channel, n) {
    await waitFor(async () => {
      const info = await request(server.url, { path: `/channels/${channel}/info`, headers: ADMIN });
      return info.status === 200 && JSON.parse(info.text).subscribers === n;
    }, { what: `${n} subscribers on ${channel}` });
  }

  it('POST /publish/ on the main listener needs the admin right; Pushpin\'s answer', async () => {
    const items = [streamItem('open.a', 'x\n')];
    expectError(await publishItems(server.url, items), 401, 'token_required');
    expectError(await publishItems(server.url, items, bearer(token())), 403, 'forbidden');
    const ok = await publishItems(server.url, items, ADMIN);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['content-type'], 'text/plain');
    assert.equal(ok.text, 'Published\n');
  });

  it('grip_publish_listen serves /publish/ and /healthz only, without a token', async () => {
    const ok = await publishItems(gripBase, [streamItem('open.b', 'y\n')]);
    assert.equal(ok.status, 200);
    assert.equal(ok.text, 'Published\n');
    assert.equal((await request(gripBase, { path: '/healthz' })).status, 200);
    const other = await request(gripBase, { path: '/channels/open.b' });
    expectError(other, 404, 'not_found');
    assert.equal(JSON.parse(other.text).detail, 'grip_publish_listen serves /publish/ and /healthz only');
    expectError(await request(gripBase, { method: 'POST', path: '/channels/open.b', body: 'z' }), 404, 'not_found');
  });

  it('bad publishes: exact statuses and reasons, and nothing is published', async () => {
    const cases = [
      ['{"items":', 'bad_json'],
      ['[]', 'bad_items'],
      ['{"items":[]}', 'bad_items'],
      ['{"items":"x"}', 'bad_items'],
      [{ items: [{ channel: 'bad name', formats: { 'http-stream': { content: 'a' } } }] }, 'bad_channel'],
      [{ items: [{ formats: { 'http-stream': { content: 'a' } } }] }, 'bad_channel'],
      [{ items: [{ channel: 'open.c', formats: 'x' }] }, 'bad_item'],
      [{ items: [{ channel: 'open.c', formats: {} }] }, 'bad_item'],
      [{ items: [{ channel: 'open.c', formats: { 'http-stream': { content: 5 } } }] }, 'bad_item'],
      [{ items: [{ channel: 'open.c', formats: { 'http-stream': { 'content-bin': '@@@' } } }] }, 'bad_item'],
      [{ items: [{ channel: 'open.c', id: 3, formats: { 'ws-message': { content: 'a' } } }] }, 'bad_item'],
      [{ items: [{ channel: 'open.c', formats: { 'http-stream': { 'content-bin': '/w==' } } }] }, 'bad_encoding'],
      [{ items: [streamItem('open.c', 'fine'), streamItem('open c', 'bad')] }, 'bad_channel'],
    ];
    for (const [body, code] of cases) {
      const r = await publishItems(gripBase, typeof body === 'string' ? body : JSON.stringify(body));
      expectError(r, 400, code);
    }
    const info = await request(server.url, { path: '/channels/open.c/info', headers: ADMIN });
    assert.equal(info.status, 404, 'the good item of a bad batch was not published');
    const big = await publishItems(gripBase, [streamItem('open.c', 'x'.repeat(300000))]);
    expectError(big, 413, 'body_too_large');
  });

  it('items reach held curl, SSE, WebSocket and ndjson clients and plain subscribers, byte for byte', async () => {
    const u = `${server.url}/g/stream?ch=g1`;
    const plain = curl(u);
    const sse = curl(u, { args: ['-H', 'Accept: text/event-stream'] });
    const nd = curl(`${u}&transport=ndjson`);
    const ws = await wsClient(u.replace('http:', 'ws:'));
    const sub = curl(`${server.url}/channels/g1`, { args: ['-H', `Authorization: Bearer ${token({ streamgate: { subscribe: ['g1'] } })}`] });
    await subscribers('g1', 5);
    const r = await publishItems(gripBase, [
      streamItem('g1', 'hello\n'),
      { channel: 'g1', formats: { 'http-stream': { 'content-bin': Buffer.from('bin ✓\n').toString('base64') } } },
      { channel: 'g1', formats: { 'ws-message': { content: 'only ws' } } },
      { channel: 'g1', formats: { 'http-response': { code: 200, body: 'resp body' } } },
    ]);
    assert.equal(r.status, 200);
    const want = ['hello', 'bin ✓', 'only ws', 'resp body'];
    const text = `welcome\n${want.map((w) => `${w}\n`).join('')}`;
    assert.equal((await plain.waitBytes(Buffer.byteLength(text))).toString(), text);
    await waitFor(() => parseSse(sse.stdout().toString()).length >= 5, { what: 'five SSE events' });
    const events = parseSse(sse.stdout().toString());
    assert.deepEqual(events.map((e) => [e.event, e.data]), [[null, 'welcome'], ...want.map((w) => [null, w])]);
    assert.equal(events[0].id, null); // the upstream's body has no channel id
    assert.ok(events.slice(1).every((e) => ID_PATTERN.test(e.id)), 'channel ids on published items');
    await ws.waitCount(5);
    assert.deepEqual(ws.payloads(), ['welcome', ...want]);
    const subText = want.map((w) => `${w}\n`).join('');
    assert.equal((await sub.waitBytes(Buffer.byteLength(subText))).toString(), subText);
    await waitFor(() => nd.stdout().toString().split('\n').length >= 6, { what: 'five ndjson lines' });
    const lines = nd.stdout().toString().trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.data), ['welcome', ...want]);
    // http-stream "action":"close" ends the held streams
    await publishItems(gripBase, [{ channel: 'g1', formats: { 'http-stream': { action: 'close' } } }]);
    const [p] = await Promise.all([plain.done, sse.done, nd.done]);
    assert.equal(p.code, 0);
    assert.equal(p.stdout.toString(), text);
    await ws.waitClosed();
    await sub.kill();
  });

  it('a batch of 1,000 items: one answer, every item delivered in order', async () => {
    const plain = curl(`${server.url}/g/stream?ch=g2`);
    await subscribers('g2', 1);
    const items = Array.from({ length: 1000 }, (_, i) => streamItem('g2', `m${i}\n`));
    const r = await publishItems(gripBase, items);
    assert.equal(r.status, 200);
    const text = `welcome\n${items.map((_, i) => `m${i}\n`).join('')}`;
    assert.equal((await plain.waitBytes(Buffer.byteLength(text))).toString(), text);
    await plain.kill();
  });

  it('Grip-Keep-Alive: the data after each N idle seconds (cstring and base64)', async () => {
    const t0 = Date.now();
    const plain = curl(`${server.url}/g/stream?ch=g3&ka=1`);
    const b64 = curl(`${server.url}/g/stream?ch=g3b&ka64=1`);
    await plain.waitBytes(8);
    const one = await plain.waitBytes(13, 5000);
    assert.ok(Date.now() - t0 >= 900, `keep-alive came after ${Date.now() - t0} ms`);
    assert.equal(one.toString(), 'welcome\nping\n');
    assert.equal((await plain.waitBytes(18, 5000)).toString(), 'welcome\nping\nping\n');
    assert.equal((await b64.waitBytes(12, 5000)).toString(), 'welcome\nk\nk\n');
    await Promise.all([plain.kill(), b64.kill()]);
  });

  it('Grip-Hold: response is answered by a publish, with the message', async () => {
    const t0 = Date.now();
    const held = request(server.url, { path: '/g/resp?ch=g4&t=20', timeoutMs: 15000 });
    await subscribers('g4', 1);
    await publishItems(gripBase, [{ channel: 'g4', formats: { 'http-response': { body: 'the answer' } } }]);
    const r = await held;
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/x-held');
    assert.equal(r.text, 'the answer');
    assert.ok(Date.now() - t0 < 10000);
  });

  it('Grip-Hold: response over WebSocket: the 101, then the published answer as one message, then close 1000', async () => {
    const ws = await wsClient(`${server.url.replace('http:', 'ws:')}/g/resp?ch=g7&t=20`);
    await subscribers('g7', 1);
    await publishItems(gripBase, [{ channel: 'g7', formats: { 'http-response': { body: 'ws answer' } } }]);
    const closed = await ws.waitClosed(10000);
    assert.deepEqual(ws.payloads(), ['ws answer']);
    assert.equal(closed.code, 1000);
    // and at Grip-Timeout, the upstream's own body
    const late = await wsClient(`${server.url.replace('http:', 'ws:')}/g/resp?ch=g8&t=1`);
    assert.equal((await late.waitClosed(10000)).code, 1000);
    assert.deepEqual(late.payloads(), ['timeout body']);
  });

  it('Grip-Hold: response at Grip-Timeout gets the upstream\'s own answer', async () => {
    const t0 = Date.now();
    const r = await request(server.url, { path: '/g/resp?ch=g5&t=1', timeoutMs: 10000 });
    const took = Date.now() - t0;
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/x-held');
    assert.equal(r.text, 'timeout body');
    assert.ok(took >= 900 && took < 5000, `answered after ${took} ms`);
  });

  it('Grip-Link is ignored safely: the hold goes on as without it', async () => {
    const plain = curl(`${server.url}/g/stream?ch=g6&link=1`);
    await subscribers('g6', 1);
    await publishItems(gripBase, [streamItem('g6', 'after link\n')]);
    assert.equal((await plain.waitBytes(19)).toString(), 'welcome\nafter link\n');
    await plain.kill();
  });

  it('Grip-Sig: signed with grip_key, iss pushpin; a client\'s Grip-Sig never reaches the backend', async () => {
    const r = await request(server.url, { path: '/g/echo', headers: { 'Grip-Sig': 'forged.by.client' } });
    assert.equal(r.status, 200);
    assert.equal(r.text, 'ok\n');
    const sig = last(backend).headers['grip-sig'];
    const claims = gripSigClaims(sig, GRIP_KEY);
    assert.ok(claims, `Grip-Sig verifies: ${sig}`);
    assert.equal(claims.iss, 'pushpin');
    assert.ok(claims.exp > now() && claims.exp <= now() + 3601);
    assert.equal(gripSigClaims(sig, 'another key'), null);
  });

  it('"grip": false: no Grip-Sig, the Grip-* headers are dropped and the answer streams as usual', async () => {
    const r = await request(server.url, { path: '/ng/stream?ch=g7', headers: { 'Grip-Sig': 'forged.by.client' } });
    assert.equal(r.status, 200);
    assert.equal(r.text, 'welcome\n');
    assert.equal(r.headers['grip-hold'], undefined);
    assert.equal(last(backend).headers['grip-sig'], undefined);
  });

  it('"auth": pass (default) / require / require with a channel / off: exact statuses', async () => {
    const bad = bearer(token({}, 'not the secret'));
    const news = bearer(token());
    const other = bearer(token({ streamgate: { subscribe: ['sports'] } }));
    const get = (p, headers = {}) => request(server.url, { path: p, headers });
    const seen = async (p, headers) => {
      const n = backend.requests.length;
      const r = await get(p, headers);
      return { r, called: backend.requests.length > n };
    };
    // pass: none and valid go on; an invalid token is refused here
    assert.equal((await get('/g/echo')).status, 200);
    assert.equal((await get('/g/echo', news)).status, 200);
    let s = await seen('/g/echo', bad);
    expectError(s.r, 401, 'invalid_token');
    assert.equal(s.called, false);
    // require: a valid token
    s = await seen('/req/echo');
    expectError(s.r, 401, 'token_required');
    assert.equal(s.called, false);
    expectError(await get('/req/echo', bad), 401, 'invalid_token');
    s = await seen('/req/echo', other);
    assert.equal(s.r.status, 200);
    assert.equal(s.r.text, 'ok\n');
    assert.equal(last(backend).headers.authorization, other.Authorization);
    // require with channel: the subscribe right to it
    expectError(await get('/reqch/echo'), 401, 'token_required');
    s = await seen('/reqch/echo', other);
    expectError(s.r, 403, 'forbidden');
    assert.equal(s.called, false);
    assert.equal((await get('/reqch/echo', news)).status, 200);
    // off: nothing checked, the upstream sees what came
    s = await seen('/off/echo', bad);
    assert.equal(s.r.status, 200);
    assert.equal(last(backend).headers.authorization, bad.Authorization);
    assert.equal((await get('/off/echo')).status, 200);
  });

  it('"auth" refuses a WebSocket upgrade with the status, before the upstream is called', async () => {
    const ws = server.url.replace('http:', 'ws:');
    const other = bearer(token({ streamgate: { subscribe: ['sports'] } }));
    const refused = async (p, headers) => {
      const n = backend.requests.length;
      const r = await wsRefused(`${ws}${p}`, headers);
      assert.equal(backend.requests.length, n, `${p}: the upstream was not called`);
      assert.equal(r.type, 'application/json');
      return { status: r.status, error: JSON.parse(r.body).error };
    };
    assert.deepEqual(await refused('/req/echo'), { status: 401, error: 'token_required' });
    assert.deepEqual(await refused('/reqch/echo', other), { status: 403, error: 'forbidden' });
    assert.deepEqual(await refused('/g/echo', bearer(token({}, 'not the secret'))),
      { status: 401, error: 'invalid_token' });
  });

  it('/healthz answers after all of it', async () => {
    assert.equal((await request(server.url, { path: '/healthz' })).status, 200);
    assert.equal((await request(gripBase, { path: '/healthz' })).status, 200);
  });
});

// Two gateways on one Redis: a client held on node B gets an item that
// the backend published on node A's grip_publish_listen.
describe('upstream GRIP across nodes (Redis)', { timeout: 60000, skip: !HAVE_REDIS && 'no redis-server' }, () => {
  let backend, redis, a, b, tmp, gripA;
  before(async () => {
    backend = await startBackend();
    redis = await startRedis();
    tmp = tempDir();
    const portA = await freePort();
    gripA = `http://127.0.0.1:${portA}`;
    const file = path.join(tmp.dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify({ upstreams: [{ path: '/g/*', url: `http://127.0.0.1:${backend.port}` }] }));
    const common = ['--config', file, '--heartbeat-ms', '0'];
    a = await startServer({ args: [...nodeArgs(redis), ...common, '--grip-publish-listen', `127.0.0.1:${portA}`] });
    b = await startServer({ args: [...nodeArgs(redis), ...common] });
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
    await redis?.cleanup();
    backend?.srv.close();
    tmp?.cleanup();
  });

  it('an item published on node A reaches curl and WebSocket clients held on node B', async () => {
    const u = `${b.url}/g/stream?ch=r1`;
    const plain = curl(u);
    const ws = await wsClient(u.replace('http:', 'ws:'));
    const pub = (content) => request(gripA, {
      method: 'POST', path: '/publish/', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ items: [{ channel: 'r1', formats: { 'http-stream': { content } } }] }),
    });
    // node B's Redis subscription is made asynchronously: probes until both
    // clients have one, then the item
    await waitFor(async () => {
      assert.equal((await pub('probe\n')).status, 200);
      return ws.messages.length >= 2 && /probe\n$/.test(plain.stdout().toString());
    }, { what: 'a probe on both clients at node B' });
    const r = await pub('via redis\n');
    assert.equal(r.status, 200);
    assert.equal(r.text, 'Published\n');
    await waitFor(() => plain.stdout().toString().endsWith('via redis\n'), { what: 'the item on curl' });
    assert.match(plain.stdout().toString(), /^welcome\n(probe\n)+via redis\n$/);
    await waitFor(() => ws.payloads().at(-1) === 'via redis', { what: 'the item on the WebSocket' });
    const p = ws.payloads();
    assert.deepEqual([p[0], p.at(-1)], ['welcome', 'via redis']);
    assert.ok(p.slice(1, -1).every((x) => x === 'probe'));
    await plain.kill();
    await ws.close();
  });
});

describe('GRIP settings at config load', () => {
  let tmp;
  before(() => { tmp = tempDir('streamgate-grip-check-'); });
  after(() => tmp.cleanup());
  const check = (cfg) => {
    const p = path.join(tmp.dir, 'c.json');
    fs.writeFileSync(p, JSON.stringify(cfg));
    return runBinary(['--check-config', p]);
  };
  const up = (extra) => ({ upstreams: [{ path: '/u/*', url: 'http://127.0.0.1:9', ...extra }] });

  it('--check-config reports bad auth, channel, grip and grip_publish_listen values', async () => {
    const cases = [
      [up({ auth: 'maybe' }), 'upstreams[0]: auth: expected pass, require or off'],
      [up({ auth: 'pass', channel: 'news' }), 'upstreams[0]: channel: only with "auth": "require"'],
      [up({ auth: 'require', channel: 'bad name' }), 'upstreams[0]: channel: not a channel name'],
      [up({ grip: 'yes' }), 'upstreams[0]: grip: expected true or false'],
      [up({ auth: 'require' }), 'upstreams[0]: "auth": "require" needs auth_jwt_alg (no token could ever be valid)'],
    ];
    for (const [cfg, why] of cases) {
      const r = await check(cfg);
      assert.equal(r.code, 2, JSON.stringify(cfg));
      assert.ok(r.stderr.includes(why), `${JSON.stringify(cfg)}: ${r.stderr}`);
    }
    const listen = await check({ grip_publish_listen: 'nowhere' });
    assert.equal(listen.code, 2);
    assert.match(listen.stderr, /grip_publish_listen/);
    const good = await check({ grip_publish_listen: '127.0.0.1:5561', ...up({ grip: false, grip_key: 'k', auth: 'off' }) });
    assert.equal(good.code, 0, good.stderr);
    // the publish port asks no token: public addresses and all interfaces are refused
    for (const addr of ['0.0.0.0:5561', '8.8.8.8:5561', '172.32.0.1:5561']) {
      const r = await check({ grip_publish_listen: addr });
      assert.equal(r.code, 2, addr);
      assert.ok(r.stderr.includes(`grip_publish_listen ${addr.split(':')[0]} would let anyone who reaches it publish without a token`), r.stderr);
    }
    for (const addr of ['10.1.2.3:5561', '172.16.0.1:5561', '192.168.1.1:5561']) {
      const r = await check({ grip_publish_listen: addr });
      assert.equal(r.code, 0, `${addr}: ${r.stderr}`);
    }
  });

  it('the running gateway refuses a grip_publish_listen on all interfaces, with exit 1 and the reason', async () => {
    const r = await runBinary(['--listen', '127.0.0.1:0', '--grip-publish-listen', '0.0.0.0:0']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'streamgate: grip_publish_listen 0.0.0.0 would let anyone who reaches it publish ' +
      'without a token: bind it to a loopback or private address (10/8, 172.16/12, 192.168/16, fc00::/7)\n');
  });
});
