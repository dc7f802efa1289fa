// Resume under abrupt cuts. For each transport a client reads a stream of
// 10,000 messages published steadily by a few keep-alive publishers, is cut
// off five times at random points (its socket destroyed: curl killed with
// SIGKILL, ws terminate(), the long-poll request's socket destroyed), and
// each time comes back with the last id it saw. In the end it must hold all
// 10,000 exactly once, in id order, and no gap signal may ever appear: the
// history holds everything. The cut points come from a seeded generator
// (SG_TEST_SEED overrides the seed to replay a run).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { metrics, request, startServer, steadyPublisher, waitFor } from './lib/server.mjs';
import { curl, eventSource, longPoll, wsClient } from './lib/clients.mjs';
import { completeLines, firstUnordered, parseSse, prng, randomInt } from './lib/messages.mjs';

const COUNT = 10000;
const CUTS = 5;
const SEED = Number(process.env.SG_TEST_SEED || 0x5eed2024);
const data = (i) => `r${i} ${'.'.repeat(i % 23)}|`;

// CUTS distinct cut points in [1, 80% of COUNT], increasing: the client is
// cut once it has received that many messages in all.
function cutPoints(rng) {
  const points = new Set();
  while (points.size < CUTS) points.add(randomInt(rng, 1, Math.floor(COUNT * 0.8)));
  return [...points].sort((a, b) => a - b);
}

// Counts occurrences of sep in buf without decoding it.
function countOf(buf, sep) {
  let n = 0;
  for (let at = buf.indexOf(sep); at >= 0; at = buf.indexOf(sep, at + sep.length)) n++;
  return n;
}

