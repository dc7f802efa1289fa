// The embedding examples served by the streamgate command under
// /examples/: firehose, clock, delay and chat, over curl (chunked), SSE and
// WebSocket; and --examples 0 turns them off.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { expectError, request, startServer } from './lib/server.mjs';
import { curl, curlBody, wsClient } from './lib/clients.mjs';
import { completeLines, firehoseChunks, SSE_PRELUDE } from './lib/messages.mjs';

const FIREHOSE = firehoseChunks(3);

describe('examples', { timeout: 60000 }, () => {
  let server;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.stop();
  });

  it('firehose?count=3: the exact chunks over chunked, SSE and WebSocket', async () => {
    const url = `${server.url}/examples/firehose?count=3&interval_ms=10`;
    assert.equal(await curlBody(url), 'HELLO\nCHUNKY MONKEY\nCHUNKY MONKEY\nCHUNKY MONKEY\nGOODBYE!\n');
    // chunks without an id get no id line (an empty one would reset the
    // browser's Last-Event-ID), and no event line
    assert.equal(await curlBody(url, ['-H', 'Accept: text/event-stream']),
      `${SSE_PRELUDE}${FIREHOSE.map((c) => `data: ${c}\n\n`).join('')}`);
    const ws = await wsClient(url.replace('http:', 'ws:'));
    const closed = await ws.waitClosed(10000);
    assert.equal(closed.code, 1000);
    assert.deepStrictEqual(ws.messages, FIREHOSE.map((data) => ({ data, binary: false })));
  });

  it('clock?count=3: three UTC times, then the end', async () => {
    const lines = completeLines(await curlBody(`${server.url}/examples/clock?count=3&interval_ms=50`));
    assert.equal(lines.length, 3, JSON.stringify(lines));
    for (const l of lines) assert.match(l, /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$/);
  });

  it('delay/1 twice at once: /healthz answers while both wait', async () => {
    const order = [];
    const delayed = [1, 2].map((k) => {
      const c = curl(`${server.url}/examples/delay/1`, { maxTimeS: 30 });
      return { c, done: c.done.then((r) => (order.push(`delay ${k}`), r)) };
    });
    for (const d of delayed) await d.c.waitHeaders();
    const health = await request(server.url, { path: '/healthz' });
    order.push('healthz');
    assert.deepStrictEqual([health.status, health.text], [200, '{"status":"ok"}']);
    for (const d of delayed) {
      const r = await d.done;
      assert.deepStrictEqual([r.code, r.stdout.toString()], [0, 'waited 1 s\n']);
    }
    assert.equal(order[0], 'healthz', `completion order: ${order.join(', ')}`);
    assert.deepStrictEqual(order.slice(1).sort(), ['delay 1', 'delay 2']);
  });

  it('delay/0 answers at once; bad arguments are 400 bad_argument', async () => {
    assert.equal(await curlBody(`${server.url}/examples/delay/0`), 'waited 0 s\n');
    for (const p of ['/examples/delay/abc', '/examples/delay/61', '/examples/delay/-1', '/examples/delay/',
      '/examples/delay/1x', '/examples/firehose?count=0', '/examples/firehose?interval_ms=x',
      '/examples/clock?count=-2', '/examples/clock?interval_ms=60001']) {
      expectError(await request(server.url, { path: p }), 400, 'bad_argument');
    }
  });

  it('chat: a WebSocket message reaches both sockets of the room and a curl on its channel', async () => {
    const room = `ws://127.0.0.1:${server.port}/examples/chat/room1`;
    const a = await wsClient(room);
    const b = await wsClient(room);
    const listener = curl(`${server.url}/channels/chat.room1`, { maxTimeS: 30 });
    try {
      await listener.waitHeaders();
      a.ws.send('hi');
      await a.waitCount(1);
      await b.waitCount(1);
      assert.deepStrictEqual([a.payloads(), b.payloads()], [['hi'], ['hi']]);
      assert.equal((await listener.waitBytes(3)).toString(), 'hi\n');
      // and POST /channels/chat.room1 speaks to the room
      const res = await request(server.url, { method: 'POST', path: '/channels/chat.room1', body: 'from http' });
      assert.deepStrictEqual([res.status, JSON.parse(res.text).subscribers], [200, 3]);
      await b.waitCount(2);
      assert.deepStrictEqual(b.payloads(), ['hi', 'from http']);
      assert.equal((await listener.waitBytes(13)).toString(), 'hi\nfrom http\n');
    } finally {
      await listener.kill();
      await a.close();
      await b.close();
    }
  });
});

