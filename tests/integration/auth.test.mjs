// Authentication and rights (README "Security"): JWTs verified under a
// pinned algorithm, every registered claim checked, the "streamgate" claim's
// channel patterns enforced on every endpoint and WebSocket command, the
// four token sources, one-time tickets, expiry on live streams, WebSocket
// refresh, and the secure-by-default start. Tokens are minted here with
// node's crypto (lib/jwt.mjs).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  expectError, request, runBinary, sleep, startServer, tempDir, waitFor, withTimeout, exited, WWW,
} from './lib/server.mjs';
import { wsClient } from './lib/clients.mjs';
import { keyPair, mint, now } from './lib/jwt.mjs';

const SECRET = 'auth-test-secret-0123456789abcdef';
const ISS = 'https://issuer.test';
const AUD = 'streamgate-test';
const EXPIRED_JSON = '{"type":"error","reason":"token_expired"}';

// A token for server A: valid for an hour unless claims say otherwise.
const hs = (claims = {}, { alg = 'HS256', key = SECRET, header } = {}) => mint(alg, key, {
  iss: ISS, aud: AUD, sub: 'alice', iat: now(), exp: now() + 3600,
  streamgate: { subscribe: ['news', 'sports.*', 'user.{sub}.*'], publish: ['news', 'user.{sub}.*'] },
  ...claims,
}, { header });
const bearer = (token) => ({ Authorization: `Bearer ${token}` });

