// The HTTPS port: HTTP/2 (curl --http2 and node's http2) for SSE, chunked,
// ndjson, long-poll, answers and errors; HTTP/1.1 over TLS with pipelining;
// WebSocket over TLS; old TLS versions refused; plain HTTP and garbage on the
// TLS port; a certificate reload on SIGHUP under a live stream; listen ""; and
// a reader with a tiny HTTP/2 window. A test CA is made with openssl.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import WebSocket from 'ws';
import { curl } from './lib/clients.mjs';
import {
  publish, request, runBinary, sleep, startServer, tempDir, waitFor, withTimeout,
} from './lib/server.mjs';
import { h2Connect, h2Request, makeCa, makeServerCert, tlsArgs, tlsConnect } from './lib/tls.mjs';
import { mint, now } from './lib/jwt.mjs';

const tmp = tempDir('streamgate-tls-');
let caFile, ca, files, server;

before(async () => {
  caFile = makeCa(tmp.dir);
  ca = fs.readFileSync(caFile);
  files = makeServerCert(tmp.dir, { serial: '1001' });
  server = await startServer({ tls: true, args: [...tlsArgs(files), '--max-body-bytes', '1024'] });
});
after(async () => {
  await server?.stop();
  tmp.cleanup();
});

const h2curl = (url, args = []) => curl(url, { args: ['--http2', '--cacert', caFile, ...args] });

// curl's HTTP version and body for one request to its end.
async function curlDone(url, args) {
  const r = await curl(url, { args: ['--cacert', caFile, '-w', '\n%{http_version}', ...args] }).done;
  assert.equal(r.code, 0, r.stderr);
  const text = r.stdout.toString('utf8');
  const cut = text.lastIndexOf('\n');
  return { body: text.slice(0, cut), version: text.slice(cut + 1), stderr: r.stderr };
}

// Publishes text over HTTPS with curl --http2; asserts HTTP/2 and 200.
async function publishH2(channel, text) {
  const r = await curlDone(`${server.tlsUrl}/channels/${channel}`, ['--http2', '-H', 'Content-Type: text/plain', '--data-binary', text]);
  assert.equal(r.version, '2');
  const answer = JSON.parse(r.body);
  assert.equal(answer.channel, channel);
  return answer;
}

// The response headers curl -v printed ("< name: value"), lower-cased names.
function curlHeaderNames(stderr) {
  return stderr.split('\n').filter((l) => l.startsWith('< ') && l.includes(':'))
    .map((l) => l.slice(2).split(':')[0].toLowerCase());
}

describe('HTTP/2 over TLS with curl', () => {
  it('SSE receives exactly what is published over HTTPS, with no connection headers', async () => {
    const sub = h2curl(`${server.tlsUrl}/channels/tls-sse`, ['-H', 'Accept: text/event-stream']);
    await sub.waitHeaders();
    assert.match(sub.stderr(), /< HTTP\/2 200/);
    const ids = [];
    for (const m of ['one', 'two', 'three']) ids.push((await publishH2('tls-sse', m)).id);
    const expected = `: ok\n\n${['one', 'two', 'three'].map((m, i) => `id: ${ids[i]}\ndata: ${m}\n\n`).join('')}`;
    assert.equal((await sub.waitBytes(Buffer.byteLength(expected))).toString('utf8'), expected);
    const names = curlHeaderNames(sub.stderr());
    assert.deepEqual(names.filter((n) => ['connection', 'keep-alive', 'transfer-encoding'].includes(n)), []);
    assert.deepEqual(sub.headers().headers['content-type'], 'text/event-stream');
    await sub.kill();
  });

  it('chunked and ndjson streams carry the payload with no chunk framing', async () => {
    const chunked = h2curl(`${server.tlsUrl}/channels/tls-ch`);
    const nd = h2curl(`${server.tlsUrl}/channels/tls-ch?transport=ndjson`);
    await chunked.waitHeaders();
    await nd.waitHeaders();
    const a = await publishH2('tls-ch', 'alpha');
    const b = await publishH2('tls-ch', 'beta');
    assert.equal((await chunked.waitBytes(11)).toString('utf8'), 'alpha\nbeta\n');
    const lines = [a, b].map((x, i) => JSON.stringify({ channel: 'tls-ch', id: x.id, event: null, data: ['alpha', 'beta'][i] }));
    const want = `${lines.join('\n')}\n`;
    assert.equal((await nd.waitBytes(Buffer.byteLength(want))).toString('utf8'), want);
    for (const c of [chunked, nd]) {
      assert.match(c.stderr(), /< HTTP\/2 200/);
      assert.ok(!curlHeaderNames(c.stderr()).includes('transfer-encoding'));
      await c.kill();
    }
  });

  it('a long-poll over HTTP/2 is answered by a publish', async () => {
    const poll = curlDone(`${server.tlsUrl}/channels/tls-lp?transport=longpoll`, ['--http2']);
    await sleep(200);
    const a = await publishH2('tls-lp', 'wake');
    const r = await poll;
    assert.equal(r.version, '2');
    assert.deepEqual(JSON.parse(r.body), [{ channel: 'tls-lp', id: a.id, event: null, data: 'wake' }]);
  });
});

