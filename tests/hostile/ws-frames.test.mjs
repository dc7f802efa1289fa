// Hostile WebSocket clients, frame by frame, on a raw socket: each case
// sends what RFC 6455 forbids (or what the gateway refuses) and asserts the
// exact close code and reason the server answers with (README, "WebSocket
// conformance"), then that GET /healthz still answers 200. The last groups
// cover the two timers: ws_ping_timeout_ms (a client that never answers a
// ping) and body_timeout_ms (a message whose last fragment never comes),
// with a bound on the memory 200 such half-sent messages may leave behind.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { metrics, request, rssBytes, sleep, startServer, waitFor, waitForConnections } from '../integration/lib/server.mjs';
import { OP, closePayload, encodeFrame, rawWs } from './lib/wsraw.mjs';
import { RSS_ENV } from './lib/hostile.mjs';

const PATH = '/channels/hostile.ws?format=json';
const SUBSCRIBE = JSON.stringify({ type: 'subscribe', channel: 'hostile.other' });
const SUBSCRIBED = JSON.stringify({ type: 'subscribed', channel: 'hostile.other' });

async function healthy(server) {
  const res = await request(server.url, { path: '/healthz' });
  assert.equal(res.status, 200);
  assert.equal(res.text, '{"status":"ok"}');
}

// Sends frames (Buffers) on a fresh socket and returns the server's close.
async function closeAfter(server, frames, ms = 5000) {
  const ws = await rawWs(server.port, PATH);
  try {
    ws.send(...frames);
    return await ws.serverClose(ms);
  } finally {
    ws.destroy();
  }
}

// The text frames the server sent (its replies), as strings.
const texts = (ws) => ws.frames.filter((f) => f.opcode === OP.TEXT).map((f) => f.payload.toString('utf8'));

const text = (s, o) => encodeFrame(OP.TEXT, s, o);
const cont = (s, o) => encodeFrame(OP.CONT, s, o);
const bytes = (...b) => Buffer.from(b);

