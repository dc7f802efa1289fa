// Slow and silent clients: a head or a body that stops arriving is cut
// after body_timeout_ms with 408 JSON, an idle kept-alive connection after
// keepalive_timeout_ms; hundreds of slow 1 MiB POSTs reserve nothing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { metrics, rssBytes, startServer, waitFor } from '../integration/lib/server.mjs';
import { collect, connect, parseResponses } from '../integration/lib/raw.mjs';
import { RSS_ENV, assertHealthy } from './lib/hostile.mjs';

describe('slow clients', { timeout: 60000 }, () => {
  let server;
  before(async () => {
    server = await startServer({ args: ['--body-timeout-ms', '500', '--keepalive-timeout-ms', '300'], env: RSS_ENV });
  });
  after(async () => { await server.stop(); });

  it('a body that stops arriving: 408 after body_timeout_ms, then closed', async () => {
    const s = await connect(server.port);
    const got = collect(s, { timeoutMs: 5000 });
    const t0 = Date.now();
    s.write('POST /channels/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789');
    const { text, closed } = await got;
    const ms = Date.now() - t0;
    assert.ok(closed);
    const [r] = parseResponses(text);
    assert.equal(r.status, 408);
    assert.equal(JSON.parse(r.body).error, 'request_timeout');
    assert.ok(ms >= 450 && ms < 2000, `cut after ${ms} ms`);
  });

  it('a head dripped a byte at a time is cut at its deadline, not kept alive by the drip', async () => {
    const s = await connect(server.port);
    const got = collect(s, { timeoutMs: 5000 });
    const t0 = Date.now();
    const drip = setInterval(() => { if (!s.destroyed) s.write('X'); }, 50);
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const { text } = await got;
    clearInterval(drip);
    const ms = Date.now() - t0;
    assert.equal(parseResponses(text)[0].status, 408);
    assert.ok(ms >= 450 && ms < 2000, `cut after ${ms} ms`);
  });

  it('an idle kept-alive connection is closed after keepalive_timeout_ms, with nothing sent', async () => {
    const s = await connect(server.port);
    const got = collect(s, { timeoutMs: 5000 });
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const t0 = Date.now();
    const { text, closed } = await got;
    const ms = Date.now() - t0;
    assert.ok(closed);
    assert.equal(parseResponses(text).length, 1);
    assert.ok(ms >= 250 && ms < 2000, `closed after ${ms} ms`);
  });

  it('500 slow 1 MiB POSTs reserve nothing, and memory comes back when they are cut', async () => {
    const before = rssBytes(server.pid);
    const socks = [];
    for (let i = 0; i < 500; i++) {
      const s = await connect(server.port);
      s.on('error', () => {});
      s.write('POST /channels/big HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n0123456789');
      socks.push(s);
    }
    await waitFor(async () => (await metrics(server.url)).streamgate_open_connections >= 500, { what: '500 open' });
    const during = rssBytes(server.pid);
    assert.ok(during - before < 32 * 1024 * 1024, `RSS grew ${during - before} bytes for 500 slow POSTs`);
    await assertHealthy(server);
    await waitFor(async () => (await metrics(server.url)).streamgate_open_connections === 1,
      { timeoutMs: 10000, what: 'the slow POSTs cut' });
    for (const s of socks) s.destroy();
    const afterRss = rssBytes(server.pid);
    assert.ok(afterRss - before < 16 * 1024 * 1024, `RSS after: ${afterRss - before} bytes over the start`);
  });
});
