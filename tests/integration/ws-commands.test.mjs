// WebSocket commands: subscribe (with and without last_event_id),
// unsubscribe and publish, each answered by one JSON reply that echoes the
// client's "ref"; errors as {"type":"error","error","detail"}; ws_publish
// decides where WebSocket clients may publish. Every socket's whole
// transcript is compared at the end of each test.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { publish, publishEach, request, startServer } from './lib/server.mjs';
import { curl, wsClient } from './lib/clients.mjs';
import { envelope, gapJson, ID_PATTERN, idCompare, samples, withIds } from './lib/messages.mjs';

// The server's details for errors a test provokes (its own wording; the
// README fixes the codes).
const DETAIL = {
  bad_channel: 'channel names are 1 to 128 characters of A-Z a-z 0-9 _ . : -',
  unknown_type: 'type is subscribe, unsubscribe or publish',
  not_subscribed: 'this socket is not subscribed to that channel',
  bad_command: 'publish needs "data"',
  bad_last_event_id: 'last_event_id must be a message id: MS-SEQ, or 0',
  too_many_subscriptions: 'at most 16 channels a connection',
  forbidden: 'this server does not let WebSocket clients publish to that channel (ws_publish)',
};
const error = (code, ref) => JSON.stringify({
  type: 'error', error: code, detail: DETAIL[code], ...(ref === undefined ? {} : { ref }),
});
const reply = (type, channel, ref) => JSON.stringify({ type, channel, ...(ref === undefined ? {} : { ref }) });
const env = (channel, id, data, event = null) => JSON.stringify(envelope(channel, { id, data, event }));

// Sends text (an object is sent as its JSON) and waits until the socket has
// received n more messages; returns those.
async function send(ws, text, n = 1) {
  const before = ws.messages.length;
  ws.ws.send(typeof text === 'string' ? text : JSON.stringify(text));
  await ws.waitCount(before + n, 10000);
  return ws.payloads().slice(before);
}