describe('chat obeys ws_publish, UTF-8 and one room per name', { timeout: 60000 }, () => {
  const FORBIDDEN = '{"type":"error","error":"forbidden","detail":"this server does not let WebSocket clients publish to that channel (ws_publish)"}';
  let server;
  before(async () => {
    server = await startServer({ args: ['--ws-publish', 'chat.open*'] });
  });
  after(async () => {
    await server.stop();
  });

  it('a room name with a comma (or an encoded one) is 400 bad_room, WebSocket close 1008, and subscribes nothing', async () => {
    for (const p of ['/examples/chat/x,secret', '/examples/chat/x%2Csecret', '/examples/chat/,secret', '/examples/chat/x/secret']) {
      expectError(await request(server.url, { path: p }), 400, 'bad_room');
    }
    const ws = await wsClient(`ws://127.0.0.1:${server.port}/examples/chat/x,secret`);
    const closed = await ws.waitClosed(10000);
    assert.equal(closed.code, 1008);
    assert.match(closed.reason, /^bad_room: /);
    // nobody holds "secret": a publish reaches no one
    const res = await request(server.url, { method: 'POST', path: '/channels/secret', body: 'psst' });
    assert.deepStrictEqual([res.status, JSON.parse(res.text).subscribers], [200, 0]);
  });

  it('a room ws_publish does not allow: the sender gets "forbidden", nothing is published', async () => {
    const ws = await wsClient(`ws://127.0.0.1:${server.port}/examples/chat/closed`);
    try {
      ws.ws.send('hi');
      await ws.waitCount(1);
      assert.deepStrictEqual(ws.messages, [{ data: FORBIDDEN, binary: false }]);
      const info = await request(server.url, { path: '/channels/chat.closed/info' });
      assert.deepStrictEqual(JSON.parse(info.text).history, { count: 0, bytes: 0, first_id: null, last_id: null });
      assert.equal(JSON.parse(info.text).subscribers, 1);
    } finally {
      await ws.close();
    }
  });

  it('an allowed room: UTF-8 text is published; a binary message closes 1003, a text one that is not UTF-8 1007', async () => {
    const room = `ws://127.0.0.1:${server.port}/examples/chat/open1`;
    const a = await wsClient(room);
    const b = await wsClient(room);
    const c = await wsClient(room);
    try {
      a.ws.send('h\u00e9');
      await b.waitCount(1);
      assert.deepStrictEqual(b.payloads(), ['h\u00e9']);
      c.ws.send(Buffer.from('ok', 'utf8'), { binary: true });
      const closed = await c.waitClosed(10000);
      assert.equal(closed.code, 1003);
      assert.equal(closed.reason, 'unsupported_data: binary messages are not accepted');
      a.ws.send(Buffer.from([0x68, 0xff]), { binary: false });
      assert.equal((await a.waitClosed(10000)).code, 1007);
      const info = await request(server.url, { path: '/channels/chat.open1/info' });
      assert.equal(JSON.parse(info.text).history.count, 1);
    } finally {
      await a.close();
      await b.close();
      await c.close();
    }
  });
});

describe('--examples 0', { timeout: 30000 }, () => {
  it('/examples/... is 404 not_found', async () => {
    const server = await startServer({ args: ['--examples', '0'] });
    try {
      for (const p of ['/examples/firehose', '/examples/clock', '/examples/delay/1', '/examples/chat/room1']) {
        expectError(await request(server.url, { path: p }), 404, 'not_found');
      }
    } finally {
      await server.stop();
    }
  });
});
