// A Redis that answers nonsense: the gateway trusts no byte from Redis. A
// fake Redis (a few lines of RESP below) answers the setup as a real one
// would, then publishes malformed payloads (dropped one by one), a reply
// of the wrong shape (the connection is dropped and made again) and
// answers the publish script with the wrong types; a second one answers
// everything with an integer. The gateway must stay up, deliver only the
// well-formed messages, answer 503 where Redis's answer makes no sense,
// and exit cleanly.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { curl } from '../integration/lib/clients.mjs';
import { expectError, request, startServer, waitFor } from '../integration/lib/server.mjs';

// Parses the RESP arrays of bulk strings a client sends; calls onCommand
// with each as an array of strings.
function respReader(onCommand) {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (!buf.length || buf[0] !== 0x2a) return; // '*'
      let at = buf.indexOf('\r\n');
      if (at < 0) return;
      const n = Number(buf.subarray(1, at).toString());
      let pos = at + 2;
      const args = [];
      for (let i = 0; i < n; i++) {
        at = buf.indexOf('\r\n', pos);
        if (at < 0) return;
        const len = Number(buf.subarray(pos + 1, at).toString());
        if (buf.length < at + 2 + len + 2) return;
        args.push(buf.subarray(at + 2, at + 2 + len).toString('latin1'));
        pos = at + 2 + len + 2;
      }
      buf = buf.subarray(pos);
      onCommand(args);
    }
  };
}

const bulk = (s) => `$${Buffer.byteLength(s, 'latin1')}\r\n${s}\r\n`;
const arr = (...items) => `*${items.length}\r\n${items.join('')}`;

// A fake Redis on a free port; answer(args, sock) returns the reply text.
async function fakeRedis(answer) {
  const socks = new Set();
  const srv = net.createServer((sock) => {
    socks.add(sock);
    sock.on('close', () => socks.delete(sock));
    sock.on('error', () => {});
    sock.on('data', respReader((args) => {
      const reply = answer(args, sock);
      if (reply) sock.write(reply, 'latin1');
    }));
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    port: srv.address().port,
    close: () => new Promise((resolve) => {
      for (const s of socks) s.destroy();
      srv.close(resolve);
    }),
  };
}

describe('a Redis that answers nonsense', { timeout: 60000 }, () => {
  it('malformed pubsub payloads and publish replies: only the well-formed messages are delivered, a wrong shape reconnects, publishes get 503', async () => {
    const subs = [];
    const fake = await fakeRedis((args, sock) => {
      const cmd = args[0].toUpperCase();
      if (cmd === 'SCRIPT') return bulk('0123456789012345678901234567890123456789');
      if (cmd === 'PING') return '+PONG\r\n';
      if (cmd === 'SUBSCRIBE') {
        subs.push({ sock, channel: args[1] });
        return arr(bulk('subscribe'), bulk(args[1]), ':1\r\n');
      }
      if (cmd === 'UNSUBSCRIBE') return arr(bulk('unsubscribe'), bulk(args[1]), ':0\r\n');
      if (cmd === 'EVALSHA' && args.includes('meta')) return arr(bulk('e1'), bulk('100-0'));
      if (cmd === 'EVALSHA' && args.includes('read')) {
        // a read: the epoch, the last id, then per channel a gap and
        // entries, one of them malformed
        const n = Number(args[2]) - 1;
        const per = [];
        for (let i = 0; i < n; i++) per.push(bulk(''), arr(arr(bulk('bad id'), arr(bulk('d'), bulk('x')))));
        return arr(bulk('e1'), bulk('100-0'), ...per);
      }
      if (cmd === 'EVALSHA' && args.includes('pub')) return arr(':1\r\n', ':2\r\n'); // wrong types
      if (cmd === 'EVALSHA') return ':7\r\n';
      return '+OK\r\n';
    });
    const server = await startServer({ args: ['--broker', 'redis', '--redis-url', `redis://127.0.0.1:${fake.port}/0`, '--redis-timeout-ms', '500'] });
    try {
      await waitFor(async () => (await request(server.url, { path: '/healthz' })).status === 200, { what: 'healthy on the fake Redis' });
      const sse = curl(`${server.url}/channels/bad`, { args: ['-H', 'Accept: text/event-stream'] });
      await sse.waitHeaders();
      await waitFor(() => subs.length > 0, { what: 'SUBSCRIBE' });
      const { sock, channel } = subs[subs.length - 1];
      const msg = (payload, ch = channel) => arr(bulk('message'), bulk(ch), bulk(payload));
      // payloads that do not parse are dropped, the connection stays
      sock.write([
        msg('garbage'),
        msg('m\ne1\nnot-an-id\n\nx'),
        msg('m\ne1\n101-0\nbad\revent\nx'),
        msg('m\ne1\n0\n\nx'),
        msg('m\ne1\n101-0\n\n\xff\xfe not utf-8'),
        msg('m\ne1\n103-0\n\nwell formed'),
      ].join(''), 'latin1');
      let want = ': ok\n\nid: 103-0\ndata: well formed\n\n';
      assert.equal((await sse.waitBytes(Buffer.byteLength(want))).toString(), want);
      assert.equal(subs.length, 1, 'still the first connection');
      // a reply of the wrong shape drops the connection: the gateway
      // reconnects, subscribes again and goes on
      sock.write(arr(bulk('message'), bulk(channel)), 'latin1');
      await waitFor(() => subs.length === 2, { what: 'a new SUBSCRIBE after the reconnect' });
      await waitFor(async () => (await request(server.url, { path: '/healthz' })).status === 200, { what: 'healthy again' });
      subs[1].sock.write(msg('m\ne1\n104-0\n\nafter the reconnect'), 'latin1');
      want += 'id: 104-0\ndata: after the reconnect\n\n';
      assert.equal((await sse.waitBytes(Buffer.byteLength(want))).toString(), want);
      // a message for a channel nobody subscribed (an overlong name) is
      // ignored (hiredis finds no callback for it)
      subs[1].sock.write(msg('m\ne1\n105-0\n\nx', `sg:c:${'x'.repeat(300)}`) +
        msg('m\ne1\n106-0\n\nlast'), 'latin1');
      want += 'id: 106-0\ndata: last\n\n';
      assert.equal((await sse.waitBytes(Buffer.byteLength(want))).toString(), want);
      assert.equal(subs.length, 2);
      expectError(await request(server.url, { method: 'POST', path: '/channels/bad', body: 'x' }), 503, 'broker_unavailable');
      await sse.kill();
      assert.equal((await request(server.url, { path: '/healthz' })).status, 200);
    } finally {
      await server.stop();
      await fake.close();
    }
  });

  it('integers for everything: the gateway never comes up, says so, and stops cleanly', async () => {
    let commands = 0;
    const fake = await fakeRedis(() => {
      commands++;
      return ':1\r\n';
    });
    const server = await startServer({ args: ['--broker', 'redis', '--redis-url', `redis://127.0.0.1:${fake.port}/0`, '--redis-timeout-ms', '500'] });
    try {
      await waitFor(() => commands > 8, { what: 'a few connection attempts' });
      const health = await request(server.url, { path: '/healthz' });
      assert.equal(health.status, 503);
      assert.equal(health.text, '{"status":"degraded","broker":"down"}');
      expectError(await request(server.url, { method: 'POST', path: '/channels/x', body: 'x' }), 503, 'broker_unavailable');
      const live = curl(`${server.url}/channels/x`);
      const head = await live.waitHeaders();
      assert.equal(head.status, 200, 'a live subscriber is served while Redis is away');
      await live.kill();
    } finally {
      await server.stop();
      await fake.close();
    }
  });
});