// The status and headers of a GET whose answer may be an endless stream;
// the socket is dropped once the head is in.
function head(base, p, headers = {}) {
  const { hostname, port } = new URL(base);
  return withTimeout(new Promise((resolve, reject) => {
    const req = http.get({ host: hostname, port, path: p, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
      if (res.statusCode === 200) {
        resolve({ status: 200, headers: res.headers, text: '' });
        req.destroy();
      }
    });
    req.on('error', (err) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
  }), 10000, `GET ${p}`);
}

// A whole streamed body, to its end (the server ends it).
function body(base, p, headers = {}) {
  const { hostname, port } = new URL(base);
  return withTimeout(new Promise((resolve, reject) => {
    http.get({ host: hostname, port, path: p, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    }).on('error', reject);
  }), 20000, `GET ${p} to its end`);
}

const post = (base, channel, headers = {}, data = 'hi', query = '') =>
  request(base, { method: 'POST', path: `/channels/${channel}${query}`, headers, body: data });

// An exact 401 invalid_token answer saying detail.
function expectInvalid(res, detail) {
  assert.equal(expectError(res, 401, 'invalid_token'), detail);
  assert.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"');
}

describe('auth: HS256 with issuer, audience, cookie and tickets', { timeout: 120000 }, () => {
  let server;
  before(async () => {
    server = await startServer({
      args: ['--auth-jwt-alg', 'HS256', '--auth-jwt-key', SECRET, '--auth-jwt-issuer', ISS,
        '--auth-jwt-audience', AUD, '--auth-cookie', 'sg_token', '--anonymous-subscribe', 'public.*',
        '--auth-ticket-ttl-ms', '1000', '--max-header-bytes', '16384'],
    });
  });
  after(async () => {
    await server.stop();
  });

  it('a valid token publishes where its claim allows', async () => {
    const res = await post(server.url, 'news', bearer(hs()));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(JSON.parse(res.text)), ['channel', 'id', 'subscribers']);
  });

  it('every failed check is a 401 invalid_token naming the check', async () => {
    const cases = [
      [hs({ exp: now() - 60 }), 'the token has expired (exp)'],
      [hs({ nbf: now() + 600 }), 'the token is not valid yet (nbf)'],
      [hs({ iat: now() + 600 }), 'the token was issued in the future (iat)'],
      [hs({ iss: 'https://evil.test' }), 'wrong issuer (iss)'],
      [hs({ aud: 'someone-else' }), 'wrong audience (aud)'],
      [hs({ aud: ['a', 'b'] }), 'wrong audience (aud)'],
      [hs({}, { key: 'not-the-secret' }), 'bad signature'],
      [mint('none', null, { iss: ISS, aud: AUD, exp: now() + 60, streamgate: { publish: ['news'] } }),
        'alg none is not accepted'],
      [hs({}, { alg: 'HS512' }), "the token's alg is not the configured auth_jwt_alg"],
      ['not-a-token', 'malformed token: not three base64url parts'],
      [hs({ streamgate: { publish: ['ne*ws'] } }),
        'streamgate claim: a pattern is not a channel name or a prefix ending in *'],
      ['x'.repeat(8193), 'the token is longer than 8192 bytes'],
    ];
    for (const [token, detail] of cases) {
      const res = await post(server.url, 'news', bearer(token));
      expectInvalid(res, detail);
      assert.ok(!res.text.includes(token.slice(0, 20)) || token.length < 20, 'the token is not echoed');
    }
    // aud may be an array holding ours
    assert.equal((await post(server.url, 'news', bearer(hs({ aud: ['x', AUD] })))).status, 200);
  });

  it('news is allowed, news2 is not: an exact 403 naming the channel', async () => {
    const res = await head(server.url, '/channels/news2', bearer(hs()));
    assert.equal(res.status, 403);
    assert.equal(res.text, '{"error":"forbidden","detail":"not allowed to subscribe to channel news2"}');
    assert.equal((await head(server.url, '/channels/news', bearer(hs()))).status, 200);
    const pub = await post(server.url, 'news2', bearer(hs()));
    assert.equal(pub.status, 403);
    assert.equal(pub.text, '{"error":"forbidden","detail":"not allowed to publish to channel news2"}');
  });

  it('prefix and {sub} patterns', async () => {
    const t = bearer(hs());
    assert.equal((await head(server.url, '/channels/sports.football', t)).status, 200);
    assert.equal((await head(server.url, '/channels/sports', t)).status, 403); // "sports.*" needs the dot
    assert.equal((await head(server.url, '/channels/user.alice.inbox', t)).status, 200);
    assert.equal((await head(server.url, '/channels/user.bob.inbox', t)).status, 403);
    assert.equal((await post(server.url, 'user.alice.outbox', t)).status, 200);
    // a sub that is not a channel name never widens the pattern
    const star = bearer(hs({ sub: '*' }));
    assert.equal((await head(server.url, '/channels/user.bob.inbox', star)).status, 403);
    assert.equal((await head(server.url, '/channels/news', star)).status, 200);
    const comma = bearer(hs({ sub: 'bob,user' }));
    assert.equal((await head(server.url, '/channels/user.bob.inbox', comma)).status, 403);
  });

  it('a multi-channel GET is refused when one channel is forbidden, naming it', async () => {
    const res = await head(server.url, '/channels/news,sports.tennis,secret', bearer(hs()));
    assert.equal(res.status, 403);
    assert.equal(res.text, '{"error":"forbidden","detail":"not allowed to subscribe to channel secret"}');
    assert.equal((await head(server.url, '/channels/news,sports.tennis', bearer(hs()))).status, 200);
  });

  it('without a token: anonymous_subscribe, and 401 with WWW-Authenticate: Bearer elsewhere', async () => {
    assert.equal((await head(server.url, '/channels/public.lobby')).status, 200);
    const res = await head(server.url, '/channels/news');
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Bearer');
    assert.equal(res.text, '{"error":"token_required","detail":"a token is needed to subscribe to channel news"}');
    const pub = await post(server.url, 'public.lobby');
    assert.equal(pub.status, 401);
    assert.equal(pub.text, '{"error":"token_required","detail":"a token is needed to publish to channel public.lobby"}');
    // an invalid token is judged as such even where anonymous clients may go
    expectInvalid(await request(server.url, { path: '/channels/public.lobby?transport=longpoll&access_token=x.y.z' }),
      "malformed token header");
  });

  it('/healthz and static files stay open, even with a bad token', async () => {
    assert.equal((await request(server.url, { path: '/healthz', headers: bearer('bad') })).status, 200);
    assert.equal((await request(server.url, { path: '/', headers: { Cookie: 'sg_token=bad' } })).status, 200);
  });

  it('token sources: bearer, cookie, access_token', async () => {
    const token = hs();
    assert.equal((await post(server.url, 'news', bearer(token))).status, 200);
    assert.equal((await post(server.url, 'news', { Cookie: `a=1; sg_token=${token}; b=2` })).status, 200);
    assert.equal((await post(server.url, 'news', {}, 'hi', `?access_token=${token}`)).status, 200);
    assert.equal((await head(server.url, '/channels/news', { Cookie: `sg_token=${token}` })).status, 200);
    assert.equal((await head(server.url, `/channels/news?access_token=${token}`)).status, 200);
    // another cookie's name is not ours
    assert.equal((await post(server.url, 'news', { Cookie: `other=${token}` })).status, 401);
  });

  it('a ticket: once, with the rights of its token; a second use is 401', async () => {
    for (let round = 0; round < 4; round++) { // with 2 workers, issue and use land anywhere
      const res = await request(server.url, { method: 'POST', path: '/auth/ticket', headers: bearer(hs()), body: '' });
      assert.equal(res.status, 200, res.text);
      const answer = JSON.parse(res.text);
      assert.deepEqual(Object.keys(answer), ['ticket', 'expires_in']);
      assert.match(answer.ticket, /^[0-9a-f]{32}$/);
      assert.equal(answer.expires_in, 1);
      const forbidden = round === 0 ? await head(server.url, `/channels/secret?ticket=${answer.ticket}`) : null;
      if (forbidden) { // a ticket used on a forbidden channel is used all the same
        assert.equal(forbidden.status, 403);
        continue;
      }
      assert.equal((await head(server.url, `/channels/news?ticket=${answer.ticket}`)).status, 200);
      const again = await request(server.url, { path: `/channels/news?transport=longpoll&ticket=${answer.ticket}` });
      expectInvalid(again, 'unknown, already used or expired ticket');
    }
  });

  it('a ticket after its lifetime is 401; no token, no ticket', async () => {
    const res = await request(server.url, { method: 'POST', path: '/auth/ticket', headers: bearer(hs()), body: '' });
    const { ticket } = JSON.parse(res.text);
    await sleep(1200);
    expectInvalid(await request(server.url, { path: `/channels/news?transport=longpoll&ticket=${ticket}` }),
      'unknown, already used or expired ticket');
    const anon = await request(server.url, { method: 'POST', path: '/auth/ticket', body: '' });
    assert.equal(anon.status, 401);
    assert.equal(anon.headers['www-authenticate'], 'Bearer');
  });

  it('a WebSocket with a ticket in its URL', async () => {
    const res = await request(server.url, { method: 'POST', path: '/auth/ticket', headers: bearer(hs()), body: '' });
    const { ticket } = JSON.parse(res.text);
    const ws = await wsClient(`ws://127.0.0.1:${server.port}/channels/news?ticket=${ticket}`);
    try {
      const pub = await post(server.url, 'news', bearer(hs()), 'via ticket');
      assert.equal(JSON.parse(pub.text).subscribers, 1);
      await ws.waitCount(1);
      assert.deepEqual(ws.payloads(), ['via ticket']);
    } finally {
      await ws.close();
    }
  });

  it('DELETE and /metrics need an admin token', async () => {
    await post(server.url, 'news', bearer(hs()));
    const del = await request(server.url, { method: 'DELETE', path: '/channels/news', headers: bearer(hs()) });
    assert.equal(del.status, 403);
    assert.equal(del.text, '{"error":"forbidden","detail":"not allowed to delete channel news"}');
    const admin = bearer(hs({ streamgate: { admin: true } }));
    const ok = await request(server.url, { method: 'DELETE', path: '/channels/news', headers: admin });
    assert.equal(ok.status, 200, ok.text);
    const m1 = await request(server.url, { path: '/metrics' });
    assert.equal(m1.status, 401);
    assert.equal(m1.text, '{"error":"token_required","detail":"a token is needed to read /metrics"}');
    const m2 = await request(server.url, { path: '/metrics', headers: bearer(hs()) });
    assert.equal(m2.status, 403);
    assert.equal(m2.text, '{"error":"forbidden","detail":"not allowed to read /metrics"}');
    const m3 = await request(server.url, { path: '/metrics', headers: admin });
    assert.equal(m3.status, 200);
    assert.match(m3.text, /^streamgate_connections \d+$/m);
  });

  it('/channels/NAME/info needs the subscribe right', async () => {
    await post(server.url, 'news', bearer(hs()));
    assert.equal((await request(server.url, { path: '/channels/news/info', headers: bearer(hs()) })).status, 200);
    const res = await request(server.url, { path: '/channels/news2/info', headers: bearer(hs()) });
    assert.equal(res.status, 403);
    assert.equal(res.text, '{"error":"forbidden","detail":"not allowed to read the info of channel news2"}');
  });

  it('WebSocket commands are refused per channel', async () => {
    const ws = await wsClient(`ws://127.0.0.1:${server.port}/channels/news`, { headers: bearer(hs()) });
    try {
      const send = async (cmd) => {
        const n = ws.messages.length;
        ws.ws.send(JSON.stringify(cmd));
        await ws.waitCount(n + 1, 10000);
        return JSON.parse(ws.payloads()[n]);
      };
      assert.deepEqual(await send({ type: 'subscribe', channel: 'secret', ref: 1 }),
        { type: 'error', error: 'forbidden', detail: 'not allowed to subscribe to channel secret', ref: 1 });
      assert.deepEqual(await send({ type: 'subscribe', channel: 'sports.golf', ref: 2 }),
        { type: 'subscribed', channel: 'sports.golf', ref: 2 });
      assert.deepEqual(await send({ type: 'publish', channel: 'sports.golf', data: 'x', ref: 3 }),
        { type: 'error', error: 'forbidden', detail: 'not allowed to publish to channel sports.golf', ref: 3 });
      const ok = await send({ type: 'publish', channel: 'user.alice.wall', data: 'x', ref: 4 });
      assert.equal(ok.type, 'published');
    } finally {
      await ws.close();
    }
    // a WebSocket to a forbidden channel: close 1008 naming it
    const { WebSocket } = await import('ws').then((m) => ({ WebSocket: m.default }));
    const bad = new WebSocket(`ws://127.0.0.1:${server.port}/channels/secret`, { headers: bearer(hs()) });
    const closed = await withTimeout(new Promise((resolve) => bad.once('close', (code, reason) =>
      resolve({ code, reason: reason.toString() }))), 10000, 'ws refused');
    assert.deepEqual(closed, { code: 1008, reason: 'forbidden: not allowed to subscribe to channel secret' });
  });

  it('a token expiring on a live SSE stream: the control message, then the end', async () => {
    const res = await body(server.url, '/channels/news', { ...bearer(hs({ exp: now() + 2 })), Accept: 'text/event-stream' });
    assert.equal(res.status, 200);
    assert.equal(res.text, `: ok\n\nevent: sg.error\ndata: ${EXPIRED_JSON}\n\n`);
  });

  it('a token expiring on a live WebSocket: the control message, then close 4001', async () => {
    const ws = await wsClient(`ws://127.0.0.1:${server.port}/channels/news`, { headers: bearer(hs({ exp: now() + 2 })) });
    const closed = await ws.waitClosed(10000);
    assert.deepEqual(closed, { code: 4001, reason: 'token_expired' });
    assert.deepEqual(ws.payloads(), [EXPIRED_JSON]);
  });

  it('a WebSocket refresh extends the stream and replaces its rights', async () => {
    const ws = await wsClient(`ws://127.0.0.1:${server.port}/channels/news`, { headers: bearer(hs({ exp: now() + 2 })) });
    try {
      ws.ws.send(JSON.stringify({ type: 'refresh', token: 'garbage', ref: 1 }));
      await ws.waitCount(1);
      assert.deepEqual(JSON.parse(ws.payloads()[0]),
        { type: 'error', error: 'invalid_token', detail: 'malformed token: not three base64url parts', ref: 1 });
      const fresh = hs({ exp: now() + 60, streamgate: { subscribe: ['news', 'extra'] } });
      ws.ws.send(JSON.stringify({ type: 'refresh', token: fresh, ref: 2 }));
      await ws.waitCount(2);
      const reply = JSON.parse(ws.payloads()[1]);
      assert.equal(reply.type, 'refreshed');
      assert.equal(reply.ref, 2);
      assert.ok(reply.expires_in >= 58 && reply.expires_in <= 60, `expires_in ${reply.expires_in}`);
      await sleep(2600); // past the first token's exp
      const pub = await post(server.url, 'news', bearer(hs()), 'still here');
      assert.equal(JSON.parse(pub.text).subscribers, 1);
      await ws.waitCount(3);
      assert.equal(ws.payloads()[2], 'still here');
      ws.ws.send(JSON.stringify({ type: 'subscribe', channel: 'extra', ref: 3 }));
      await ws.waitCount(4);
      assert.deepEqual(JSON.parse(ws.payloads()[3]), { type: 'subscribed', channel: 'extra', ref: 3 });
      // rights are replaced: a channel the newest token does not cover is left
      const narrow = hs({ exp: now() + 60, streamgate: { subscribe: ['extra'] } });
      ws.ws.send(JSON.stringify({ type: 'refresh', token: narrow, ref: 4 }));
      await ws.waitCount(6);
      assert.equal(JSON.parse(ws.payloads()[4]).type, 'refreshed');
      assert.equal(ws.payloads()[5], '{"type":"unsubscribed","channel":"news","reason":"forbidden"}');
      const after = await post(server.url, 'news', bearer(hs()), 'not for you');
      assert.equal(JSON.parse(after.text).subscribers, 0);
    } finally {
      await ws.close();
    }
  });
});

