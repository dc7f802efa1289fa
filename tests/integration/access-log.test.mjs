// The access log (README "Access log"): exact JSON and combined lines for a
// plain answer, an SSE stream its client leaves and a WebSocket whose
// channel is deleted; real tokens and tickets in the query never reach the
// file; SIGHUP reopens it by name (logrotate's rename, then a new file).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { publish, request, startServer, tempDir, waitFor } from './lib/server.mjs';
import { wsClient } from './lib/clients.mjs';
import { collect, connect, rawExchange } from './lib/raw.mjs';
import { mint, now } from './lib/jwt.mjs';
import { h2Connect, h2Request, makeCa, makeServerCert, tlsArgs } from './lib/tls.mjs';

const SECRET = 'access-log-test-secret-0123456789';
const token = (claims = {}) => mint('HS256', SECRET, {
  sub: 'alice', iat: now(), exp: now() + 3600, streamgate: { subscribe: ['*'], publish: ['*'] }, ...claims,
});
const bearer = (t) => ({ Authorization: `Bearer ${t}` });
const TIME_JSON = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const TIME_COMBINED = '\\[\\d\\d/[A-Z][a-z]{2}/\\d{4}:\\d\\d:\\d\\d:\\d\\d \\+0000\\]';

const lines = (file) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

// The first line of file that has `needle`, waited for.
const lineWith = (file, needle) => waitFor(() => lines(file).find((l) => l.includes(needle)),
  { what: `a line with ${needle} in ${file}` });

// A JSON line with its time and duration checked, then left out (they vary).
function parsed(line) {
  const e = JSON.parse(line);
  assert.deepEqual(Object.keys(e), ['time', 'remote_addr', 'method', 'path', 'transport', 'h2', 'status',
    'bytes', 'duration_ms', 'messages', 'reason']);
  assert.match(e.time, TIME_JSON);
  assert.ok(Number.isFinite(e.duration_ms) && e.duration_ms >= 0, `duration_ms ${e.duration_ms}`);
  delete e.time;
  delete e.duration_ms;
  return e;
}

// An SSE stream on a raw socket (every byte the server wrote is counted):
// resolves once `until` is in what came; end() hangs up.
async function rawSse(port, target) {
  const sock = await connect(port);
  const got = collect(sock, { timeoutMs: 20000 });
  let text = '';
  sock.on('data', (d) => (text += d.toString('latin1')));
  sock.write(`GET ${target} HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n`);
  return {
    text: () => text,
    arrived: (s) => waitFor(() => text.includes(s), { what: `${s} on ${target}` }),
    async end() { sock.destroy(); await got; return Buffer.byteLength(text, 'latin1'); },
  };
}