describe('HTTP/2 over TLS with node http2', () => {
  let session;
  before(async () => { session = await h2Connect(server.tlsPort, ca); });
  after(() => session?.close());

  it('ALPN chose h2', async () => {
    assert.equal(session.alpnProtocol, 'h2');
    const r = await h2Request(session, { path: '/healthz' });
    assert.equal(r.status, 200);
    assert.equal(r.text, '{"status":"ok"}');
  });

  it('404 and 413 are exact JSON, without connection headers', async () => {
    const nf = await h2Request(session, { path: '/nope' });
    assert.equal(nf.status, 404);
    assert.equal(nf.text, '{"error":"not_found","detail":"nothing is served at /nope"}');
    assert.equal(nf.headers['content-type'], 'application/json');
    assert.equal(nf.headers['content-length'], String(nf.body.length));
    const big = 'x'.repeat(2000);
    const sized = await h2Request(session, { method: 'POST', path: '/channels/tls-big', headers: { 'content-length': '2000' }, body: big });
    assert.equal(sized.status, 413);
    assert.equal(sized.text, '{"error":"body_too_large","detail":"the body is 2000 bytes; the limit is 1024"}');
    const unsized = await h2Request(session, { method: 'POST', path: '/channels/tls-big', body: big });
    assert.equal(unsized.status, 413);
    assert.equal(unsized.text, '{"error":"body_too_large","detail":"the body is over max_body_bytes"}');
    for (const r of [nf, sized, unsized])
      for (const h of ['connection', 'keep-alive', 'transfer-encoding']) assert.equal(r.headers[h], undefined);
  });

  it('a POST without Content-Length publishes; Last-Event-ID resumes SSE', async () => {
    const r = await h2Request(session, { method: 'POST', path: '/channels/tls-resume', body: 'first' });
    assert.equal(r.status, 200);
    const first = JSON.parse(r.text);
    const second = await publish(server.url, 'tls-resume', 'second');
    const req = session.request({ ':path': '/channels/tls-resume', accept: 'text/event-stream', 'last-event-id': first.id });
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (text += d));
    const want = `: ok\n\nid: ${second.id}\ndata: second\n\n`;
    await waitFor(() => text.length >= want.length, { what: 'the replayed event' });
    assert.equal(text, want);
    req.close();
  });
});

