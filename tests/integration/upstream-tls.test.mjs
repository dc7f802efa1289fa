// Upstream mode over https: backends written here (node:https with a CA
// made by openssl in the test, a TCP server that never shakes hands, a
// plain HTTP server behind an https url). A verified backend streams byte
// for byte to every transport; every TLS failure is 502 upstream_tls, a
// stalled handshake 504 within upstream_timeout_ms.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { request, runBinary, startServer, tempDir } from './lib/server.mjs';
import { h2Connect, h2Request, makeCa, makeServerCert, tlsArgs } from './lib/tls.mjs';
import { expectTransports, openTransports, sseText, tokens, writeTokens } from './lib/upstream.mjs';


// The https backend: /tok/N streams N NDJSON tokens at ?every_ms (20: 50/s);
// /teapot answers 422; anything else 404. requests counts what it served.
function startHttps(files) {
  const state = { requests: [] };
  const srv = https.createServer({ key: fs.readFileSync(files.key), cert: fs.readFileSync(files.cert) },
    async (req, res) => {
      const url = new URL(req.url, 'https://x');
      state.requests.push({ url: req.url, proto: req.headers['x-forwarded-proto'], host: req.headers.host });
      const route = url.pathname.replace(/^\/[a-z]+/, '');
      if (route.startsWith('/tok/')) {
        await writeTokens(res, Number(route.slice(5)), Number(url.searchParams.get('every_ms') || 20));
      } else if (route === '/teapot') {
        res.writeHead(422, { 'content-type': 'application/problem+json' });
        res.end('{"title":"no tokens left","status":422}');
      } else {
        res.writeHead(404);
        res.end();
      }
    });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ srv, state, port: srv.address().port })));
}

// Accepts and never says a word: a TLS handshake that stalls.
function startMute() {
  const sockets = new Set();
  const srv = net.createServer((s) => { sockets.add(s); s.on('error', () => {}); });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({
    srv, port: srv.address().port, close: () => { for (const s of sockets) s.destroy(); srv.close(); },
  })));
}

// Plain HTTP where https is expected.
function startPlain() {
  const srv = http.createServer((req, res) => res.end('plain\n'));
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ srv, port: srv.address().port })));
}

