// History bounds and the gap signal. When the history cannot vouch for
// everything after a client's last id, every transport says so before the
// replay ({"type":"gap",...} as an SSE event sg.gap, a JSON line, a JSON
// WebSocket message, and the X-Streamgate-Gap header on HTTP), then replays
// what the history still holds. Bounds: history_count, history_bytes,
// history_age_ms; a process restart ("restarted") and an id from the future
// ("unknown") are gaps too; a channel with nothing left is reclaimed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  expectError, metrics, publish, publishEach, request, startServer, waitFor,
} from './lib/server.mjs';
import { closeStreams, curl, expectStreams, streamsOn } from './lib/clients.mjs';
import {
  chunkedText, envelope, gapJson, idCompare, samples, sseFrame, sseGapFrame, SSE_PRELUDE, withIds,
} from './lib/messages.mjs';

const LONGPOLL_MS = 500;

// The exact X-Streamgate-Gap header value (first_id "none" when the history
// is empty).
const gapHeader = (channel, reason, firstId) => `${channel}; reason=${reason}; first_id=${firstId ?? 'none'}`;

// GET /channels/NAME/info: asserts the exact JSON text of a 200 answer.
async function expectInfo(base, channel, subscribers, history) {
  const res = await request(base, { path: `/channels/${channel}/info` });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers['content-type'], 'application/json');
  assert.equal(res.text, JSON.stringify({ channel, subscribers, history }));
}

// Resumes channel from `from` on every transport. gap: null, or {reason,
// firstId, cursor} (firstId null for an empty history; cursor: the
// gateway's newest id, the long-poll's next cursor when msgs is empty);
// msgs: what the history holds after `from` ({id, data, event}). The
// long-poll comes first and is answered at once with the gap object and
// msgs (or [] after its timeout when there is neither);
// then one subscriber per streaming transport, and a live message published
// once all are in: each stream must be exactly gap, replay, live message.
async function resumeEverywhere(server, channel, from, gap, msgs) {
  const header = gap ? gapHeader(channel, gap.reason, gap.firstId) : undefined;
  const signal = gap ? gapJson(channel, from, gap.firstId, gap.reason) : null;

  const lp = await request(server.url, {
    path: `/channels/${channel}?transport=longpoll&last_event_id=${from}`, timeoutMs: 10000,
  });
  assert.deepStrictEqual(
    [lp.status, lp.headers['content-type'], lp.headers['x-streamgate-gap'], lp.headers['last-event-id']],
    [200, 'application/json', header, msgs.length ? msgs[msgs.length - 1].id : (gap ? gap.cursor : from)], 'long-poll headers');
  assert.equal(lp.text, `[${[...(signal ? [signal] : []), ...msgs.map((m) => JSON.stringify(envelope(channel, m)))].join(',')}]`,
    'long-poll body: the gap object first, then the replay');

  const streams = await streamsOn(server, `/channels/${channel}`, `last_event_id=${from}`);
  const live = { id: (await publish(server.url, channel, 'live')).id, data: 'live', event: null };
  const all = [...msgs, live];
  const lines = (signal ? `${signal}\n` : '') + all.map((m) => `${JSON.stringify(envelope(channel, m))}\n`).join('');
  await expectStreams(streams, {
    header,
    chunked: chunkedText(all),
    chunkedJson: lines,
    ndjson: lines,
    sse: SSE_PRELUDE + (signal ? sseGapFrame(channel, from, gap.firstId, gap.reason) : '') + all.map(sseFrame).join(''),
    ws: [...(signal ? [signal] : []), ...all.map((m) => m.data)],
    wsJson: [...(signal ? [signal] : []), ...all.map((m) => JSON.stringify(envelope(channel, m)))],
  });
}

// Publishes samples first..first+n-1 to channel, each reaching
// `subscribers`; returns them with their ids.
async function publishSamples(server, channel, n, { first = 1, subscribers = 0 } = {}) {
  const msgs = samples(first, first + n - 1);
  return withIds(msgs, await publishEach(server.url, channel, msgs, subscribers));
}