describe('WebSocket commands', { timeout: 60000 }, () => {
  let server;
  const open = (path) => wsClient(`ws://127.0.0.1:${server.port}${path}`);
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.stop();
  });

  it('subscribe without last_event_id: "subscribed", then live messages of both channels', async () => {
    const ws = await open('/channels/cmd.base?format=json');
    try {
      assert.deepStrictEqual(await send(ws, { type: 'subscribe', channel: 'cmd.sports' }),
        [reply('subscribed', 'cmd.sports')]);
      const goal = await publish(server.url, 'cmd.sports', 'goal');
      const base = await publish(server.url, 'cmd.base', 'base');
      assert.deepStrictEqual([goal.subscribers, base.subscribers], [1, 1]);
      await ws.waitCount(3);
      assert.deepStrictEqual(ws.payloads(), [
        reply('subscribed', 'cmd.sports'), env('cmd.sports', goal.id, 'goal'), env('cmd.base', base.id, 'base'),
      ]);
    } finally {
      await ws.close();
    }
  });

  it('subscribe with last_event_id: the replay after that id, the reply, then live', async () => {
    const msgs = withIds(samples(1, 3), await publishEach(server.url, 'cmd.hist', samples(1, 3), 0));
    const more = withIds(samples(4, 5), await publishEach(server.url, 'cmd.hist2', samples(4, 5), 0));
    const envs = (channel, list) => list.map((m) => env(channel, m.id, m.data, m.event));
    // The README does not order a reply against the replay it starts: the
    // messages (no "type") must be exactly the replay in order, and the
    // typed ones exactly the gap signal (first) and the one reply.
    const subscribe = async (channel, lastEventId, replay, typed) => {
      const got = await send(ws, { type: 'subscribe', channel, last_event_id: lastEventId }, replay.length + typed.length);
      assert.deepStrictEqual(got.filter((x) => JSON.parse(x).type === undefined), replay, `replay of ${channel}`);
      assert.deepStrictEqual(got.filter((x) => JSON.parse(x).type !== undefined), typed, `replies for ${channel}`);
      return got;
    };
    const ws = await open('/channels/cmd.h0?format=json');
    try {
      const t = [];
      t.push(...await subscribe('cmd.hist', msgs[0].id, envs('cmd.hist', msgs.slice(1)), [reply('subscribed', 'cmd.hist')]));
      const live = await publish(server.url, 'cmd.hist', 'live');
      assert.equal(live.subscribers, 1);
      t.push(env('cmd.hist', live.id, 'live'));
      await ws.waitCount(t.length);
      // "0": the whole history of a channel that never evicted
      t.push(...await subscribe('cmd.hist2', '0', envs('cmd.hist2', more), [reply('subscribed', 'cmd.hist2')]));
      // an id from the future: the gap signal, then all the history holds
      const future = '99999999999999-0';
      t.push(...await send(ws, { type: 'unsubscribe', channel: 'cmd.hist' }));
      const gap = await subscribe('cmd.hist', future, [...envs('cmd.hist', msgs), env('cmd.hist', live.id, 'live')],
        [gapJson('cmd.hist', future, msgs[0].id, 'unknown'), reply('subscribed', 'cmd.hist')]);
      assert.equal(gap[0], gapJson('cmd.hist', future, msgs[0].id, 'unknown'), 'the gap signal comes first');
      t.push(...gap);
      assert.deepStrictEqual(ws.payloads(), t);
      assert.equal(t[t.length - gap.length - 1], reply('unsubscribed', 'cmd.hist'));
    } finally {
      await ws.close();
    }
  });

  it('unsubscribe stops a channel; a second unsubscribe is not_subscribed', async () => {
    const ws = await open('/channels/cmd.u1?format=json');
    try {
      const t = [];
      t.push(...await send(ws, { type: 'subscribe', channel: 'cmd.u2' }));
      const a = await publish(server.url, 'cmd.u2', 'a');
      t.push(env('cmd.u2', a.id, 'a'));
      await ws.waitCount(t.length);
      t.push(...await send(ws, { type: 'unsubscribe', channel: 'cmd.u2' }));
      assert.equal((await publish(server.url, 'cmd.u2', 'b')).subscribers, 0);
      const c = await publish(server.url, 'cmd.u1', 'c');
      assert.equal(c.subscribers, 1);
      t.push(env('cmd.u1', c.id, 'c'));
      await ws.waitCount(t.length);
      t.push(...await send(ws, { type: 'unsubscribe', channel: 'cmd.u1' }));
      assert.equal((await publish(server.url, 'cmd.u1', 'd')).subscribers, 0);
      t.push(...await send(ws, { type: 'unsubscribe', channel: 'cmd.u1' }));
      t.push(...await send(ws, { type: 'unsubscribe', channel: 'cmd.never' }));
      assert.deepStrictEqual(ws.payloads(), t);
      assert.deepStrictEqual(t, [
        reply('subscribed', 'cmd.u2'), env('cmd.u2', a.id, 'a'), reply('unsubscribed', 'cmd.u2'),
        env('cmd.u1', c.id, 'c'), reply('unsubscribed', 'cmd.u1'), error('not_subscribed'), error('not_subscribed'),
      ]);
    } finally {
      await ws.close();
    }
  });

  it('publish: acknowledged with id and subscriber count, delivered to the others', async () => {
    const listener = await open('/channels/cmd.chat');
    const sse = curl(`${server.url}/channels/cmd.chat`, { args: ['-H', 'Accept: text/event-stream'], maxTimeS: 30 });
    const publisher = await open('/channels/cmd.elsewhere');
    try {
      await sse.waitHeaders();
      const before = Date.now();
      const [ack] = await send(publisher, { type: 'publish', channel: 'cmd.chat', data: 'hi', event: 'E' });
      const { id } = JSON.parse(ack);
      assert.match(id, ID_PATTERN);
      assert.ok(Number(id.split('-')[0]) >= before, `${id} is from the gateway's clock`);
      assert.equal(ack, JSON.stringify({ type: 'published', channel: 'cmd.chat', id, subscribers: 2 }));
      await listener.waitCount(1);
      assert.deepStrictEqual(listener.payloads(), ['hi']);
      const want = `: ok\n\nid: ${id}\nevent: E\ndata: hi\n\n`;
      assert.equal((await sse.waitBytes(Buffer.byteLength(want))).toString(), want);
      // the id comes from the same sequence as HTTP publishes
      const next = await publish(server.url, 'cmd.chat', 'after');
      assert.equal(next.subscribers, 2);
      assert.equal(idCompare(next.id, id), 1, `${next.id} after ${id}`);
      await listener.waitCount(2);
      assert.deepStrictEqual(listener.payloads(), ['hi', 'after']);
      assert.deepStrictEqual(publisher.payloads(), [ack]);
    } finally {
      await sse.kill();
      await listener.close();
      await publisher.close();
    }
  });

  it('"ref" is echoed exactly: number, string, object, also on errors', async () => {
    const ws = await open('/channels/cmd.ref?format=json');
    try {
      const obj = { k: [1, 'x', null, { n: 2.5 }] };
      const t = [];
      t.push(...await send(ws, { type: 'subscribe', channel: 'cmd.r1', ref: 7 }));
      t.push(...await send(ws, { type: 'subscribe', channel: 'cmd.r2', ref: 'abc "q"' }));
      t.push(...await send(ws, { type: 'unsubscribe', channel: 'cmd.r2', ref: obj }));
      t.push(...await send(ws, { type: 'dance', ref: -3 }));
      t.push(...await send(ws, { type: 'unsubscribe', channel: 'cmd.r2', ref: [obj] }));
      const [pub] = await send(ws, { type: 'publish', channel: 'cmd.nobody', data: 'x', ref: 'p1' });
      const { id } = JSON.parse(pub);
      t.push(pub);
      assert.deepStrictEqual(ws.payloads(), t);
      assert.deepStrictEqual(t, [
        reply('subscribed', 'cmd.r1', 7), reply('subscribed', 'cmd.r2', 'abc "q"'), reply('unsubscribed', 'cmd.r2', obj),
        error('unknown_type', -3), error('not_subscribed', [obj]),
        JSON.stringify({ type: 'published', channel: 'cmd.nobody', id, subscribers: 0, ref: 'p1' }),
      ]);
    } finally {
      await ws.close();
    }
  });

  it('a command that parses but has no (string) type still echoes its "ref"', async () => {
    // README: "each gets one JSON reply, echoing the client's optional ref"
    const ws = await open('/channels/cmd.noref?format=json');
    try {
      assert.deepStrictEqual(await send(ws, { channel: 'cmd.x', ref: 9 }),
        [JSON.stringify({ type: 'error', error: 'bad_json', detail: 'a command needs a "type"', ref: 9 })]);
      assert.deepStrictEqual(await send(ws, { type: 5, channel: 'cmd.x', ref: 'r' }),
        [JSON.stringify({ type: 'error', error: 'bad_json', detail: 'type, channel, last_event_id and event must be strings', ref: 'r' })]);
    } finally {
      await ws.close();
    }
  });

  it('errors: exact replies, and the socket keeps working', async () => {
    const ws = await open('/channels/cmd.err?format=json');
    try {
      const badJson = async (text, at) => {
        const [r] = await send(ws, text);
        const { detail, ...rest } = JSON.parse(r);
        assert.deepStrictEqual(Object.keys(JSON.parse(r)), ['type', 'error', 'detail']);
        assert.deepStrictEqual(rest, { type: 'error', error: 'bad_json' });
        assert.ok(detail.startsWith(`invalid JSON at ${at}: `), `detail "${detail}" names ${at}`);
      };
      await badJson('{"type": x}', 'line 1 column 10');
      await badJson('{"type":', 'line 1 column 8');
      await badJson('{\n "type":\n}', 'line 3 column 1');
      const cases = [
        [{ type: 'dance', channel: 'cmd.x' }, error('unknown_type')],
        [{ type: 'subscribe' }, error('bad_channel')],
        [{ type: 'subscribe', channel: 'no way' }, error('bad_channel')],
        [{ type: 'publish', channel: 'a/b', data: 'x' }, error('bad_channel')],
        [{ type: 'subscribe', channel: 'x'.repeat(129) }, error('bad_channel')],
        [{ type: 'unsubscribe', channel: 'cmd.other' }, error('not_subscribed')],
        [{ type: 'publish', channel: 'cmd.x' }, error('bad_command')],
        [{ type: 'subscribe', channel: 'cmd.x', last_event_id: 'abc' }, error('bad_last_event_id')],
      ];
      for (const [cmd, want] of cases) assert.deepStrictEqual(await send(ws, cmd), [want], JSON.stringify(cmd));
      // 16 channels at most: cmd.err and 15 more
      for (let k = 1; k <= 15; k++) {
        assert.deepStrictEqual(await send(ws, { type: 'subscribe', channel: `cmd.m${k}` }), [reply('subscribed', `cmd.m${k}`)]);
      }
      assert.deepStrictEqual(await send(ws, { type: 'subscribe', channel: 'cmd.m16' }), [error('too_many_subscriptions')]);
      // counted before the publish: the message may come before its answer
      const before = ws.messages.length;
      const m = await publish(server.url, 'cmd.m15', 'still here');
      assert.equal(m.subscribers, 1);
      await ws.waitCount(before + 1);
      assert.equal(ws.payloads().at(-1), env('cmd.m15', m.id, 'still here'));
    } finally {
      await ws.close();
    }
  });

  it('a plain socket gets envelopes once it holds a second channel', async () => {
    const ws = await open('/channels/cmd.p1');
    try {
      const one = await publish(server.url, 'cmd.p1', 'one');
      await ws.waitCount(1);
      await send(ws, { type: 'subscribe', channel: 'cmd.p2' });
      const two = await publish(server.url, 'cmd.p1', 'two');
      const three = await publish(server.url, 'cmd.p2', 'three');
      await ws.waitCount(4);
      assert.deepStrictEqual(ws.payloads(), [
        'one', reply('subscribed', 'cmd.p2'), env('cmd.p1', two.id, 'two'), env('cmd.p2', three.id, 'three'),
      ]);
      assert.equal(one.subscribers, 1);
    } finally {
      await ws.close();
    }
  });
});