describe('hostile WebSocket frames', { timeout: 120000 }, () => {
  let server;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.stop();
  });

  // [name, frames to send, expected {code, reason}]
  const refusals = [
    ['a binary message (not run as a command)', [encodeFrame(OP.BINARY, SUBSCRIBE)],
      { code: 1003, reason: 'unsupported_data: binary messages are not accepted' }],
    ['a binary message in two fragments', [encodeFrame(OP.BINARY, 'ab', { fin: false }), cont('cd')],
      { code: 1003, reason: 'unsupported_data: binary messages are not accepted' }],
    ['a text message that is not UTF-8', [text(bytes(0x7b, 0xff, 0x7d))],
      { code: 1007, reason: 'invalid_payload: a text message must be UTF-8' }],
    ['an overlong UTF-8 encoding', [text(bytes(0xc0, 0xaf))],
      { code: 1007, reason: 'invalid_payload: a text message must be UTF-8' }],
    ['a UTF-16 surrogate', [text(bytes(0xed, 0xa0, 0x80))],
      { code: 1007, reason: 'invalid_payload: a text message must be UTF-8' }],
    ['a code point over U+10FFFF', [text(bytes(0xf4, 0x90, 0x80, 0x80))],
      { code: 1007, reason: 'invalid_payload: a text message must be UTF-8' }],
    ['invalid UTF-8 in the second fragment', [text('{"a":', { fin: false }), cont(bytes(0x22, 0xfe, 0x22, 0x7d))],
      { code: 1007, reason: 'invalid_payload: a text message must be UTF-8' }],
    ['a message ending inside a character (empty last fragment)', [text(bytes(0xce), { fin: false }), cont('')],
      { code: 1007, reason: 'invalid_payload: a text message must be UTF-8' }],
    ['a ping of 126 bytes', [encodeFrame(OP.PING, Buffer.alloc(126, 0x61))],
      { code: 1002, reason: 'protocol_error: refused by the WebSocket parser' }],
    ['a close of 126 bytes', [encodeFrame(OP.CLOSE, Buffer.concat([closePayload(1000), Buffer.alloc(124, 0x61)]))],
      { code: 1002, reason: 'protocol_error: refused by the WebSocket parser' }],
    ['a fragmented ping', [encodeFrame(OP.PING, 'a', { fin: false }), encodeFrame(OP.CONT, 'b')],
      { code: 1002, reason: 'frag ctl' }],
    ['RSV1 set (no extension negotiated)', [text(SUBSCRIBE, { rsv: 4 })], { code: 1002, reason: 'rsv bits' }],
    ['RSV2 set', [text(SUBSCRIBE, { rsv: 2 })], { code: 1002, reason: 'rsv bits' }],
    ['RSV3 set', [text(SUBSCRIBE, { rsv: 1 })], { code: 1002, reason: 'rsv bits' }],
    ['RSV bits on a ping', [encodeFrame(OP.PING, 'x', { rsv: 1 })], { code: 1002, reason: 'rsv bits' }],
    ['data opcode 3', [encodeFrame(0x3, 'x')], { code: 1002, reason: 'bad opc' }],
    ['data opcode 7', [encodeFrame(0x7, 'x')], { code: 1002, reason: 'bad opc' }],
    ['control opcode 0xb', [encodeFrame(0xb, 'x')], { code: 1002, reason: 'bad opc' }],
    ['control opcode 0xf', [encodeFrame(0xf, 'x')], { code: 1002, reason: 'bad opc' }],
    ['a continuation with no message started', [cont('x')], { code: 1002, reason: 'bad cont' }],
    ['a new text message inside a fragmented one', [text('{', { fin: false }), text('{}')],
      { code: 1002, reason: 'bad cont' }],
    ['a 64-bit length with its top bit set', [bytes(0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1)],
      { code: 1002, reason: 'protocol_error: refused by the WebSocket parser' }],
    ['a message over max_ws_message_bytes in one frame', [text(Buffer.alloc(65537, 0x20))],
      { code: 1009, reason: 'message_too_big: the message is over max_ws_message_bytes' }],
    ['a message over max_ws_message_bytes in 70 fragments',
      [text(Buffer.alloc(1000, 0x20), { fin: false }),
        ...Array.from({ length: 68 }, () => cont(Buffer.alloc(1000, 0x20), { fin: false })),
        cont(Buffer.alloc(1000, 0x20))],
      { code: 1009, reason: 'message_too_big: the message is over max_ws_message_bytes' }],
  ];
  for (const [name, frames, expected] of refusals)
    it(`${name}: close ${expected.code}`, async () => {
      assert.deepStrictEqual(await closeAfter(server, frames), expected);
      await healthy(server);
    });

  for (const code of [5000, 65535])
    it(`a client close with the invalid code ${code}: close 1002, not echoed`, async () => {
      assert.deepStrictEqual(await closeAfter(server, [encodeFrame(OP.CLOSE, closePayload(code, 'bye'))]),
        { code: 1002, reason: `protocol_error: invalid close code ${code}` });
      await healthy(server);
    });

  // libwebsockets 4.1.6 rewrites these codes to 1002 in the payload before
  // the gateway sees it, and echoes the client's reason (README).
  for (const code of [999, 1004, 1005, 1006, 1012, 1015, 1016, 2999])
    it(`a client close with the code ${code}: close 1002 with the client's reason (libwebsockets)`, async () => {
      assert.deepStrictEqual(await closeAfter(server, [encodeFrame(OP.CLOSE, closePayload(code, 'bye'))]),
        { code: 1002, reason: 'bye' });
      await healthy(server);
    });

  it('a client close with a one-byte payload: close 1002', async () => {
    assert.deepStrictEqual(await closeAfter(server, [encodeFrame(OP.CLOSE, bytes(0x03))]),
      { code: 1002, reason: 'protocol_error: a close payload of one byte' });
    await healthy(server);
  });

  it('a client close whose reason is not UTF-8: close 1007', async () => {
    assert.deepStrictEqual(await closeAfter(server, [encodeFrame(OP.CLOSE, closePayload(1000, bytes(0x62, 0xff)))]),
      { code: 1007, reason: 'invalid_payload: a close reason must be UTF-8' });
    await healthy(server);
  });

  for (const code of [1000, 1001, 1003, 1011, 3000, 4000, 4999])
    it(`a client close with the valid code ${code} is echoed, then the server hangs up`, async () => {
      const ws = await rawWs(server.port, PATH);
      try {
        ws.sendFrame(OP.CLOSE, closePayload(code, 'bye'));
        assert.deepStrictEqual(await ws.serverClose(5000, { reply: false }), { code, reason: 'bye' });
        await ws.waitEnded();
      } finally {
        ws.destroy();
      }
      await healthy(server);
    });

  it('an empty client close is echoed empty', async () => {
    const ws = await rawWs(server.port, PATH);
    try {
      ws.sendFrame(OP.CLOSE);
      const f = await ws.frame((x) => x.opcode === OP.CLOSE);
      assert.equal(f.payload.length, 0);
      await ws.waitEnded();
    } finally {
      ws.destroy();
    }
  });

  it('well-formed fragments, a ping between them, a character split across them: answered', async () => {
    const ws = await rawWs(server.port, PATH);
    try {
      const cmd = Buffer.from(JSON.stringify({ type: 'subscribe', channel: 'hostile.other', ref: 'é' }), 'utf8');
      const cut = cmd.indexOf(0xc3) + 1; // inside the two bytes of é
      ws.send(text(cmd.subarray(0, cut), { fin: false }), encodeFrame(OP.PING, 'are you there'),
        cont(cmd.subarray(cut, cut + 3), { fin: false }), cont(cmd.subarray(cut + 3)));
      const pong = await ws.frame((f) => f.opcode === OP.PONG);
      assert.equal(pong.payload.toString('utf8'), 'are you there');
      await ws.frame((f) => f.opcode === OP.TEXT, 5000, 'the reply');
      assert.deepStrictEqual(texts(ws), [JSON.stringify({ type: 'subscribed', channel: 'hostile.other', ref: 'é' })]);
      ws.sendFrame(OP.CLOSE, closePayload(1000));
      assert.deepStrictEqual(await ws.serverClose(5000, { reply: false }), { code: 1000, reason: '' });
    } finally {
      ws.destroy();
    }
  });

  // libwebsockets 4.1.6 does not look at the mask bit of a client frame: an
  // unmasked frame is read as if masked with a zero key (fixed upstream
  // after 4.3). README, "WebSocket conformance", says so; this pins it.
  it('an unmasked client frame: read as if masked (libwebsockets 4.1.6 limit)', async () => {
    const ws = await rawWs(server.port, PATH);
    try {
      ws.send(text(SUBSCRIBE, { mask: false }));
      await ws.frame((f) => f.opcode === OP.TEXT, 5000, 'the reply');
      assert.deepStrictEqual(texts(ws), [SUBSCRIBED]);
      ws.sendFrame(OP.CLOSE, closePayload(1000));
      assert.deepStrictEqual(await ws.serverClose(5000, { reply: false }), { code: 1000, reason: '' });
    } finally {
      ws.destroy();
    }
    await healthy(server);
  });

  it('every refused socket was let go', async () => {
    await waitForConnections(server.url, 0);
  });
});