describe('history bounds and gap signals', { timeout: 120000 }, () => {
  it('--history-count 5: resuming from the 1st of 8 says "evicted", then replays 4..8', async () => {
    const server = await startServer({ args: ['--history-count', '5', '--longpoll-timeout-ms', String(LONGPOLL_MS)] });
    try {
      const msgs = await publishSamples(server, 'hc', 8);
      await expectInfo(server.url, 'hc', 0, { count: 5, bytes: msgs.slice(3).reduce((n, m) => n + Buffer.byteLength(m.data), 0), first_id: msgs[3].id, last_id: msgs[7].id });
      // "0" on a channel that lost messages: the same gap, from "0"
      const zero = await request(server.url, { path: '/channels/hc?transport=longpoll&last_event_id=0' });
      assert.deepStrictEqual([zero.headers['x-streamgate-gap'], zero.headers['last-event-id']],
        [gapHeader('hc', 'evicted', msgs[3].id), msgs[7].id]);
      assert.equal(zero.text, `[${[gapJson('hc', '0', msgs[3].id, 'evicted'), ...msgs.slice(3).map((m) => JSON.stringify(envelope('hc', m)))].join(',')}]`);
      await resumeEverywhere(server, 'hc', msgs[0].id, { reason: 'evicted', firstId: msgs[3].id }, msgs.slice(3));
    } finally {
      await server.stop();
    }
  });

  it('--history-bytes N (the payload bytes of messages 4..8): the same gap and replay', async () => {
    const all = samples(1, 8);
    const bytes = all.slice(3).reduce((n, m) => n + Buffer.byteLength(m.data), 0);
    // 4..8 fit exactly, so message 3 (not empty) cannot stay beside them
    const server = await startServer({ args: ['--history-bytes', String(bytes), '--longpoll-timeout-ms', String(LONGPOLL_MS)] });
    try {
      const msgs = await publishSamples(server, 'hb', 8);
      await expectInfo(server.url, 'hb', 0, { count: 5, bytes, first_id: msgs[3].id, last_id: msgs[7].id });
      await resumeEverywhere(server, 'hb', msgs[0].id, { reason: 'evicted', firstId: msgs[3].id }, msgs.slice(3));
    } finally {
      await server.stop();
    }
  });

  it('--history-age-ms 300: after the sweep the history is empty and resuming says "evicted"', async () => {
    const server = await startServer({ args: ['--history-age-ms', '300', '--longpoll-timeout-ms', String(LONGPOLL_MS)] });
    // a subscriber keeps the channel from being reclaimed once empty
    const keeper = curl(`${server.url}/channels/aged`, { maxTimeS: 60 });
    try {
      await keeper.waitHeaders();
      const msgs = await publishSamples(server, 'aged', 3, { subscribers: 1 });
      // older than 300 ms, then dropped by the once-a-second sweep
      await waitFor(async () => {
        const res = await request(server.url, { path: '/channels/aged/info' });
        return JSON.parse(res.text).history.count === 0;
      }, { timeoutMs: 10000, intervalMs: 100, what: 'the aged history to be swept' });
      await expectInfo(server.url, 'aged', 1, { count: 0, bytes: 0, first_id: null, last_id: msgs[2].id });
      await resumeEverywhere(server, 'aged', msgs[0].id, { reason: 'evicted', firstId: null, cursor: msgs[2].id }, []);
      assert.equal((await keeper.kill()).stdout.toString(), `${chunkedText(msgs)}live\n`);
    } finally {
      await keeper.kill();
      await server.stop();
    }
  });

  it('several channels: one gap signal and one header entry per channel that lost messages', async () => {
    const server = await startServer({ args: ['--history-count', '2', '--longpoll-timeout-ms', String(LONGPOLL_MS)] });
    try {
      const route = ['hx.a', 'hx.b', 'hx.c', 'hx.a', 'hx.b', 'hx.a', 'hx.b'];
      const msgs = [];
      for (const [k, channel] of route.entries()) {
        const { id } = await publish(server.url, channel, `x${k + 1}`);
        msgs.push({ channel, id, data: `x${k + 1}`, event: null });
      }
      // from "0": hx.a and hx.b lost their first message, hx.c lost nothing
      const held = msgs.filter((m, k) => k !== 0 && k !== 1);
      const [firstA, firstB] = [msgs[3].id, msgs[4].id];
      const path = '/channels/hx.a,hx.c,hx.b';
      const header = `${gapHeader('hx.a', 'evicted', firstA)}, ${gapHeader('hx.b', 'evicted', firstB)}`;
      const signals = [gapJson('hx.a', '0', firstA, 'evicted'), gapJson('hx.b', '0', firstB, 'evicted')];
      const env = (m) => JSON.stringify(envelope(m.channel, m));

      const lp = await request(server.url, { path: `${path}?transport=longpoll&last_event_id=0` });
      assert.deepStrictEqual([lp.status, lp.headers['x-streamgate-gap'], lp.headers['last-event-id']],
        [200, header, held[held.length - 1].id]);
      assert.equal(lp.text, `[${[...signals, ...held.map(env)].join(',')}]`);

      const streams = await streamsOn(server, path, 'last_event_id=0');
      const lines = [...signals, ...held.map(env)].map((l) => `${l}\n`).join('');
      await expectStreams(streams, {
        header,
        chunked: lines,
        chunkedJson: lines,
        ndjson: lines,
        sse: SSE_PRELUDE + sseGapFrame('hx.a', '0', firstA, 'evicted') + sseGapFrame('hx.b', '0', firstB, 'evicted')
          + held.map((m) => `id: ${m.id}\ndata: ${env(m)}\n\n`).join(''),
        ws: [...signals, ...held.map(env)],
        wsJson: [...signals, ...held.map(env)],
      });
    } finally {
      await server.stop();
    }
  });

  it('a channel with no subscribers and no history left is reclaimed by the sweep', async () => {
    const server = await startServer({ args: ['--history-age-ms', '300'] });
    let watcher;
    try {
      await publishSamples(server, 'fleeting', 2);
      watcher = curl(`${server.url}/channels/watched`, { maxTimeS: 60 });
      await watcher.waitHeaders();
      await expectInfo(server.url, 'watched', 1, { count: 0, bytes: 0, first_id: null, last_id: null });
      await watcher.kill();
      for (const channel of ['fleeting', 'watched']) {
        const res = await waitFor(async () => {
          const r = await request(server.url, { path: `/channels/${channel}/info` });
          return r.status === 404 ? r : null;
        }, { timeoutMs: 10000, intervalMs: 100, what: `${channel} to be reclaimed` });
        expectError(res, 404, 'no_such_channel');
        expectError(await request(server.url, { method: 'DELETE', path: `/channels/${channel}` }), 404, 'no_such_channel');
      }
    } finally {
      await watcher?.kill();
      await server.stop();
    }
  });

  it('an id from before a restart says "restarted" and replays the new history', async () => {
    const a = await startServer();
    let old;
    try {
      old = (await publishSamples(a, 'rs', 3))[1].id;
    } finally {
      await a.stop();
    }
    const b = await startServer({ args: ['--longpoll-timeout-ms', String(LONGPOLL_MS)] });
    try {
      const msgs = await publishSamples(b, 'rs', 4, { first: 4 });
      await resumeEverywhere(b, 'rs', old, { reason: 'restarted', firstId: msgs[0].id }, msgs);
    } finally {
      await b.stop();
    }
  });

  it('an id from the future says "unknown" and replays the whole history', async () => {
    const server = await startServer({ args: ['--longpoll-timeout-ms', String(LONGPOLL_MS)] });
    try {
      const msgs = await publishSamples(server, 'fut', 4);
      await resumeEverywhere(server, 'fut', '99999999999999-0', { reason: 'unknown', firstId: msgs[0].id }, msgs);
    } finally {
      await server.stop();
    }
  });

  it('last_event_id=0 on a channel that never evicted: no gap, the whole history', async () => {
    const server = await startServer({ args: ['--longpoll-timeout-ms', String(LONGPOLL_MS)] });
    try {
      const msgs = await publishSamples(server, 'whole', 6);
      await resumeEverywhere(server, 'whole', '0', null, msgs);
    } finally {
      await server.stop();
    }
  });

  it('--max-channels 2: the least recently active channel without subscribers is evicted, counted, and a resume from before says "evicted"', async () => {
    // one worker: each worker evicts from its own copy of the channels, and
    // the metric sums them (tests/unit/test_workers.c covers several)
    const server = await startServer({ args: ['--max-channels', '2', '--longpoll-timeout-ms', String(LONGPOLL_MS), '--workers', '1'] });
    const keepers = [];
    try {
      const a1 = (await publish(server.url, 'ev.a', 'a1')).id;
      await publish(server.url, 'ev.a', 'a2');
      await publish(server.url, 'ev.b', 'b1');
      await publish(server.url, 'ev.a', 'a3'); // ev.b is now the oldest
      const c1 = (await publish(server.url, 'ev.c', 'c1')).id;
      expectError(await request(server.url, { path: '/channels/ev.b/info' }), 404, 'no_such_channel');
      assert.equal((await metrics(server.url)).streamgate_channels_evicted_total, 1);
      await publish(server.url, 'ev.b', 'b2'); // evicts ev.a
      assert.equal((await metrics(server.url)).streamgate_channels_evicted_total, 2);
      // ev.a comes back empty (evicting ev.c): the client from a1 is told
      const lp = await request(server.url, { path: `/channels/ev.a?transport=longpoll&last_event_id=${a1}` });
      assert.deepStrictEqual([lp.status, lp.headers['x-streamgate-gap'], lp.text],
        [200, gapHeader('ev.a', 'evicted', null), `[${gapJson('ev.a', a1, null, 'evicted')}]`]);
      assert.ok(idCompare(lp.headers['last-event-id'], c1) > 0, 'the cursor moves past the gap');
      assert.equal((await metrics(server.url)).streamgate_channels_evicted_total, 3);
      // two channels with subscribers: a third is refused, nothing evicted
      for (const channel of ['ev.a', 'ev.b']) {
        const k = curl(`${server.url}/channels/${channel}`, { maxTimeS: 60 });
        keepers.push(k);
        await k.waitHeaders();
      }
      const refused = await request(server.url, { method: 'POST', path: '/channels/ev.d', body: 'd', headers: { 'Content-Type': 'text/plain' } });
      expectError(refused, 503, 'too_many_channels');
      assert.equal((await metrics(server.url)).streamgate_channels_evicted_total, 3);
    } finally {
      for (const k of keepers) await k.kill();
      await server.stop();
    }
  });

  it('16 channels of 24 characters resumed from before the start: the header stays within 512 bytes, the body has every gap', async () => {
    const server = await startServer({ args: ['--longpoll-timeout-ms', String(LONGPOLL_MS)] });
    try {
      const names = Array.from({ length: 16 }, (_, k) => `gap-header-channel-${String(k + 1).padStart(5, '0')}`);
      assert.ok(names.every((n) => n.length === 24));
      const firsts = [];
      for (const n of names) firsts.push((await publish(server.url, n, 'x')).id);
      const old = '1000-0';
      const entries = names.map((n, k) => gapHeader(n, 'restarted', firsts[k]));
      let kept = 0;
      while (kept < 16 && [...entries.slice(0, kept + 1)].join(', ').length <= 512) kept++;
      const left = 16 - kept;
      const header = `${entries.slice(0, kept).join(', ')}, *; truncated=${left}`;
      assert.ok(header.length <= 512 && left > 0, header);
      const path = `/channels/${names.join(',')}`;
      const lp = await request(server.url, { path: `${path}?transport=longpoll&last_event_id=${old}` });
      assert.deepStrictEqual([lp.status, lp.headers['x-streamgate-gap']], [200, header]);
      const body = JSON.parse(lp.text);
      assert.deepStrictEqual(body.slice(0, 16).map((g) => JSON.stringify(g)),
        names.map((n, k) => gapJson(n, old, firsts[k], 'restarted')));
      assert.equal(body.length, 32);
      const streams = await streamsOn(server, path, `last_event_id=${old}`);
      try {
        for (const c of [streams.chunked, streams.chunkedJson, streams.sse, streams.ndjson]) {
          const h = await c.waitHeaders();
          assert.deepStrictEqual([h.status, h.headers['x-streamgate-gap']], [200, header]);
        }
      } finally {
        await closeStreams(streams);
      }
    } finally {
      await server.stop();
    }
  });
});
