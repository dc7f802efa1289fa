// Hostile clients on the TLS port: a handshake that never finishes, HTTP/2
// garbage after the preface, a rapid-reset flood (CVE-2023-44487), more
// streams than SETTINGS_MAX_CONCURRENT_STREAMS, an oversized header list
// and an HTTP/2 reader that stops reading.
// The gateway answers each with a timeout, GOAWAY or a clear refusal, and
// stays healthy on both ports.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { publish, request, rssBytes, startServer, tempDir, waitFor, withTimeout } from '../integration/lib/server.mjs';
import { h2Connect, h2Request, makeCa, makeServerCert, tlsArgs, tlsConnect } from '../integration/lib/tls.mjs';
import { assertHealthy, RSS_ENV } from './lib/hostile.mjs';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const GOAWAY = 7;
const RST_STREAM = 3;
const ENHANCE_YOUR_CALM = 11;

const tmp = tempDir('streamgate-tls-hostile-');
let ca, certs, server;
const message = (i) => `message ${i} ${'x'.repeat(100000)}`;

before(async () => {
  ca = fs.readFileSync(makeCa(tmp.dir));
  certs = makeServerCert(tmp.dir);
  server = await startServer({ tls: true, args: [...tlsArgs(certs), '--body-timeout-ms', '500'] });
});
after(async () => {
  await server?.stop();
  tmp.cleanup();
});