describe('HTTP/2 requests pass the same admission as HTTP/1', () => {
  const SECRET = 'h2-admission-secret';
  const ORIGIN = 'https://app.example';
  let gw, session;
  before(async () => {
    gw = await startServer({ tls: true, args: [...tlsArgs(files), '--auth-jwt-alg', 'HS256', '--auth-jwt-key', SECRET,
      '--allowed-origins', ORIGIN, '--max-connections-per-ip', '1'] });
    session = await h2Connect(gw.tlsPort, ca);
  });
  after(async () => {
    session?.close();
    await gw?.stop();
  });

  it('a token is required and checked; CORS headers for a listed origin; a refused origin', async () => {
    const none = await h2Request(session, { path: '/channels/h2a?transport=longpoll' });
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer');
    assert.equal(JSON.parse(none.text).error, 'token_required');
    const bad = await h2Request(session, { path: '/channels/h2a?transport=longpoll', headers: { authorization: 'Bearer x.y.z' } });
    assert.equal(bad.status, 401);
    assert.equal(bad.headers['www-authenticate'], 'Bearer error="invalid_token"');
    const token = mint('HS256', SECRET, { sub: 'h2', exp: now() + 600, streamgate: { publish: ['h2a'] } });
    const ok = await h2Request(session, { method: 'POST', path: '/channels/h2a', body: 'over h2',
      headers: { authorization: `Bearer ${token}`, origin: ORIGIN } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['access-control-allow-origin'], ORIGIN);
    assert.equal(ok.headers['access-control-allow-credentials'], 'true');
    assert.equal(ok.headers.vary, 'origin');
    const evil = await h2Request(session, { method: 'POST', path: '/channels/h2a', body: 'x',
      headers: { authorization: `Bearer ${token}`, origin: 'https://evil.example' } });
    assert.equal(evil.status, 403);
    assert.equal(JSON.parse(evil.text).error, 'origin_not_allowed');
  });

  it('a second HTTP/2 connection from the address is past max_connections_per_ip', async () => {
    const second = await h2Connect(gw.tlsPort, ca);
    try {
      const refused = await h2Request(second, { path: '/channels/h2a?transport=longpoll' });
      assert.equal(refused.status, 429);
      assert.equal(JSON.parse(refused.text).error, 'too_many_connections_per_ip');
    } finally {
      second.close();
    }
  });
});

describe('HTTP/2 timers', () => {
  it('an idle SSE stream gets heartbeats; a long-poll times out with []', async () => {
    const srv = await startServer({ tls: true, args: [...tlsArgs(files), '--heartbeat-ms', '300', '--longpoll-timeout-ms', '400'] });
    try {
      const session = await h2Connect(srv.tlsPort, ca);
      const req = session.request({ ':path': '/channels/tls-quiet', accept: 'text/event-stream' });
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (d) => (text += d));
      await waitFor(() => text.length >= ': ok\n\n:\n\n:\n\n'.length, { what: 'two heartbeats' });
      assert.match(text, /^: ok\n\n(:\n\n)+$/);
      const t0 = Date.now();
      const poll = await h2Request(session, { path: '/channels/tls-quiet?transport=longpoll' });
      const took = Date.now() - t0;
      assert.equal(poll.status, 200);
      assert.equal(poll.text, '[]');
      assert.ok(took >= 350 && took < 3000, `the long-poll answered after ${took} ms`);
      req.close();
      session.close();
    } finally {
      await srv.stop();
    }
  });
});

describe('HTTP/2 and shutdown', () => {
  it('SIGTERM ends an h2 SSE stream with END_STREAM and exits 0', async () => {
    const srv = await startServer({ tls: true, args: tlsArgs(files) });
    const session = await h2Connect(srv.tlsPort, ca);
    session.on('error', () => {});
    const req = session.request({ ':path': '/channels/tls-bye', accept: 'text/event-stream' });
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (text += d));
    const ended = new Promise((resolve) => req.once('end', resolve));
    await waitFor(() => text === ': ok\n\n', { what: 'the SSE prelude' });
    const a = await publish(srv.url, 'tls-bye', 'last words');
    await waitFor(() => text.includes('last words'), { what: 'the message' });
    await srv.stop();
    await withTimeout(ended, 5000, 'the stream ends');
    assert.equal(text, `: ok\n\nid: ${a.id}\ndata: last words\n\n`);
    assert.equal(req.rstCode, 0);
    session.destroy();
  });
});