describe('ws_ping_timeout_ms', { timeout: 60000 }, () => {
  let server;
  before(async () => {
    server = await startServer({ args: ['--heartbeat-ms', '1000', '--ws-ping-timeout-ms', '700'] });
  });
  after(async () => {
    await server.stop();
  });

  it('a client that never answers a ping: close 1001 "ping_timeout", counted', async () => {
    assert.equal((await metrics(server.url)).streamgate_ws_ping_timeouts_total, 0);
    const ws = await rawWs(server.port, PATH);
    try {
      const ping = await ws.frame((f) => f.opcode === OP.PING, 3000, 'a heartbeat ping');
      const at = Date.now();
      assert.equal(ping.payload.toString('utf8'), 'streamgate');
      assert.deepStrictEqual(await ws.serverClose(3000),
        { code: 1001, reason: 'ping_timeout: no pong within ws_ping_timeout_ms' });
      const waited = Date.now() - at;
      assert.ok(waited >= 600 && waited < 2000, `closed ${waited} ms after the ping`);
      await ws.waitEnded();
    } finally {
      ws.destroy();
    }
    assert.equal((await metrics(server.url)).streamgate_ws_ping_timeouts_total, 1);
    await healthy(server);
  });

  it('a frame cut inside its header: never answers the ping, so close 1001', async () => {
    const ws = await rawWs(server.port, PATH);
    try {
      ws.send(text(Buffer.alloc(1000, 0x20)).subarray(0, 5)); // 0x81, 0xfe, length, one byte of the key
      await ws.frame((f) => f.opcode === OP.PING, 3000, 'a heartbeat ping');
      assert.deepStrictEqual(await ws.serverClose(3000),
        { code: 1001, reason: 'ping_timeout: no pong within ws_ping_timeout_ms' });
    } finally {
      ws.destroy();
    }
    assert.equal((await metrics(server.url)).streamgate_ws_ping_timeouts_total, 2);
    await healthy(server);
  });

  it('a client that answers every ping stays open', async () => {
    const ws = await rawWs(server.port, PATH);
    try {
      for (let seen = 0; seen < 3;) {
        const from = ws.frames.length;
        const ping = await ws.frame((f) => f.opcode === OP.PING, 3000, `heartbeat ping ${seen + 1}`, from);
        ws.sendFrame(OP.PONG, ping.payload);
        seen++;
      }
      assert.equal(ws.frames.some((f) => f.opcode === OP.CLOSE), false);
      ws.sendFrame(OP.CLOSE, closePayload(1000));
      assert.deepStrictEqual(await ws.serverClose(3000, { reply: false }), { code: 1000, reason: '' });
    } finally {
      ws.destroy();
    }
    assert.equal((await metrics(server.url)).streamgate_ws_ping_timeouts_total, 2);
  });
});