// One HTTP/2 frame's bytes.
function frame(type, flags, stream, payload = Buffer.alloc(0)) {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

// The frames in buf (whole ones only).
function frames(buf) {
  const out = [];
  for (let at = 0; at + 9 <= buf.length;) {
    const len = buf.readUIntBE(at, 3);
    if (at + 9 + len > buf.length) break;
    out.push({ type: buf[at + 3], flags: buf[at + 4], stream: buf.readUInt32BE(at + 5) & 0x7fffffff,
      payload: buf.subarray(at + 9, at + 9 + len) });
    at += 9 + len;
  }
  return out;
}

// A raw HTTP/2 connection: what the server sends is kept; closed resolves
// when the server closes.
async function rawH2() {
  const { socket, alpn } = await tlsConnect(server.tlsPort, ca, { alpn: ['h2'] });
  assert.equal(alpn, 'h2');
  const got = [];
  socket.on('data', (d) => got.push(d));
  socket.on('error', () => {});
  const closed = new Promise((resolve) => socket.once('close', resolve));
  return { socket, closed, frames: () => frames(Buffer.concat(got)) };
}

// GET / as an HPACK block of static-table entries and a literal :authority.
const GET_BLOCK = Buffer.concat([Buffer.from([0x82, 0x87, 0x84, 0x01, 9]), Buffer.from('localhost')]);

async function healthyBothWays() {
  await assertHealthy(server);
  const session = await h2Connect(server.tlsPort, ca);
  const r = await h2Request(session, { path: '/healthz' });
  assert.equal(r.text, '{"status":"ok"}');
  session.close();
}

describe('TLS port under hostile clients', () => {
  it('a handshake that never finishes is cut at body_timeout_ms', async () => {
    for (const bytes of [Buffer.alloc(0), Buffer.from([0x16, 0x03, 0x01, 0x00, 0x50, 0x01])]) {
      const sock = net.connect(server.tlsPort, '127.0.0.1');
      sock.on('error', () => {});
      await new Promise((resolve) => sock.once('connect', resolve));
      const t0 = Date.now();
      const closed = new Promise((resolve) => sock.once('close', resolve));
      if (bytes.length) sock.write(bytes);
      await withTimeout(closed, 3000, 'the server closes a handshake that stalls');
      const took = Date.now() - t0;
      assert.ok(took >= 400 && took < 2500, `closed after ${took} ms`);
    }
    await healthyBothWays();
  });

  it('10 MB of garbage after the preface gets GOAWAY and a close', async () => {
    const c = await rawH2();
    c.socket.write(PREFACE);
    const garbage = crypto.randomBytes(10 * 1024 * 1024);
    c.socket.write(garbage);
    await withTimeout(c.closed, 10000, 'the close after garbage');
    const goaway = c.frames().find((f) => f.type === GOAWAY);
    assert.ok(goaway, `a GOAWAY among ${JSON.stringify(c.frames().map((f) => f.type))}`);
    assert.notEqual(goaway.payload.readUInt32BE(4), 0, 'an error code');
    await healthyBothWays();
  });

  it('a rapid-reset flood gets GOAWAY ENHANCE_YOUR_CALM', async () => {
    const c = await rawH2();
    const parts = [PREFACE, frame(4, 0, 0)];
    for (let id = 1; id < 2 * 1000; id += 2) {
      parts.push(frame(1, 0x5, id, GET_BLOCK)); // HEADERS, END_STREAM | END_HEADERS
      parts.push(frame(RST_STREAM, 0, id, Buffer.from([0, 0, 0, 8]))); // CANCEL
    }
    c.socket.write(Buffer.concat(parts));
    await withTimeout(c.closed, 10000, 'the close after the flood');
    const goaway = c.frames().find((f) => f.type === GOAWAY);
    assert.ok(goaway, 'a GOAWAY');
    assert.equal(goaway.payload.readUInt32BE(4), ENHANCE_YOUR_CALM);
    await healthyBothWays();
  });

  it('streams past SETTINGS_MAX_CONCURRENT_STREAMS are refused, the connection lives', async () => {
    const c = await rawH2();
    await waitFor(() => c.frames().some((f) => f.type === 4 && !(f.flags & 1)), { what: 'server SETTINGS' });
    const settings = c.frames().find((f) => f.type === 4 && !(f.flags & 1)).payload;
    const values = {};
    for (let at = 0; at + 6 <= settings.length; at += 6) values[settings.readUInt16BE(at)] = settings.readUInt32BE(at + 2);
    assert.equal(values[3], 100, 'MAX_CONCURRENT_STREAMS');
    assert.equal(values[8], undefined, 'no ENABLE_CONNECT_PROTOCOL: WebSocket is HTTP/1.1 only');
    // 101 SSE subscriptions that stay open: the 101st is refused
    const sse = Buffer.concat([Buffer.from([0x82, 0x87, 0x04, 14]), Buffer.from('/channels/many'),
      Buffer.from([0x01, 9]), Buffer.from('localhost'), Buffer.from([0x00, 6]), Buffer.from('accept'),
      Buffer.from([17]), Buffer.from('text/event-stream')]);
    const parts = [PREFACE, frame(4, 0, 0)];
    for (let i = 0; i < 101; i++) parts.push(frame(1, 0x5, 1 + 2 * i, sse));
    c.socket.write(Buffer.concat(parts));
    await waitFor(() => c.frames().some((f) => f.type === RST_STREAM && f.stream === 201), { what: 'RST_STREAM on stream 201' });
    const refused = c.frames().find((f) => f.type === RST_STREAM && f.stream === 201);
    assert.equal(refused.payload.readUInt32BE(0), 7, 'REFUSED_STREAM');
    await waitFor(() => c.frames().filter((f) => f.type === 1).length === 100, { what: 'HEADERS answers to the first 100' });
    c.socket.destroy();
    await healthyBothWays();
  });

  it('a reader that stops reading meets the slow-client policy, not unbounded memory', async () => {
    const srv = await startServer({ tls: true, env: RSS_ENV, args: [...tlsArgs(certs), '--history-count', '0', '--queue-bytes', '262144'] });
    try {
      const session = await h2Connect(srv.tlsPort, ca, { initialWindowSize: 1024 });
      const req = session.request({ ':path': '/channels/flood' });
      const parts = [];
      req.on('data', (d) => parts.push(d));
      await withTimeout(new Promise((resolve) => req.once('response', resolve)), 10000, 'headers');
      req.pause();
      const rss0 = rssBytes(srv.pid);
      for (let i = 0; i < 100; i++) await publish(srv.url, 'flood', message(i));
      const grown = rssBytes(srv.pid) - rss0;
      assert.ok(grown < 12 * 1024 * 1024, `RSS grew by ${grown} bytes for 10 MB published to a reader that reads nothing`);
      req.resume();
      const last = message(99);
      await waitFor(() => Buffer.concat(parts).toString('utf8').endsWith(`${last}\n`), { timeoutMs: 20000, what: 'the last message' });
      // whole messages, in order: frames are dropped whole, never cut
      const lines = Buffer.concat(parts).toString('utf8').slice(0, -1).split('\n');
      let prev = -1;
      for (const line of lines) {
        const m = /^message (\d+) (x+)$/.exec(line);
        assert.ok(m && m[2].length === 100000, `a whole message: ${line.slice(0, 40)}`);
        assert.ok(Number(m[1]) > prev);
        prev = Number(m[1]);
      }
      assert.ok(lines.length < 100, 'the oldest were dropped');
      req.close();
      session.close();
    } finally {
      await srv.stop();
    }
  });

  it('bodies left unfinished on many streams are bounded per connection (503 busy)', async () => {
    // node's own bound on what a session buffers (10 MB) would refuse our
    // 18 MB before the gateway sees them
    const session = await h2Connect(server.tlsPort, ca, {}, { maxSessionMemory: 200 });
    const answers = [];
    const reqs = [];
    for (let i = 0; i < 20; i++) {
      const req = session.request({ ':method': 'POST', ':path': '/channels/held' });
      req.on('response', (h) => {
        let text = '';
        req.setEncoding('utf8');
        req.on('data', (d) => (text += d));
        req.on('end', () => answers.push({ status: h[':status'], text }));
      });
      req.on('error', () => {});
      req.write(Buffer.alloc(900 * 1024, 0x61)); // never ended
      reqs.push(req);
    }
    await waitFor(() => answers.length >= 15, { timeoutMs: 20000, what: `503 answers (have ${answers.length})` });
    for (const a of answers) {
      assert.equal(a.status, 503);
      assert.equal(a.text, '{"error":"busy","detail":"this connection holds too many bodies and answers: read them"}');
    }
    session.destroy();
    await healthyBothWays();
  });

  it('an HTTP/1.1-over-TLS reader that stops reading meets slow_policy disconnect', async () => {
    const srv = await startServer({ tls: true, args: [...tlsArgs(certs), '--slow-policy', 'disconnect', '--queue-bytes', '65536', '--history-count', '0'] });
    try {
      const { socket } = await tlsConnect(srv.tlsPort, ca);
      socket.on('error', () => {});
      let head = '';
      const gotHead = new Promise((resolve) => socket.on('data', function first(d) {
        head += d.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        socket.off('data', first);
        socket.pause();
        socket.on('data', () => {});
        resolve();
      }));
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.write('GET /channels/slow-tls HTTP/1.1\r\nHost: t\r\n\r\n');
      await withTimeout(gotHead, 5000, 'the stream head');
      // the kernel's loopback buffers take a few MB before anything backs up
      const chunk = 'y'.repeat(10000);
      const cut = async () => /^streamgate_slow_disconnects_total [1-9]/m.test((await request(srv.url, { path: '/metrics' })).text);
      let published = 0;
      while (published < 4000 && !(published % 100 === 0 && await cut())) {
        await publish(srv.url, 'slow-tls', chunk);
        published++;
      }
      assert.ok(await cut(), `no slow disconnect after ${published} messages of 10 KB`);
      socket.resume(); // what was sent before the cut drains, then the close
      await withTimeout(closed, 10000, 'the close of the cut reader');
    } finally {
      await srv.stop();
    }
  });

  it('a header list over max_header_bytes gets 431 JSON', async () => {
    const session = await h2Connect(server.tlsPort, ca);
    const r = await h2Request(session, { path: '/healthz', headers: { 'x-big': 'a'.repeat(6000), 'x-big2': 'b'.repeat(6000) } });
    assert.equal(r.status, 431);
    assert.equal(r.text, '{"error":"headers_too_large","detail":"the request headers are over max_header_bytes"}');
    session.close();
    await healthyBothWays();
  });
});
