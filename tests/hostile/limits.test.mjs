// Limits that hold: max_connections is exact (503 JSON with Retry-After
// past it, /healthz and /metrics still answer), body sizes are refused
// before they are read.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { metrics, request, sleep, startServer, waitFor } from '../integration/lib/server.mjs';
import { connect, parseResponses, rawExchange } from '../integration/lib/raw.mjs';
import { assertHealthy } from './lib/hostile.mjs';

const MAX = 300;

describe('connection limit', { timeout: 60000 }, () => {
  let server;
  const streams = [];
  before(async () => {
    server = await startServer({ args: ['--max-connections', String(MAX)] });
  });
  after(async () => {
    for (const s of streams) s.destroy();
    await server.stop();
  });

  it(`${MAX} streams are served; the next connection gets 503 JSON with Retry-After and is closed`, async () => {
    const heads = [];
    for (let i = 0; i < MAX; i++) {
      const s = await connect(server.port);
      heads[i] = '';
      s.on('data', (d) => { heads[i] += d.toString('latin1'); });
      s.write('GET /channels/full HTTP/1.1\r\nHost: x\r\n\r\n');
      streams.push(s);
    }
    // every stream answered before anything else connects: a /metrics
    // request is a connection too, and would take a stream's place
    await waitFor(() => heads.every((h) => h.includes('\r\n\r\n')), { what: `${MAX} stream heads` });
    assert.ok(heads.every((h) => h.startsWith('HTTP/1.1 200 OK\r\n')), 'every stream got 200');
    const m0 = await metrics(server.url);
    assert.equal(m0.streamgate_connections, MAX);
    const text = await rawExchange(server.port, 'GET /channels/full HTTP/1.1\r\nHost: x\r\n\r\n');
    const [r] = parseResponses(text);
    assert.equal(r.status, 503);
    assert.equal(r.headers['retry-after'], '1');
    assert.equal(r.headers.connection, 'close');
    assert.deepEqual(JSON.parse(r.body), { error: 'too_many_connections', detail: 'the gateway is at max_connections' });
  });

  it('when full, /healthz and /metrics still answer', async () => {
    await assertHealthy(server);
    // the streams and the asking request, once the /healthz one has gone
    const m = await waitFor(async () => {
      const now = await metrics(server.url);
      return now.streamgate_open_connections === MAX + 1 && now;
    }, { what: `${MAX + 1} open connections` });
    assert.equal(m.streamgate_connections, MAX);
  });

  it('a connection that leaves makes room for exactly one more', async () => {
    streams.pop().destroy();
    // the streams left and the /metrics request asking
    await waitFor(async () => (await metrics(server.url)).streamgate_open_connections === MAX, { what: 'one stream gone' });
    await sleep(100); // the asking connection itself is gone too
    const s = await connect(server.port);
    let head = '';
    let closed = false;
    s.on('data', (d) => { head += d.toString('latin1'); });
    s.on('close', () => { closed = true; });
    s.write('GET /channels/full HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => head.includes('\r\n\r\n'), { what: 'the stream head' });
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    await sleep(200);
    assert.equal(closed, false, 'the new stream stays open');
    streams.push(s);
    const [r] = parseResponses(await rawExchange(server.port, 'POST /channels/full HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx'));
    assert.equal(r.status, 503, 'and the next one is refused again');
  });
});

describe('body limits', { timeout: 30000 }, () => {
  let server;
  before(async () => { server = await startServer({ args: ['--max-body-bytes', '1000'] }); });
  after(async () => { await server.stop(); });

  it('a Content-Length over max_body_bytes: 413 before any byte of the body', async () => {
    const [r] = parseResponses(await rawExchange(server.port, 'POST /channels/b HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n'));
    assert.equal(r.status, 413);
    assert.equal(JSON.parse(r.body).error, 'body_too_large');
  });

  it('a chunked body that grows past max_body_bytes: 413, nothing published', async () => {
    const chunk = `200\r\n${'x'.repeat(512)}\r\n`;
    const [r] = parseResponses(await rawExchange(server.port,
      `POST /channels/b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}${chunk}0\r\n\r\n`));
    assert.equal(r.status, 413);
    assert.equal((await request(server.url, { path: '/channels/b/info' })).status, 404);
    await assertHealthy(server);
  });
});
