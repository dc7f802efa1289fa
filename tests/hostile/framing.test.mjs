// Request framing (RFC 9112) from a hostile client: every case gets an
// exact status and a JSON reason, nothing is smuggled, nothing waits, and
// /healthz answers afterwards.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request, startServer } from '../integration/lib/server.mjs';
import { parseResponses, rawExchange } from '../integration/lib/raw.mjs';
import { assertHealthy } from './lib/hostile.mjs';

// One request on its own connection; the single answer, parsed.
async function one(port, bytes, opts) {
  const text = await rawExchange(port, bytes, opts);
  const rs = parseResponses(text);
  assert.equal(rs.length, 1, `one answer to ${JSON.stringify(bytes.slice(0, 80))}: ${text.slice(0, 300)}`);
  return rs[0];
}

function expectJsonError(r, status, error) {
  assert.equal(r.status, status, `status; body ${r.body}`);
  assert.equal(r.headers['content-type'], 'application/json');
  const body = JSON.parse(r.body);
  assert.equal(body.error, error);
  assert.equal(typeof body.detail, 'string');
  return body;
}

describe('request framing', { timeout: 60000 }, () => {
  let server;
  before(async () => {
    server = await startServer({ args: ['--max-header-bytes', '2048', '--max-url-bytes', '1024'] });
  });
  after(async () => { await server.stop(); });

  it('Content-Length with Transfer-Encoding: 400, closed, and the smuggled DELETE never runs', async () => {
    await request(server.url, { method: 'POST', path: '/channels/victim', body: 'keep me' });
    const smuggle = 'POST /channels/victim HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n' +
      'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nDELETE /channels/victim HTTP/1.1\r\nHost: x\r\n\r\n';
    const text = await rawExchange(server.port, smuggle);
    const rs = parseResponses(text);
    assert.equal(rs.length, 1, 'one answer, then the connection is closed');
    expectJsonError(rs[0], 400, 'bad_request');
    assert.equal(rs[0].headers.connection, 'close');
    const info = JSON.parse((await request(server.url, { path: '/channels/victim/info' })).text);
    assert.equal(info.history.count, 1, 'the channel was not deleted');
    await assertHealthy(server);
  });

  it('a header block over max_header_bytes: 431 JSON', async () => {
    const r = await one(server.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(3000)}\r\n\r\n`);
    expectJsonError(r, 431, 'headers_too_large');
    const many = Array.from({ length: 70 }, (_, i) => `X-${i}: y\r\n`).join('');
    expectJsonError(await one(server.port, `GET /healthz HTTP/1.1\r\nHost: x\r\n${many}\r\n`), 431, 'headers_too_large');
    await assertHealthy(server);
  });

  it('a request line over max_url_bytes: 414 JSON, even before its end arrives', async () => {
    expectJsonError(await one(server.port, `GET /channels/x?a=${'b'.repeat(1100)} HTTP/1.1\r\nHost: x\r\n\r\n`), 414, 'uri_too_long');
    expectJsonError(await one(server.port, `GET /${'c'.repeat(1100)}`), 414, 'uri_too_long');
    await assertHealthy(server);
  });

  it('a long query argument never drops the ones after it', async () => {
    const r = await one(server.port, `GET /channels/x?pad=${'p'.repeat(900)}&transport=bogus HTTP/1.1\r\nHost: x\r\n\r\n`);
    expectJsonError(r, 400, 'bad_transport');
    const too = Array.from({ length: 17 }, (_, i) => `a${i}=1`).join('&');
    const r2 = await one(server.port, `GET /channels/x?${too} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal(JSON.parse(r2.body).detail, 'more than 16 query arguments');
    expectJsonError(r2, 400, 'bad_request');
    expectJsonError(await one(server.port, 'GET /channels/x?last_event_id=%zz HTTP/1.1\r\nHost: x\r\n\r\n'), 400, 'bad_request');
    expectJsonError(await one(server.port, 'GET /channels/a%00b HTTP/1.1\r\nHost: x\r\n\r\n'), 400, 'bad_request');
  });

  it('malformed header lines and request lines: 400 JSON', async () => {
    const cases = [
      'GET /healthz HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: x\r\nSpace : before colon\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: x\r\nFolded: a\r\n  b\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: x\r\nBare: a\rb\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: x\r\nNul: a\x00b\r\n\r\n',
      'GET /healthz HTTP/1.1\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
      'GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET healthz HTTP/1.1\r\nHost: x\r\n\r\n',
      'G\x01T /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /healthz HTTP/1.1 extra\r\nHost: x\r\n\r\n',
      'POST /channels/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    ];
    for (const c of cases) expectJsonError(await one(server.port, c), 400, 'bad_request');
    expectJsonError(await one(server.port, 'GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n'), 505, 'http_version_not_supported');
    expectJsonError(await one(server.port, 'POST /channels/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n'), 501, 'not_implemented');
    expectJsonError(await one(server.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n'), 417, 'expectation_failed');
    await assertHealthy(server);
  });

  it('a last header named like the prefix of a known one is answered at once', async () => {
    const t0 = Date.now();
    for (const name of ['Acc', 'Orig', 'Con', 'Ho']) {
      const r = await one(server.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${name}: y\r\n\r\n`, { timeoutMs: 2000 });
      assert.equal(r.status, 200, name);
    }
    assert.ok(Date.now() - t0 < 1000, 'no waiting');
  });

  it('HTTP/1.0: a stream without chunk framing, ended by close', async () => {
    const text = await rawExchange(server.port, 'GET /examples/firehose?count=1&interval_ms=10 HTTP/1.0\r\n\r\n');
    const [head, body] = text.split('\r\n\r\n');
    assert.match(head, /^HTTP\/1\.0 200 OK\r\n/);
    assert.doesNotMatch(head, /transfer-encoding/i);
    assert.match(head, /\r\nconnection: close/);
    assert.equal(body, 'HELLO\nCHUNKY MONKEY\nGOODBYE!\n');
    const ka = await rawExchange(server.port, 'GET /healthz HTTP/1.0\r\n\r\n');
    assert.equal(parseResponses(ka)[0].body, '{"status":"ok"}');
  });

  it('HEAD answers the headers of GET without a body, on every GET endpoint', async () => {
    await request(server.url, { method: 'POST', path: '/channels/h', body: 'x' });
    const text = await rawExchange(server.port,
      'HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nHEAD /channels/h HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n' +
      'HEAD /channels/h/info HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const heads = text.split('HTTP/1.1 ').slice(1).map((t) => 'HTTP/1.1 ' + t);
    assert.equal(heads.length, 4);
    assert.match(heads[0], /^HTTP\/1\.1 200 OK\r\ncontent-type: application\/json\r\ncontent-length: 15\r\n/);
    assert.ok(heads[0].endsWith('\r\n\r\n'), 'no body after the HEAD answer');
    assert.match(heads[1], /^HTTP\/1\.1 200 OK\r\ncontent-type: text\/event-stream\r\n/);
    assert.ok(heads[1].endsWith('\r\n\r\n'));
    assert.match(heads[2], /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(heads[3].endsWith('{"status":"ok"}'));
  });

  it('OPTIONS answers 204 with Allow', async () => {
    const r = await one(server.port, 'OPTIONS /channels/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(r.status, 204);
    assert.equal(r.headers.allow, 'GET, HEAD, POST, DELETE, OPTIONS');
    assert.equal(r.body, '');
  });

  it('Expect: 100-continue gets 100 Continue, or the 413 at once', async () => {
    const { connect, collect } = await import('../integration/lib/raw.mjs');
    const sock = await connect(server.port);
    const all = collect(sock, { timeoutMs: 3000 });
    let seen = '';
    sock.on('data', (d) => { seen += d.toString('latin1'); });
    sock.write('POST /channels/e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
    const t0 = Date.now();
    while (!seen.includes('\r\n\r\n') && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 5));
    assert.equal(seen, 'HTTP/1.1 100 Continue\r\n\r\n');
    sock.write('hello');
    const text = (await all).text;
    assert.equal(parseResponses(text.slice(25))[0].status, 200);
    const big = await rawExchange(server.port,
      'POST /channels/e HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\nExpect: 100-continue\r\n\r\n');
    assert.doesNotMatch(big, /100 Continue/);
    expectJsonError(parseResponses(big)[0], 413, 'body_too_large');
  });
});