describe('auth: RS256 and ES256 with a PEM public key', { timeout: 60000 }, () => {
  const tmp = tempDir();
  const rs = keyPair('RS256');
  const es = keyPair('ES256');
  let rsServer;
  let esServer;
  const claims = { sub: 'bob', exp: now() + 3600, streamgate: { publish: ['news'] } };
  before(async () => {
    fs.writeFileSync(path.join(tmp.dir, 'rs.pem'), rs.publicPem);
    fs.writeFileSync(path.join(tmp.dir, 'es.pem'), es.publicPem);
    rsServer = await startServer({ args: ['--auth-jwt-alg', 'RS256', '--auth-jwt-key-file', path.join(tmp.dir, 'rs.pem')] });
    esServer = await startServer({ args: ['--auth-jwt-alg', 'ES256', '--auth-jwt-key-file', path.join(tmp.dir, 'es.pem')] });
  });
  after(async () => {
    await rsServer.stop();
    await esServer.stop();
    tmp.cleanup();
  });

  it('RS256: valid, and a token signed with another key is refused', async () => {
    assert.equal((await post(rsServer.url, 'news', bearer(mint('RS256', rs.privateKey, claims)))).status, 200);
    const other = keyPair('RS256');
    expectInvalid(await post(rsServer.url, 'news', bearer(mint('RS256', other.privateKey, claims))), 'bad signature');
  });

  it('HS256 signed with the RS public key as its secret is refused (key confusion)', async () => {
    const forged = mint('HS256', rs.publicPem, claims);
    expectInvalid(await post(rsServer.url, 'news', bearer(forged)), "the token's alg is not the configured auth_jwt_alg");
    expectInvalid(await post(rsServer.url, 'news', bearer(mint('none', null, claims))), 'alg none is not accepted');
  });

  it('ES256: valid (JOSE r||s signature) and a bad signature', async () => {
    assert.equal((await post(esServer.url, 'news', bearer(mint('ES256', es.privateKey, claims)))).status, 200);
    const token = mint('ES256', es.privateKey, claims);
    const flipped = token.slice(0, -3) + (token.endsWith('AAA') ? 'BBB' : 'AAA');
    expectInvalid(await post(esServer.url, 'news', bearer(flipped)), 'bad signature');
  });

  it('SIGHUP reads the key file again: a rotated key, and a broken file keeps the last good one', async () => {
    const pem = path.join(tmp.dir, 'rs.pem');
    const next = keyPair('RS256');
    fs.writeFileSync(pem, next.publicPem);
    const reloads = () => (rsServer.stderr().match(/reload: done/g) || []).length;
    const before = reloads();
    rsServer.proc.kill('SIGHUP');
    await waitFor(() => reloads() > before, { what: 'reload: done' });
    assert.equal((await post(rsServer.url, 'news', bearer(mint('RS256', next.privateKey, claims)))).status, 200);
    expectInvalid(await post(rsServer.url, 'news', bearer(mint('RS256', rs.privateKey, claims))), 'bad signature');
    fs.writeFileSync(pem, 'not a key');
    rsServer.proc.kill('SIGHUP');
    await waitFor(() => rsServer.stderr().includes('auth_jwt_key_file: not a PEM RSA public key; keeping the previous settings'),
      { what: 'the reload refused' });
    assert.equal((await post(rsServer.url, 'news', bearer(mint('RS256', next.privateKey, claims)))).status, 200);
    fs.writeFileSync(pem, rs.publicPem); // as the other tests expect
    const again = reloads();
    rsServer.proc.kill('SIGHUP');
    await waitFor(() => reloads() > again, { what: 'reload: done' });
  });

  it('a key file of the wrong kind stops the start', async () => {
    const r = await runBinary(['--listen', '127.0.0.1:0', '--www', WWW, '--auth-jwt-alg', 'RS256',
      '--auth-jwt-key-file', path.join(tmp.dir, 'es.pem')]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'streamgate: auth_jwt_key_file: not a PEM RSA public key\n');
  });
});