describe('resume after abrupt cuts, 10,000 messages per transport', { timeout: 600000 }, () => {
  let server;
  before(async () => {
    server = await startServer({
      args: ['--history-count', '20000', '--queue-bytes', '16777216', '--longpoll-timeout-ms', '2000'],
    });
  });
  after(async () => {
    await server.stop();
  });

  // Runs the scenario on channel with connections made by open(from), which
  // returns {count(exact): messages received so far (exact: counted by
// parsing, else a cheap estimate), end(hard):
  // cuts (hard) or closes the connection and resolves with the complete
  // messages it received}. want(entry) is what the client must hold for a
  // published {i, id}.
  async function cutAndResume(t, { channel, seed, open, want }) {
    const rng = prng(seed);
    const points = cutPoints(rng);
    t.diagnostic(`seed ${seed}, cut points ${points.join(', ')}`);
    const got = [];
    let cursor = '0';
    let conn = await open(cursor);
    const pub = steadyPublisher(server.url, channel, { count: COUNT, lanes: 4, data });
    let cutsWhilePublishing = 0;
    for (let seg = 0; seg <= CUTS; seg++) {
      // every connection gets at least one message before it is cut
      const last = seg === CUTS;
      const target = last ? COUNT : Math.max(points[seg], got.length + 1);
      await waitFor(() => got.length + conn.count(last) >= target, {
        timeoutMs: 120000, intervalMs: last ? 20 : randomInt(rng, 1, 8),
        what: `${target} messages on ${channel} (segment ${seg}, have ${got.length} + ${conn.count()})`,
      });
      if (seg < CUTS && pub.published() < COUNT) cutsWhilePublishing++;
      got.push(...(await conn.end(seg < CUTS)));
      if (got.length) cursor = got[got.length - 1].id;
      if (seg < CUTS) conn = await open(cursor);
    }
    const published = await pub.done;
    t.diagnostic(`${cutsWhilePublishing} of ${CUTS} cuts while publishing went on`);
    assert.equal(got.length, COUNT, 'messages held in the end');
    assert.deepStrictEqual(got, published.map(want));
    assert.equal(firstUnordered(got.map((m) => m.id)), -1, 'ids strictly increasing');
  }

  // A curl connection; parse(text) gives the complete messages of its body.
  function curlOpen(channel, args, contentType, sep, parse) {
    return async (from) => {
      const c = curl(`${server.url}/channels/${channel}?last_event_id=${from}${args.query}`,
        { args: args.curl, maxTimeS: 300 });
      return {
        count: (exact) => (exact ? parse(c.stdout().toString('utf8')).length : countOf(c.stdout(), sep)),
        async end(hard) {
          const r = await c.kill(hard ? 'SIGKILL' : 'SIGTERM');
          const head = c.headers();
          assert.ok(head, `response headers before the cut:\n${r.stderr}`);
          assert.equal(head.status, 200);
          assert.equal(head.headers['content-type'], contentType);
          assert.equal(head.headers['x-streamgate-gap'], undefined, 'no gap header');
          return parse(r.stdout.toString('utf8'));
        },
      };
    };
  }

  // JSON envelope lines; a heartbeat (empty line) is skipped, a gap line
  // (or anything else) fails.
  const envelopeLines = (text) => completeLines(text).filter((l) => l !== '').map((l) => {
    const m = JSON.parse(l);
    assert.equal(m.type, undefined, `no control line: ${l}`);
    return m;
  });
  const envelopeOf = (channel) => ({ i, id }) => ({ channel, id, event: null, data: data(i) });

  it('chunked (?format=json for ids), curl killed with SIGKILL', async (t) => {
    const channel = 'cuts.chunked';
    await cutAndResume(t, {
      channel, seed: SEED, want: envelopeOf(channel),
      open: curlOpen(channel, { query: '&format=json', curl: [] }, 'text/plain; charset=utf-8', '\n', envelopeLines),
    });
  });

  it('ndjson, curl killed with SIGKILL', async (t) => {
    const channel = 'cuts.ndjson';
    await cutAndResume(t, {
      channel, seed: SEED + 1, want: envelopeOf(channel),
      open: curlOpen(channel, { query: '&transport=ndjson', curl: [] }, 'application/x-ndjson', '\n', envelopeLines),
    });
  });

  it('SSE over curl (ids parsed from the text, ?last_event_id=), curl killed with SIGKILL', async (t) => {
    const channel = 'cuts.sse';
    const parse = (text) => {
      assert.ok(text === '' || text.startsWith(': ok\n\n'), 'the stream starts with ": ok"');
      return parseSse(text).map((e) => {
        assert.notEqual(e.event, 'sg.gap', `no gap event: ${e.data}`);
        return e;
      });
    };
    await cutAndResume(t, {
      channel, seed: SEED + 2, want: ({ i, id }) => ({ id, event: null, data: data(i) }),
      open: curlOpen(channel, { query: '', curl: ['-H', 'Accept: text/event-stream'] }, 'text/event-stream', '\n\n',
        (text) => parse(text)),
    });
  });

  it('WebSocket (?format=json for ids), terminate()', async (t) => {
    const channel = 'cuts.ws';
    await cutAndResume(t, {
      channel, seed: SEED + 3, want: envelopeOf(channel),
      open: async (from) => {
        const ws = await wsClient(`ws://127.0.0.1:${server.port}/channels/${channel}?format=json&last_event_id=${from}`);
        return {
          count: () => ws.messages.length,
          async end(hard) {
            if (hard) ws.ws.terminate();
            else ws.ws.close(1000);
            const closed = await ws.waitClosed(10000);
            assert.equal(closed.code, hard ? 1006 : 1000);
            return ws.messages.map((m) => {
              assert.equal(m.binary, false);
              const msg = JSON.parse(m.data);
              assert.equal(msg.type, undefined, `no control message: ${m.data}`);
              return msg;
            });
          },
        };
      },
    });
  });

  it('long-poll, the socket of the poll in flight destroyed', async (t) => {
    const channel = 'cuts.longpoll';
    let got = 0;
    await cutAndResume(t, {
      channel, seed: SEED + 4, want: envelopeOf(channel),
      open: async (from) => {
        const lp = longPoll(server.url, channel, { from, want: COUNT - got, maxPolls: COUNT + 10, timeoutMs: 120000 });
        await lp.started;
        return {
          count: () => lp.messages.length,
          async end() {
            const r = await lp.cut();
            assert.deepStrictEqual(r.gaps, [], 'no X-Streamgate-Gap header');
            got += r.messages.length;
            return r.messages;
          },
        };
      },
    });
  });

  it('EventSource reconnects by itself when the server ends its stream (DELETE)', async (t) => {
    // DELETE ends the channel's streams cleanly; the browser-like client
    // comes back after `retry:` with its Last-Event-ID. Messages published
    // after the DELETE are in the channel made anew, which vouches for
    // everything after the id the client saw last: no gap, none lost.
    const channel = 'cuts.eventsource';
    const rng = prng(SEED + 5);
    const points = cutPoints(rng);
    t.diagnostic(`seed ${SEED + 5}, drop points ${points.join(', ')}`);
    const sse = await startServer({ args: ['--history-count', '20000', '--sse-retry-ms', '50'] });
    let es;
    try {
      es = await eventSource(`${sse.url}/channels/${channel}`, { eventNames: ['sg.gap'] });
      let opens = 1;
      es.es.addEventListener('open', () => opens++);
      const pub = steadyPublisher(sse.url, channel, { count: COUNT, lanes: 4, data });
      for (let k = 0; k < CUTS; k++) {
        await waitFor(() => es.events.length >= points[k], { timeoutMs: 120000, what: `${points[k]} events` });
        const res = await request(sse.url, { method: 'DELETE', path: `/channels/${channel}` });
        assert.equal(res.status, 200);
        assert.equal(res.text, JSON.stringify({ channel, deleted: true, subscribers: 1 }));
        await waitFor(() => opens === k + 2, { timeoutMs: 10000, what: `reconnection ${k + 1}` });
      }
      await es.waitCount(COUNT, 120000);
      const published = await pub.done;
      assert.deepStrictEqual(es.events,
        published.map(({ i, id }) => ({ type: 'message', data: data(i), lastEventId: id })));
      assert.equal(opens, CUTS + 1);
      assert.equal((await metrics(sse.url)).streamgate_messages_published_total, COUNT);
    } finally {
      es?.close();
      await sse.stop();
    }
  });
});