describe('https upstreams', { timeout: 120000 }, () => {
  let up, mute, plain, server, tmp, ca;
  before(async () => {
    tmp = tempDir();
    const caFile = makeCa(tmp.dir);
    ca = fs.readFileSync(caFile);
    const files = makeServerCert(tmp.dir);
    const other = tempDir();
    const otherCa = makeCa(other.dir);
    fs.copyFileSync(otherCa, path.join(tmp.dir, 'other-ca.pem'));
    other.cleanup();
    up = await startHttps(files);
    mute = await startMute();
    plain = await startPlain();
    const url = `https://127.0.0.1:${up.port}`;
    const cfg = {
      upstream_timeout_ms: 400,
      upstreams: [
        { path: '/up/*', url, tls_ca_file: caFile },
        { path: '/named/*', url, tls_ca_file: caFile, tls_server_name: 'localhost' },
        { path: '/local/*', url: `https://localhost:${up.port}`, tls_ca_file: caFile },
        { path: '/misnamed/*', url, tls_ca_file: caFile, tls_server_name: 'other.example' },
        { path: '/wrongca/*', url, tls_ca_file: path.join(tmp.dir, 'other-ca.pem') },
        { path: '/system/*', url },
        { path: '/noverify/*', url, tls_verify: false },
        { path: '/mute/*', url: `https://127.0.0.1:${mute.port}`, tls_verify: false },
        { path: '/plain/*', url: `https://127.0.0.1:${plain.port}`, tls_verify: false },
      ],
    };
    const file = path.join(tmp.dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify(cfg));
    server = await startServer({ tls: true, args: ['--config', file, '--heartbeat-ms', '0', ...tlsArgs(files)] });
  });
  after(async () => {
    await server?.stop();
    up?.srv.close();
    mute?.close();
    plain?.srv.close();
    tmp?.cleanup();
  });

  it('tls_verify false is warned about at start, once per upstream', () => {
    const lines = server.stderr().split('\n').filter((l) => l.includes('tls_verify is false'));
    assert.equal(lines.length, 3);
    assert.equal(lines[0], `streamgate: warning: upstreams[6] (https://127.0.0.1:${up.port}): tls_verify is false: ` +
      "the upstream's certificate is not checked (development only)");
  });

  it('a verified upstream at 50/s reaches curl, SSE, ndjson, EventSource, WebSocket and HTTP/2 byte for byte', async () => {
    const n = 40;
    const want = tokens(n);
    const session = await h2Connect(server.tlsPort, ca);
    const h2 = h2Request(session, { path: `/up/tok/${n}`, headers: { accept: 'text/event-stream' } });
    await expectTransports(await openTransports(`${server.url}/up/tok/${n}`), want);
    const h = await h2;
    session.close();
    assert.equal(h.status, 200);
    assert.equal(h.text, sseText(want));
    assert.equal(up.state.requests.at(-1).host, `127.0.0.1:${up.port}`);
  });

  it('tls_server_name and a localhost url are verified by name; a non-2xx passes through', async () => {
    for (const p of ['/named/tok/2?every_ms=1', '/local/tok/2?every_ms=1', '/noverify/tok/2?every_ms=1']) {
      const r = await request(server.url, { path: p });
      assert.equal(r.status, 200, p);
      assert.equal(r.text, tokens(2).map((t) => `${t}\n`).join(''), p);
    }
    const t = await request(server.url, { path: '/up/teapot' });
    assert.equal(t.status, 422);
    assert.equal(t.headers['content-type'], 'application/problem+json');
    assert.equal(t.text, '{"title":"no tokens left","status":422}');
  });

  async function expectTls(p, detail) {
    const before = up.state.requests.length;
    const r = await request(server.url, { path: p });
    assert.equal(r.status, 502, p);
    assert.equal(r.headers['content-type'], 'application/json');
    const body = JSON.parse(r.text);
    assert.deepEqual(Object.keys(body), ['error', 'detail', 'upstream']);
    assert.equal(body.error, 'upstream_tls');
    assert.match(body.detail, detail);
    assert.equal(up.state.requests.length, before, 'no request reached the backend');
  }

  it('a certificate from another CA, or for another name, or not in the system store: 502 upstream_tls', async () => {
    await expectTls('/wrongca/tok/1', /^certificate verify failed: unable to get local issuer certificate$/);
    await expectTls('/system/tok/1', /^certificate verify failed: unable to get local issuer certificate$/);
    await expectTls('/misnamed/tok/1', /^certificate verify failed: hostname mismatch$/);
  });

  it('plain HTTP behind an https url: 502 upstream_tls', async () => {
    const r = await request(server.url, { path: '/plain/x' });
    assert.equal(r.status, 502);
    const body = JSON.parse(r.text);
    assert.equal(body.error, 'upstream_tls');
    assert.equal(body.upstream, `https://127.0.0.1:${plain.port}`);
    assert.match(body.detail, /wrong version number|packet length too long|record layer failure/);
  });

  it('a handshake that stalls: 504 upstream_timeout within upstream_timeout_ms', async () => {
    const t0 = Date.now();
    const r = await request(server.url, { path: '/mute/x' });
    const took = Date.now() - t0;
    assert.equal(r.status, 504);
    assert.deepEqual(JSON.parse(r.text), {
      error: 'upstream_timeout', detail: 'no response head within upstream_timeout_ms',
      upstream: `https://127.0.0.1:${mute.port}`,
    });
    assert.ok(took >= 350 && took < 3000, `answered after ${took} ms`);
  });
});

describe('https upstream settings', { timeout: 30000 }, () => {
  let tmp;
  before(() => { tmp = tempDir(); });
  after(() => tmp.cleanup());

  // --check-config on a file with these upstreams.
  function check(upstreams) {
    const file = path.join(tmp.dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify({ upstreams }));
    return runBinary(['--check-config', file]);
  }

  it('an unreadable tls_ca_file, or tls_* on an http url, stops the start with the reason', async () => {
    const missing = path.join(tmp.dir, 'nope.pem');
    const a = await check([{ path: '/a/*', url: 'https://127.0.0.1:1', tls_ca_file: missing }]);
    assert.equal(a.code, 2);
    assert.match(a.stderr, new RegExp(`^streamgate: .*upstreams\\[0\\]: tls_ca_file ${missing}: .+\n$`));
    const b = await check([{ path: '/a/*', url: 'http://127.0.0.1:1', tls_verify: false }]);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /upstreams\[0\]: tls_\* keys need an https:\/\/ url\n$/);
    const c = await check([{ path: '/a/*', url: 'https://[::1]', tls_server_name: 'a b' }]);
    assert.equal(c.code, 2);
    assert.match(c.stderr, /upstreams\[0\]: tls_server_name: expected a host name\n$/);
    const d = await check([{ path: '/a/*', url: 'https://127.0.0.1' }]);
    assert.equal(d.code, 0, d.stderr);
  });
});