describe('auth: secure by default', { timeout: 30000 }, () => {
  it('no auth on a non-loopback address refuses to start, naming anonymous_publish', async () => {
    const r = await runBinary(['--listen', '0.0.0.0:0', '--www', WWW]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'streamgate: listen 0.0.0.0 is not a loopback address and no authentication is '
      + 'configured: set auth_jwt_alg and its key, or set anonymous_publish explicitly ("*" lets anyone '
      + 'publish, "none" nobody; README "Security")\n');
  });

  for (const extra of [['--anonymous-publish', '*'], ['--auth-jwt-alg', 'HS256', '--auth-jwt-key', SECRET]]) {
    it(`starts on 0.0.0.0 with ${extra.join(' ')}`, async () => {
      const proc = spawn(process.env.STREAMGATE_BIN || '/work/main/build/streamgate',
        ['--listen', '0.0.0.0:0', '--www', WWW, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      proc.stdout.setEncoding('utf8').on('data', (d) => (out += d));
      try {
        const line = await withTimeout(new Promise((resolve) => proc.stdout.on('data', () => {
          if (out.includes('\n')) resolve(out.split('\n')[0]);
        })), 10000, 'ready line');
        assert.match(line, /^streamgate listening on http:\/\/0\.0\.0\.0:\d+$/);
        const port = Number(line.split(':').pop());
        const res = await post(`http://127.0.0.1:${port}`, 'news');
        assert.equal(res.status, extra[0] === '--anonymous-publish' ? 200 : 401);
      } finally {
        proc.kill('SIGTERM');
        assert.deepEqual(await exited(proc), { code: 0, signal: null });
      }
    });
  }

  it('no auth with anonymous_publish none: subscribe open, publish, delete and /metrics refused', async () => {
    const server = await startServer({ args: ['--anonymous-publish', 'none'] });
    try {
      assert.equal((await head(server.url, '/channels/anything')).status, 200);
      const res = await post(server.url, 'anything');
      assert.equal(res.status, 403);
      assert.equal(res.text, '{"error":"forbidden","detail":"not allowed to publish to channel anything"}');
      assert.equal((await request(server.url, { method: 'DELETE', path: '/channels/anything' })).status, 403);
      assert.equal((await request(server.url, { path: '/metrics' })).status, 403);
    } finally {
      await server.stop();
    }
  });

  it('no auth on loopback: everything open as before', async () => {
    const server = await startServer();
    try {
      assert.equal((await post(server.url, 'anything')).status, 200);
      assert.equal((await request(server.url, { method: 'DELETE', path: '/channels/anything' })).status, 200);
      assert.equal((await request(server.url, { path: '/metrics' })).status, 200);
      assert.equal((await request(server.url, { method: 'POST', path: '/auth/ticket', body: '' })).status, 404);
    } finally {
      await server.stop();
    }
  });
});
