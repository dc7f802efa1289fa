// Several requests on one kept-alive connection, one after the other: a
// streamed response that ends (chunked, SSE), a long-poll answered from
// history and one answered by a publish, then plain requests. Each answer is
// exact, and the gateway stays up (under ASan a use of the connection's
// freed state after the answer ends the process).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { publish, startServer, withTimeout } from './lib/server.mjs';

// One raw socket; send() writes a request and resolves with the raw bytes
// once `until` matches what arrived since.
function rawConnection(port) {
  const sock = net.connect(port, '127.0.0.1');
  let buf = '';
  let waiter = null;
  sock.setEncoding('utf8');
  sock.on('data', (d) => {
    buf += d;
    if (waiter && waiter.until.test(buf)) {
      const w = waiter;
      waiter = null;
      const got = buf;
      buf = '';
      w.resolve(got);
    }
  });
  return {
    send(text, until) {
      return withTimeout(new Promise((resolve) => {
        waiter = { until, resolve };
        sock.write(text);
      }), 10000, `answer to ${text.split('\r\n')[0]}`);
    },
    close() {
      sock.destroy();
    },
  };
}

const get = (path, extra = '') => `GET ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`;
const bodyOf = (raw) => raw.slice(raw.indexOf('\r\n\r\n') + 4);

// The payload of a complete chunked body (several queued frames may share a
// chunk: the framing itself is not what is tested). Throws when malformed.
function dechunk(body) {
  let out = '';
  for (let at = 0; ;) {
    const eol = body.indexOf('\r\n', at);
    const size = parseInt(body.slice(at, eol), 16);
    assert.ok(eol > at && Number.isInteger(size), `chunk size at ${at}`);
    if (size === 0) {
      assert.equal(body.slice(eol), '\r\n\r\n', 'the body ends after the last chunk');
      return out;
    }
    out += body.slice(eol + 2, eol + 2 + size);
    assert.equal(body.slice(eol + 2 + size, eol + 4 + size), '\r\n');
    at = eol + 4 + size;
  }
}

describe('kept-alive connections', { timeout: 60000 }, () => {
  let server;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.stop();
  });

  it('streams that end, long-polls and plain requests share one connection', async () => {
    const c = rawConnection(server.port);
    try {
      const fire = await c.send(get('/examples/firehose?count=1&interval_ms=5'), /\r\n0\r\n\r\n$/);
      assert.match(fire, /^HTTP\/1\.1 200 /);
      assert.equal(dechunk(bodyOf(fire)), 'HELLO\nCHUNKY MONKEY\nGOODBYE!\n');

      const { id } = await publish(server.url, 'ka', 'first');
      const lp = await c.send(get('/channels/ka?transport=longpoll&last_event_id=0'), /\]$/);
      assert.match(lp, /\r\nlast-event-id: /i);
      assert.equal(bodyOf(lp), JSON.stringify([{ channel: 'ka', id, event: null, data: 'first' }]));

      const waiting = c.send(get(`/channels/ka?transport=longpoll&last_event_id=${id}`), /\]$/);
      const second = await publish(server.url, 'ka', 'second');
      assert.equal(bodyOf(await waiting),
        JSON.stringify([{ channel: 'ka', id: second.id, event: null, data: 'second' }]));

      const sse = await c.send(get('/examples/firehose?count=1&interval_ms=5', 'Accept: text/event-stream\r\n'),
        /\r\n0\r\n\r\n$/);
      assert.match(sse, /\r\ncontent-type: text\/event-stream\r\n/i);
      assert.equal(dechunk(bodyOf(sse)), ': ok\n\ndata: HELLO\n\ndata: CHUNKY MONKEY\n\ndata: GOODBYE!\n\n');

      const health = await c.send(get('/healthz'), /\{"status":"ok"\}$/);
      assert.equal(bodyOf(health), '{"status":"ok"}');
    } finally {
      c.close();
    }
    // still serving
    const res = await fetch(`${server.url}/healthz`);
    assert.equal(await res.text(), '{"status":"ok"}');
  });
});