describe('access log, JSON', { timeout: 90000 }, () => {
  let server;
  let tmp;
  let file;
  const secrets = [];
  before(async () => {
    tmp = tempDir('sg-access-');
    file = path.join(tmp.dir, 'access.log');
    server = await startServer({
      args: ['--auth-jwt-alg', 'HS256', '--auth-jwt-key', SECRET, '--access-log', file, '--heartbeat-ms', '0'],
    });
  });
  after(async () => {
    await server.stop();
    tmp.cleanup();
  });

  it('a plain answer: one exact line, the token redacted', async () => {
    const t = token();
    secrets.push(t);
    const answer = await rawExchange(server.port,
      `GET /healthz?access_token=${t}&x=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
    assert.match(answer, /^HTTP\/1\.1 200 /);
    const e = parsed(await lineWith(file, '/healthz?access_token='));
    assert.deepEqual(e, {
      remote_addr: '127.0.0.1', method: 'GET', path: '/healthz?access_token=REDACTED&x=1', transport: 'http',
      h2: false, status: 200, bytes: Buffer.byteLength(answer, 'latin1'), messages: 0, reason: null,
    });
  });

  it('an SSE stream opened with a ticket, ended by its client leaving', async () => {
    const t = token();
    const res = await request(server.url, { method: 'POST', path: '/auth/ticket', headers: bearer(t), body: '' });
    assert.equal(res.status, 200, res.text);
    const { ticket } = JSON.parse(res.text);
    secrets.push(t, ticket);
    const sse = await rawSse(server.port, `/channels/leave?ticket=${encodeURIComponent(ticket)}`);
    await sse.arrived(': ok\n\n');
    assert.equal(await publish2(server.url, 'leave', 'first', t), 1); // subscribed before its prelude
    await publish2(server.url, 'leave', 'second', t);
    await sse.arrived('data: second\n\n');
    const bytes = await sse.end();
    const e = parsed(await lineWith(file, '"reason":"client_left"'));
    assert.deepEqual(e, {
      remote_addr: '127.0.0.1', method: 'GET', path: '/channels/leave?ticket=REDACTED', transport: 'sse',
      h2: false, status: 200, bytes, messages: 2, reason: 'client_left',
    });
  });

  it('a WebSocket with ?access_token= closed by DELETE of its channel', async () => {
    const t = token();
    const admin = token({ streamgate: { admin: true } });
    secrets.push(t, admin);
    const ws = await wsClient(`ws://127.0.0.1:${server.port}/channels/gone?access_token=${t}`);
    await waitFor(async () => (await publish2(server.url, 'gone', 'hello', t)) === 1, { what: 'ws subscribed' });
    await ws.waitCount(1);
    const del = await request(server.url, { method: 'DELETE', path: '/channels/gone', headers: bearer(admin) });
    assert.equal(del.status, 200, del.text);
    assert.equal((await ws.waitClosed()).code, 1000);
    // unmasked server frames under 126 bytes: a 2-byte header each
    const bytes = ws.payloads().reduce((n, p) => n + 2 + Buffer.byteLength(p), 0);
    const e = parsed(await lineWith(file, '"reason":"deleted"'));
    assert.deepEqual(e, {
      remote_addr: '127.0.0.1', method: 'GET', path: '/channels/gone?access_token=REDACTED', transport: 'ws',
      h2: false, status: 101, bytes, messages: ws.payloads().length, reason: 'deleted',
    });
    const d = parsed(await lineWith(file, '"method":"DELETE"'));
    assert.deepEqual(d, {
      remote_addr: '127.0.0.1', method: 'DELETE', path: '/channels/gone', transport: 'http', h2: false,
      status: 200, bytes: d.bytes, messages: 0, reason: null,
    });
  });

  it('no token or ticket anywhere in the file', async () => {
    const bare = token({ sub: 'bare' }); // a token as a query value without a name
    secrets.push(bare);
    assert.equal((await request(server.url, { path: `/healthz?${bare}&Session_Key=k1&sig=s1&page=2` })).status, 200);
    const e = parsed(await lineWith(file, '&page=2'));
    assert.equal(e.path, '/healthz?REDACTED&Session_Key=REDACTED&sig=REDACTED&page=2');
    assert.ok(secrets.length >= 6);
    const text = fs.readFileSync(file, 'utf8');
    for (const s of secrets) {
      assert.ok(!text.includes(s), 'a secret reached the access log');
      assert.ok(!text.includes(encodeURIComponent(s)), 'a secret reached the access log');
    }
    for (const l of lines(file)) JSON.parse(l); // every line whole
  });

  it('SIGHUP reopens the file by its name (logrotate)', async () => {
    const rotated = `${file}.1`;
    for (let i = 0; i < 3; i++) await request(server.url, { path: `/healthz?n=${i}` });
    await lineWith(file, '/healthz?n=2');
    fs.renameSync(file, rotated);
    server.proc.kill('SIGHUP');
    let n = 3;
    await waitFor(async () => {
      await request(server.url, { path: `/healthz?n=${n++}` });
      return lines(file).length > 0;
    }, { what: 'a new file after SIGHUP' });
    const seen = [...lines(rotated), ...lines(file)].map((l) => JSON.parse(l).path)
      .filter((p) => p.startsWith('/healthz?n=')).map((p) => Number(p.slice(11)));
    assert.deepEqual(seen, [...Array(n).keys()]); // none lost, none twice, in order
    assert.ok(lines(file).every((l) => JSON.parse(l).path.startsWith('/healthz?n=')));
    assert.ok(lines(rotated).some((l) => l.includes('/healthz?n=2')));
  });
});

// Publishes data to channel with token t; returns the subscriber count.
async function publish2(base, channel, data, t) {
  const res = await request(base, { method: 'POST', path: `/channels/${channel}`, headers: bearer(t), body: data });
  assert.equal(res.status, 200, res.text);
  return JSON.parse(res.text).subscribers;
}

describe('access log, combined', { timeout: 60000 }, () => {
  let server;
  let tmp;
  let file;
  before(async () => {
    tmp = tempDir('sg-access-');
    file = path.join(tmp.dir, 'combined.log');
    server = await startServer({
      args: ['--access-log', file, '--access-log-format', 'combined', '--heartbeat-ms', '0'],
    });
  });
  after(async () => {
    await server.stop();
    tmp.cleanup();
  });

  it('a plain answer and an SSE stream, each one exact line', async () => {
    const answer = await rawExchange(server.port,
      'GET /healthz?ticket=abc&token=def HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    const plain = await lineWith(file, '/healthz');
    assert.match(plain, new RegExp(`^127\\.0\\.0\\.1 - - ${TIME_COMBINED} "GET /healthz\\?ticket=REDACTED&token=REDACTED HTTP/1\\.1" 200 ${Buffer.byteLength(answer, 'latin1')} "-" "-" transport=http duration_ms=\\d+\\.\\d{3} messages=0 reason=-$`));
    const sse = await rawSse(server.port, '/channels/comb');
    await sse.arrived(': ok\n\n');
    assert.equal((await publish(server.url, 'comb', 'one')).subscribers, 1);
    await sse.arrived('data: one\n\n');
    const bytes = await sse.end();
    const line = await lineWith(file, 'transport=sse');
    assert.match(line, new RegExp(`^127\\.0\\.0\\.1 - - ${TIME_COMBINED} "GET /channels/comb HTTP/1\\.1" 200 ${bytes} "-" "-" transport=sse duration_ms=\\d+\\.\\d{3} messages=1 reason=client_left$`));
    assert.ok(!fs.readFileSync(file, 'utf8').includes('abc'));
  });
});

describe('access log, HTTP/2', { timeout: 60000 }, () => {
  let server;
  let tmp;
  let file;
  let session;
  before(async () => {
    tmp = tempDir('sg-access-');
    file = path.join(tmp.dir, 'h2.log');
    makeCa(tmp.dir);
    const files = makeServerCert(tmp.dir);
    server = await startServer({ args: [...tlsArgs(files), '--access-log', file, '--heartbeat-ms', '0'], tls: true });
    session = await h2Connect(server.tlsPort, fs.readFileSync(path.join(tmp.dir, 'ca.pem')));
  });
  after(async () => {
    session?.close();
    await server.stop();
    tmp.cleanup();
  });

  it('an answer and a stream over HTTP/2 are noted h2', async () => {
    const r = await h2Request(session, { path: '/healthz?access_token=h2secret' });
    assert.equal(r.status, 200);
    const plain = parsed(await lineWith(file, '/healthz'));
    assert.deepEqual(plain, {
      remote_addr: '127.0.0.1', method: 'GET', path: '/healthz?access_token=REDACTED', transport: 'http',
      h2: true, status: 200, bytes: r.body.length, messages: 0, reason: null,
    });
    const req = session.request({ ':path': '/channels/h2s', accept: 'text/event-stream' });
    let text = '';
    req.setEncoding('utf8').on('data', (d) => (text += d));
    req.on('error', () => {});
    await waitFor(() => text.includes(': ok\n\n'), { what: 'h2 SSE prelude' });
    assert.equal((await publish(server.url, 'h2s', 'over h2')).subscribers, 1);
    await waitFor(() => text.includes('data: over h2\n\n'), { what: 'h2 SSE message' });
    req.close(); // RST_STREAM: the client left
    const e = parsed(await lineWith(file, '"transport":"sse"'));
    assert.deepEqual(e, {
      remote_addr: '127.0.0.1', method: 'GET', path: '/channels/h2s', transport: 'sse', h2: true, status: 200,
      bytes: Buffer.byteLength(text), messages: 1, reason: 'client_left',
    });
    assert.ok(!fs.readFileSync(file, 'utf8').includes('h2secret'));
  });
});