describe('ws_publish', { timeout: 60000 }, () => {
  for (const [rule, allowed, refused] of [
    ['chat*', ['chat.x', 'chat', 'chatroom'], ['news', 'news.chat']],
    ['news.exact,chat*', ['news.exact', 'chat.y'], ['news', 'news.exact2']],
    ['', [], ['chat.x', 'news']],
  ]) {
    it(`--ws-publish '${rule}': WebSocket publishes to ${allowed.join(', ') || 'nothing'}`, async () => {
      const server = await startServer({ args: ['--ws-publish', rule] });
      const ws = await wsClient(`ws://127.0.0.1:${server.port}/channels/wsp?format=json`);
      try {
        const t = [];
        for (const channel of [...allowed, ...refused]) {
          const [r] = await send(ws, { type: 'publish', channel, data: 'x', ref: channel });
          t.push(r);
          const want = allowed.includes(channel)
            ? JSON.stringify({ type: 'published', channel, id: JSON.parse(r).id, subscribers: 0, ref: channel })
            : error('forbidden', channel);
          assert.equal(r, want);
        }
        assert.deepStrictEqual(ws.payloads(), t);
        // HTTP publishing is not restricted by ws_publish
        for (const channel of refused) {
          const res = await request(server.url, { method: 'POST', path: `/channels/${channel}`, body: 'y' });
          assert.equal(res.status, 200, res.text);
        }
      } finally {
        await ws.close();
        await server.stop();
      }
    });
  }
});