describe('HTTP/1.1 and WebSocket on the TLS port', () => {
  it('curl --http1.1 over TLS', async () => {
    const r = await curlDone(`${server.tlsUrl}/healthz`, ['--http1.1']);
    assert.equal(r.version, '1.1');
    assert.equal(r.body, '{"status":"ok"}');
  });

  it('pipelined GET and POST in one TLS write are answered in order', async () => {
    const { socket, alpn } = await tlsConnect(server.tlsPort, ca);
    assert.equal(alpn, 'http/1.1');
    let got = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => (got += d));
    const ended = new Promise((resolve) => socket.once('end', resolve));
    socket.write('GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n'
      + 'POST /channels/tls-pipe HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello'
      + 'GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    await withTimeout(ended, 10000, 'three answers, then the close');
    const answers = got.split(/(?=HTTP\/1\.1 )/);
    assert.equal(answers.length, 3, got);
    assert.match(answers[0], /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n\{"status":"ok"\}$/);
    assert.match(answers[1], /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n\{"channel":"tls-pipe","id":"[^"]+","subscribers":0\}$/);
    assert.match(answers[2], /^HTTP\/1\.1 200 OK\r\n[^]*connection: close\r\n\r\n\{"status":"ok"\}$/);
    socket.destroy();
  });

  it('wss: a WebSocket subscribes and publishes', async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${server.tlsPort}/channels/tls-ws`, { ca, servername: 'localhost' });
    const got = [];
    ws.on('message', (d) => got.push(d.toString('utf8')));
    await withTimeout(new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }), 10000, 'wss open');
    ws.send(JSON.stringify({ type: 'publish', channel: 'tls-ws', data: 'from ws' }));
    await waitFor(() => got.length >= 2, { what: 'the message and the publish ack' });
    const ack = JSON.parse(got.find((m) => m.startsWith('{')));
    assert.deepEqual(ack, { type: 'published', channel: 'tls-ws', id: ack.id, subscribers: 1 });
    assert.ok(got.includes('from ws'), JSON.stringify(got));
    await publish(server.url, 'tls-ws', 'from http');
    await waitFor(() => got.length >= 3, { what: 'the message published over HTTP' });
    assert.equal(got[2], 'from http');
    ws.close(1000);
  });
});

describe('refusals on the TLS port', () => {
  it('TLS 1.1 and 1.0 are refused (curl exit 35)', async () => {
    for (const args of [['--tls-max', '1.1'], ['--tlsv1.0', '--tls-max', '1.0']]) {
      const r = await curl(`${server.tlsUrl}/healthz`, { args: ['--cacert', caFile, ...args] }).done;
      assert.equal(r.code, 35, r.stderr);
    }
  });

  it('plain HTTP and garbage are closed; both ports still answer', async () => {
    for (const bytes of [Buffer.from('GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n'), Buffer.alloc(65536, 0x5a)]) {
      const sock = net.connect(server.tlsPort, '127.0.0.1');
      sock.on('error', () => {});
      const closed = new Promise((resolve) => sock.once('close', resolve));
      sock.write(bytes);
      await withTimeout(closed, 5000, 'the TLS port closes a non-TLS client');
    }
    assert.equal((await request(server.url, { path: '/healthz' })).status, 200);
    assert.equal((await curlDone(`${server.tlsUrl}/healthz`, ['--http2'])).body, '{"status":"ok"}');
  });
});

describe('certificate reload', () => {
  it('SIGHUP: new handshakes get the new certificate; a live h2 SSE keeps receiving', async () => {
    const dir = tempDir('streamgate-tls-reload-');
    fs.copyFileSync(caFile, `${dir.dir}/ca.pem`);
    fs.copyFileSync(`${tmp.dir}/ca.key`, `${dir.dir}/ca.key`);
    const f = makeServerCert(dir.dir, { serial: '1001', cn: 'first.localhost' });
    const srv = await startServer({ tls: true, args: tlsArgs(f) });
    try {
      assert.equal((await tlsConnect(srv.tlsPort, ca)).cert.serialNumber, '1001');
      const session = await h2Connect(srv.tlsPort, ca);
      const req = session.request({ ':path': '/channels/reload', accept: 'text/event-stream' });
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (d) => (text += d));
      await waitFor(() => text.startsWith(': ok'), { what: 'the SSE prelude' });
      const a = await publish(srv.url, 'reload', 'before');
      makeServerCert(dir.dir, { serial: '2002', cn: 'second.localhost' });
      srv.proc.kill('SIGHUP');
      await waitFor(() => srv.stderr().includes('reload: done'), { what: 'reload: done' });
      const second = await tlsConnect(srv.tlsPort, ca);
      assert.equal(second.cert.serialNumber, '2002');
      assert.equal(second.cert.subject.CN, 'second.localhost');
      second.socket.destroy();
      const b = await publish(srv.url, 'reload', 'after');
      const want = `: ok\n\nid: ${a.id}\ndata: before\n\nid: ${b.id}\ndata: after\n\n`;
      await waitFor(() => text.length >= want.length, { what: 'both events on the old connection' });
      assert.equal(text, want);
      // a certificate that does not load: said on stderr, the last good one stays
      fs.writeFileSync(f.cert, 'not a certificate\n');
      srv.proc.kill('SIGHUP');
      await waitFor(() => /reload: tls_cert: cannot load [^\n]*; keeping the previous certificate/.test(srv.stderr()), { what: 'the reload error' });
      const third = await tlsConnect(srv.tlsPort, ca);
      assert.equal(third.cert.serialNumber, '2002');
      third.socket.destroy();
      session.close();
    } finally {
      await srv.stop();
      dir.cleanup();
    }
  });
});

describe('TLS settings that cannot start', () => {
  it('exit 1 with one line saying why', async () => {
    const cases = [
      [['--tls-listen', '127.0.0.1:0'], 'streamgate: tls_listen needs tls_cert and tls_key (PEM files)\n'],
      [['--listen', ''], 'streamgate: listen and tls_listen are both empty: nothing to listen on\n'],
      [['--tls-listen', 'nope', '--tls-cert', files.cert, '--tls-key', files.key], 'streamgate: tls_listen: expected HOST:PORT, got "nope"\n'],
      [['--tls-listen', '127.0.0.1:0', '--tls-cert', files.cert, '--tls-key', caFile], /^streamgate: tls_key: cannot load .*ca\.pem: .*\n$/],
    ];
    for (const [args, want] of cases) {
      const r = await runBinary(['--listen', '127.0.0.1:0', ...args]);
      assert.equal(r.code, 1, r.stderr);
      if (typeof want === 'string') assert.equal(r.stderr, want);
      else assert.match(r.stderr, want);
    }
  });
});

describe('listen ""', () => {
  it('serves only HTTPS', async () => {
    const srv = await startServer({ tls: true, listen: '', args: tlsArgs(files) });
    try {
      assert.equal(srv.port, 0);
      assert.doesNotMatch(srv.stdout(), /http:\/\//);
      const session = await h2Connect(srv.tlsPort, ca);
      const r = await h2Request(session, { path: '/healthz' });
      assert.equal(r.text, '{"status":"ok"}');
      session.close();
    } finally {
      await srv.stop();
    }
  });
});

describe('HTTP/2 flow control', () => {
  const message = (i, n) => `message ${i} ${'x'.repeat(n)}`;

  it('a reader with a 1 KB window gets every byte in order', async () => {
    const session = await h2Connect(server.tlsPort, ca, { initialWindowSize: 1024 });
    const req = session.request({ ':path': '/channels/tls-window' });
    const parts = [];
    let got = 0;
    req.on('data', (d) => { parts.push(d); got += d.length; });
    await withTimeout(new Promise((resolve) => req.once('response', resolve)), 10000, 'headers');
    req.pause();
    const sent = [];
    for (let i = 0; i < 10; i++) {
      sent.push(message(i, 800));
      await publish(server.url, 'tls-window', sent[i]);
    }
    await sleep(300);
    assert.ok(got <= 1024, `a paused reader got ${got} bytes past its 1 KB window`);
    req.resume();
    const want = `${sent.join('\n')}\n`;
    await waitFor(() => got >= want.length, { what: `all ${want.length} bytes (have ${got})` });
    assert.equal(Buffer.concat(parts).toString('utf8'), want);
    req.close();
    session.close();
  });

});
