// The GRIP publish API (POST /publish/) against hostile publishers, on
// grip_publish_listen (trusted: no token to stop them) and on the main
// listener: malformed JSON, deep nesting, huge items arrays, bad base64,
// oversized and dripped bodies. Each gets an exact status and JSON reason,
// nothing is published, and /healthz answers at once after each.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { expectError, freePort, request, startServer } from '../integration/lib/server.mjs';
import { collect, connect, parseResponses, rawExchange } from '../integration/lib/raw.mjs';
import { assertHealthy, cpuMs } from './lib/hostile.mjs';

describe('hostile publishers on /publish/', { timeout: 120000 }, () => {
  let server, grip, gripPort;
  before(async () => {
    gripPort = await freePort();
    server = await startServer({
      args: ['--grip-publish-listen', `127.0.0.1:${gripPort}`, '--body-timeout-ms', '500',
        '--max-body-bytes', '1048576'],
    });
    grip = `http://127.0.0.1:${gripPort}`;
  });
  after(async () => { await server.stop(); });

  const post = (body, base = grip) => request(base, {
    method: 'POST', path: '/publish/', headers: { 'Content-Type': 'application/json' }, body,
  });
  async function refused(body, status, code) {
    expectError(await post(body), status, code);
    await assertHealthy(server);
  }
  async function nothingPublished(channel) {
    const info = await request(server.url, { path: `/channels/${channel}/info` });
    assert.equal(info.status, 404, `${channel} holds nothing`);
  }

  it('malformed JSON: 400 bad_json, whatever the shape', async () => {
    const cases = [['', 'bad_json'], ['{', 'bad_json'], ['{"items":[', 'bad_json'], ['null', 'bad_json'],
      ['nul', 'bad_json'], ['{"items":[1,]}', 'bad_json'], ['{"items":[]}x', 'bad_json'],
      ['\u0000\u0001', 'bad_json'], ['{"a":1,"a":2}', 'bad_json'], [Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'bad_json'],
      ['{"items":[{"channel":"h","formats":{"ws-message":{"content":"\\ud800"}}}]}', 'bad_json'],
      ['[]', 'bad_items'], ['{"items":{}}', 'bad_items'], ['{"items":null}', 'bad_items']];
    for (const [body, code] of cases) {
      const r = await post(body);
      assert.equal(r.status, 400, `${body}: ${r.text}`);
      expectError(r, 400, code);
    }
    await assertHealthy(server);
    await nothingPublished('h');
  });

  it('deep nesting: refused at once, no stack blown', async () => {
    const t0 = cpuMs(server.pid);
    await refused(`{"items":${'['.repeat(200000)}${']'.repeat(200000)}}`, 400, 'bad_json');
    await refused(`{"items":[{"channel":"h","formats":${'{"a":'.repeat(100000)}1${'}'.repeat(100000)}}]}`, 400, 'bad_json');
    assert.ok(cpuMs(server.pid) - t0 < 2000, 'bounded work');
  });

  it('huge items arrays: 400 too_many_items, a bad last item publishes none of 9,999 good ones', async () => {
    await refused(`{"items":[${Array(200000).fill('1').join(',')}]}`, 400, 'too_many_items');
    const good = (i) => ({ channel: 'h2', formats: { 'ws-message': { content: `m${i}` } } });
    const items = Array.from({ length: 9999 }, (_, i) => good(i));
    items.push({ channel: 'h2', formats: { 'ws-message': { content: 7 } } });
    const r = await post(JSON.stringify({ items }));
    const detail = expectError(r, 400, 'bad_item');
    assert.equal(detail, 'items[9999]: content and body must be strings');
    await assertHealthy(server);
    await nothingPublished('h2');
  });

  it('bad base64 in content-bin and body-bin: 400 bad_item', async () => {
    for (const b of ['=', 'a', 'ab=c', 'abc==', '====', 'a===', 'ab c', 'ab\ncd', '****', 'YQ=Q', 'Y']) {
      for (const f of [{ 'http-stream': { 'content-bin': b } }, { 'http-response': { 'body-bin': b } },
        { 'ws-message': { 'content-bin': b } }]) {
        const r = await post(JSON.stringify({ items: [{ channel: 'h3', formats: f }] }));
        expectError(r, 400, 'bad_item');
      }
    }
    for (const b of [1, null, {}, []]) {
      expectError(await post(JSON.stringify({ items: [{ channel: 'h3', formats: { 'http-stream': { 'content-bin': b } } }] })), 400, 'bad_item');
    }
    await assertHealthy(server);
    await nothingPublished('h3');
  });

  it('an oversized body: 413 before it is read, on both listeners', async () => {
    for (const port of [gripPort, server.port]) {
      const text = await rawExchange(port,
        'POST /publish/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n{"items":');
      const [r] = parseResponses(text);
      assert.equal(r.status, 413);
      assert.equal(JSON.parse(r.body).error, 'body_too_large');
    }
    await assertHealthy(server);
  });

  // body_timeout_ms is the engine's idle bound on a body (each byte restarts
  // it): a drip holds its one connection (max_connections_per_ip bounds
  // how many) and is cut body_timeout_ms after it stops
  it('a dripped body: /healthz answers meanwhile, 408 once the drip stops, nothing published', async () => {
    const s = await connect(gripPort);
    const got = collect(s, { timeoutMs: 8000 });
    s.write('POST /publish/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n');
    const body = '{"items":[{"channel":"h4","formats":{"ws-message":{"content":"x"}}}]}';
    let at = 0;
    const drip = setInterval(() => { if (!s.destroyed && at < 30) s.write(body[at++]); }, 50);
    await assertHealthy(server);
    await new Promise((resolve) => { const t = setInterval(() => { if (at >= 30) { clearInterval(t); resolve(); } }, 10); });
    const stopped = Date.now();
    const { text, closed } = await got;
    clearInterval(drip);
    const ms = Date.now() - stopped;
    assert.ok(closed, `closed; got ${text}`);
    assert.equal(parseResponses(text)[0].status, 408);
    assert.ok(ms >= 400 && ms < 2000, `cut ${ms} ms after the drip stopped`);
    await nothingPublished('h4');
  });

  it('other paths, methods and a WebSocket upgrade on the publish port: refused', async () => {
    expectError(await request(grip, { path: '/channels/x' }), 404, 'not_found');
    expectError(await request(grip, { path: '/metrics' }), 404, 'not_found');
    const get = await request(grip, { path: '/publish/' });
    assert.equal(get.status, 405);
    const up = await rawExchange(gripPort, 'GET /publish/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n'
      + 'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    assert.equal(parseResponses(up)[0].status, 404);
    await assertHealthy(server);
  });
});