describe('body_timeout_ms on WebSocket messages', { timeout: 120000 }, () => {
  let server;
  before(async () => {
    // RSS_ENV: no ASan quarantine (its allocator still keeps more slack,
    // hence the reading after a burst). One worker: the RSS comparison is
    // between two bursts on one loop's allocator arena (two workers would
    // spread them over two)
    server = await startServer({ args: ['--body-timeout-ms', '1000', '--heartbeat-ms', '0', '--workers', '1'], env: RSS_ENV });
  });
  after(async () => {
    await server.stop();
  });

  it('a message whose last fragment never comes: close 1008 after body_timeout_ms', async () => {
    const ws = await rawWs(server.port, PATH);
    try {
      const at = Date.now();
      ws.send(text('{"type":', { fin: false }));
      assert.deepStrictEqual(await ws.serverClose(4000),
        { code: 1008, reason: 'message_timeout: not complete within body_timeout_ms' });
      const waited = Date.now() - at;
      assert.ok(waited >= 900 && waited < 2500, `closed ${waited} ms after the first fragment`);
    } finally {
      ws.destroy();
    }
    await healthy(server);
  });

  it('a single frame cut inside its payload: close 1008 after body_timeout_ms', async () => {
    const ws = await rawWs(server.port, PATH);
    try {
      const at = Date.now();
      ws.send(text(Buffer.alloc(1000, 0x20)).subarray(0, 108)); // header, key, 100 of 1000 bytes
      assert.deepStrictEqual(await ws.serverClose(4000),
        { code: 1008, reason: 'message_timeout: not complete within body_timeout_ms' });
      const waited = Date.now() - at;
      assert.ok(waited >= 900 && waited < 2500, `closed ${waited} ms after the first piece`);
    } finally {
      ws.destroy();
    }
    await healthy(server);
  });

  it('fragments that keep coming but never end are cut at the same deadline', async () => {
    const ws = await rawWs(server.port, PATH);
    try {
      const at = Date.now();
      ws.send(text('[', { fin: false }));
      const drip = setInterval(() => ws.send(cont(' ', { fin: false })), 100);
      try {
        assert.deepStrictEqual(await ws.serverClose(4000),
          { code: 1008, reason: 'message_timeout: not complete within body_timeout_ms' });
      } finally {
        clearInterval(drip);
      }
      const waited = Date.now() - at;
      assert.ok(waited >= 900 && waited < 2500, `closed ${waited} ms after the first fragment`);
    } finally {
      ws.destroy();
    }
  });

  it('a message completed in time is answered, and its timer does not fire later', async () => {
    const ws = await rawWs(server.port, PATH);
    try {
      const cut = SUBSCRIBE.length >> 1;
      ws.send(text(SUBSCRIBE.slice(0, cut), { fin: false }));
      await sleep(300);
      ws.send(cont(SUBSCRIBE.slice(cut)));
      await ws.frame((f) => f.opcode === OP.TEXT, 3000, 'the reply');
      await sleep(1500);
      assert.deepStrictEqual(texts(ws), [SUBSCRIBED]);
      assert.equal(ws.frames.some((f) => f.opcode === OP.CLOSE), false);
      ws.sendFrame(OP.CLOSE, closePayload(1000));
      assert.deepStrictEqual(await ws.serverClose(3000, { reply: false }), { code: 1000, reason: '' });
    } finally {
      ws.destroy();
    }
  });

  // 200 sockets each hold 60,000 bytes of an unfinished message (12 MB in
  // all) until body_timeout_ms cuts them, twice. The C library keeps part
  // of a freed heap for reuse (5 to 12 MB here, varying from run to run), so
  // RSS after a cut is not back at the start; what must hold is that the
  // second burst reuses it: once cut, RSS is at most SLACK over the first
  // burst's peak (README, "WebSocket conformance"). Keeping the messages of
  // a cut socket would put it 12 MB over; SLACK is half that, because
  // ASan's allocator (tests/run.sh runs this file under it too) reuses
  // less eagerly than glibc's (seen: 4.4 MB over, where glibc stays
  // within 2 MB).
  const SOCKETS = 200;
  const MB = 1024 * 1024;
  const SLACK = 6 * MB;
  const burst = async () => {
    const socks = [];
    let peak;
    try {
      for (let i = 0; i < SOCKETS; i++) socks.push(await rawWs(server.port, PATH));
      const part = Buffer.alloc(20000, 0x20);
      for (const ws of socks) ws.send(text(part, { fin: false }), cont(part, { fin: false }), cont(part, { fin: false }));
      await sleep(500); // all read, none cut yet (body_timeout_ms is 1000)
      peak = rssBytes(server.pid);
      const closes = await Promise.all(socks.map((ws) => ws.serverClose(8000)));
      for (const c of closes)
        assert.deepStrictEqual(c, { code: 1008, reason: 'message_timeout: not complete within body_timeout_ms' });
    } finally {
      for (const ws of socks) ws.destroy();
    }
    await waitForConnections(server.url, 0);
    return { peak, after: rssBytes(server.pid) };
  };
  it(`${SOCKETS} half-sent 60 KB messages, twice: all cut with 1008, RSS within 6 MB of the first peak (a leak adds 12)`, async () => {
    const first = await burst();
    const second = await burst();
    const mb = (n) => (n / MB).toFixed(1);
    console.log(`# RSS first burst: peak ${mb(first.peak)} MB, after ${mb(first.after)} MB; ` +
      `second: peak ${mb(second.peak)} MB, after ${mb(second.after)} MB`);
    assert.ok(second.peak <= first.peak + SLACK,
      `RSS ${mb(second.peak)} MB at the second peak, ${mb(first.peak)} MB at the first`);
    assert.ok(second.after <= first.peak + SLACK,
      `RSS ${mb(second.after)} MB after the second cut, ${mb(first.peak)} MB at the first peak`);
    await healthy(server);
  });
});
