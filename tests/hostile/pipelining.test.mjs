// Pipelined requests: any mix, with and without bodies, in one write or
// split at every byte, is answered in order; the gateway stays responsive
// and idle afterwards. (libwebsockets 4.1.6 spun forever on a pipelined
// request with a body: the gateway frames HTTP/1 itself now.)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, request } from '../integration/lib/server.mjs';
import { parseResponses, rawExchange } from '../integration/lib/raw.mjs';
import { RSS_ENV, assertHealthy, idleCpuMs } from './lib/hostile.mjs';

const GET_HEALTH = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
const post = (ch, body) => `POST /channels/${ch} HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const CLOSE = 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';

describe('pipelining', { timeout: 120000 }, () => {
  let server;
  before(async () => { server = await startServer({ env: RSS_ENV }); });
  after(async () => { await server.stop(); });

  it('the packet that stopped the gateway: GET then POST in one write', async () => {
    const text = await rawExchange(server.port, GET_HEALTH + post('p', 'pipe') + CLOSE);
    const rs = parseResponses(text);
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 200]);
    assert.equal(rs[0].body, '{"status":"ok"}');
    const pub = JSON.parse(rs[1].body);
    assert.deepEqual([pub.channel, pub.subscribers], ['p', 0]);
    const info = JSON.parse((await request(server.url, { path: '/channels/p/info' })).text);
    assert.equal(info.history.count, 1, 'the body "pipe" was published once');
    assert.ok(await assertHealthy(server, 100) <= 100);
    assert.ok(await idleCpuMs(server.pid, 1000) <= 50, 'idle CPU stays idle');
  });

  it('every mix of requests with and without bodies is answered in order', async () => {
    const mixes = [
      [post('a', 'one'), post('a', 'two')],
      [GET_HEALTH, post('a', 'x')],
      ['GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n', post('a', 'after404')],
      ['POST /channels/a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n', post('a', 'afterzero')],
      [post('a', 'x'), 'DELETE /channels/zz HTTP/1.1\r\nHost: x\r\n\r\n', GET_HEALTH],
      ['POST /channels/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', post('a', 'x')],
    ];
    const want = [[200, 200], [200, 200], [404, 200], [200, 200], [200, 404, 200], [200, 200]];
    for (const [i, mix] of mixes.entries()) {
      const rs = parseResponses(await rawExchange(server.port, mix.join('') + CLOSE));
      assert.deepEqual(rs.map((r) => r.status), [...want[i], 200], `mix ${i}`);
    }
    await assertHealthy(server, 100);
  });

  it('split at every byte boundary, the answers are the same', async () => {
    const packet = GET_HEALTH + post('s', 'split') + CLOSE;
    const whole = parseResponses(await rawExchange(server.port, packet));
    const strip = (rs) => rs.map((r) => [r.status, r.body.replace(/"id":"[^"]+"/, '"id":"ID"')]);
    for (let k = 1; k < packet.length; k++) {
      const sock = await import('../integration/lib/raw.mjs');
      const conn = await sock.connect(server.port);
      const answer = sock.collect(conn, { timeoutMs: 5000 });
      conn.write(packet.slice(0, k), 'latin1');
      await new Promise((r) => setImmediate(r));
      conn.write(packet.slice(k), 'latin1');
      const rs = parseResponses((await answer).text);
      assert.deepEqual(strip(rs), strip(whole), `split at ${k}`);
    }
    const oneByte = parseResponses(await rawExchange(server.port, packet, { split: 1 }));
    assert.deepEqual(strip(oneByte), strip(whole), 'one byte per write');
    await assertHealthy(server, 100);
  });

  it('1,000 pipelined GETs on one connection are all answered', async () => {
    const rs = parseResponses(await rawExchange(server.port, GET_HEALTH.repeat(999) + CLOSE, { timeoutMs: 20000 }));
    assert.equal(rs.length, 1000);
    assert.ok(rs.every((r) => r.status === 200 && r.body === '{"status":"ok"}'));
    await assertHealthy(server, 100);
  });

  it('requests pipelined behind a finite stream wait for it, then are answered', async () => {
    const text = await rawExchange(server.port,
      'GET /examples/firehose?count=2&interval_ms=20 HTTP/1.1\r\nHost: x\r\n\r\n' + post('b', 'behind') + CLOSE);
    const rs = parseResponses(text);
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 200]);
    assert.equal(rs[0].body, 'HELLO\nCHUNKY MONKEY\nCHUNKY MONKEY\nGOODBYE!\n');
    assert.equal(JSON.parse(rs[1].body).channel, 'b');
  });

  it('a client that half-closes after pipelining still gets every answer', async () => {
    const rs = parseResponses(await rawExchange(server.port, GET_HEALTH + post('c', 'h') + GET_HEALTH, { end: true }));
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 200]);
  });

  it('a client that pipelines without end and never reads: memory stays bounded, others unaffected', async () => {
    const { connect } = await import('../integration/lib/raw.mjs');
    const { rssBytes } = await import('../integration/lib/server.mjs');
    const before = rssBytes(server.pid);
    const sock = await connect(server.port);
    sock.pause(); // read nothing
    // write 32 MB of GETs as fast as the server takes them; it stops
    // reading once answers back up, so the writes back up too
    const chunk = Buffer.from(GET_HEALTH.repeat(1000));
    let written = 0;
    const deadline = Date.now() + 3000;
    while (written < 32 * 1024 * 1024 && Date.now() < deadline) {
      if (!sock.write(chunk)) {
        const drained = await Promise.race([
          new Promise((r) => sock.once('drain', () => r(true))),
          new Promise((r) => setTimeout(() => r(false), 500)),
        ]);
        if (!drained) break;
      }
      written += chunk.length;
    }
    await assertHealthy(server, 200);
    const grew = rssBytes(server.pid) - before;
    assert.ok(written < 32 * 1024 * 1024, `the server stopped reading (the client wrote ${written} bytes)`);
    assert.ok(grew < 8 * 1024 * 1024, `RSS grew ${grew} bytes`);
    sock.destroy();
    await assertHealthy(server, 200);
  });
});
