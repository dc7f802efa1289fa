// broker redis: several real gateway nodes on one real redis-server that
// the test starts itself (loopback, a temporary directory). Publish on any
// node, receive on every node and transport byte-exact, once, in one
// order; resume on another node (one channel, and two with one id); a node killed with SIGKILL; Redis
// restarted with its data (nothing lost, 503 and a degraded /healthz
// meanwhile) and without (the `restarted` gap); a node's connections cut
// while others publish (its catch-up); history bounded in Redis; answers
// that wait for Redis, in order, with a client that leaves meanwhile.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  curl, closeStreams, expectStreams, longPoll, ndjsonLines, streamsOn, wsClient,
} from './lib/clients.mjs';
import {
  SSE_PRELUDE, chunkedText, envelope, gapJson, idCompare, parseSse, samples, sseFrame,
  sseGapFrame, withIds, completeLines,
} from './lib/messages.mjs';
import { parseResponses, rawExchange } from './lib/raw.mjs';
import {
  expectError, metrics, publish, request, sleep, startServer, steadyPublisher, tempDir, waitFor,
} from './lib/server.mjs';
import { HAVE_REDIS, nodeArgs, startRedis, waitHealth } from './lib/redis.mjs';
import fs from 'node:fs';
import { h2Connect, h2Request, makeCa, makeServerCert, tlsArgs } from './lib/tls.mjs';

const skip = HAVE_REDIS ? false : 'redis-server and redis-cli are not installed';

// n nodes on redis r, each with extra flags.
async function nodes(r, n, extra = []) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await startServer({ args: nodeArgs(r, extra) }));
  // listening comes before Redis is reached: publishes meanwhile get 503
  for (const s of out) await waitHealth(request, s.url, 200);
  return out;
}

async function stopAll(list) {
  for (const s of list) await s.stop();
}

// Every transport's exact text for msgs on channel (no gap).
function wantAll(channel, msgs) {
  const lines = msgs.map((m) => `${JSON.stringify(envelope(channel, m))}\n`).join('');
  return {
    header: undefined,
    chunked: chunkedText(msgs),
    chunkedJson: lines,
    ndjson: lines,
    sse: SSE_PRELUDE + msgs.map(sseFrame).join(''),
    ws: msgs.map((m) => m.data),
    wsJson: msgs.map((m) => JSON.stringify(envelope(channel, m))),
  };
}

// Publishes samples first..last to channel, message i through
// nodes[i % nodes.length], one after the other; returns them with ids.
async function publishRoundRobin(list, channel, first, last) {
  const msgs = samples(first, last);
  const ids = [];
  for (let i = first; i <= last; i++) ids.push((await publish(list[i % list.length].url, channel, msgs[i - first].body)).id);
  return withIds(msgs, ids);
}

describe('broker redis', { skip, timeout: 300000 }, () => {
  test('an HTTP/2 POST is answered once Redis has the message; a subscriber on another node gets it', async () => {
    const r = await startRedis();
    const tmp = tempDir('streamgate-redis-h2-');
    const ca = fs.readFileSync(makeCa(tmp.dir));
    const tlsNode = await startServer({ tls: true, args: nodeArgs(r, tlsArgs(makeServerCert(tmp.dir))) });
    const [plain] = await nodes(r, 1);
    let session;
    try {
      await waitHealth(request, tlsNode.url, 200);
      const ws = await wsClient(`ws://127.0.0.1:${plain.port}/channels/h2r`);
      session = await h2Connect(tlsNode.tlsPort, ca);
      const answers = await Promise.all([1, 2, 3].map((i) =>
        h2Request(session, { method: 'POST', path: '/channels/h2r', body: `h2 message ${i}` })));
      assert.deepStrictEqual(answers.map((a) => a.status), [200, 200, 200]);
      const got = answers.map((a, k) => ({ data: `h2 message ${k + 1}`, ...JSON.parse(a.text) }));
      assert.deepStrictEqual(got.map((g) => Object.keys(g)), Array(3).fill(['data', 'channel', 'id', 'subscribers']));
      got.sort((a, b) => idCompare(a.id, b.id));
      await ws.waitCount(3);
      assert.deepStrictEqual(ws.payloads(), got.map((g) => g.data));
      await ws.close();
    } finally {
      session?.close();
      await stopAll([tlsNode, plain]);
      await r.stop();
      tmp.cleanup();
    }
  });

  test('10,000 messages published round-robin through three nodes reach every transport on every node: byte-exact, one order, exactly once', async () => {
    const r = await startRedis();
    // history for all of them: a long-poll that falls more than history_count
    // behind under load would get an evicted gap instead of its messages
    const list = await nodes(r, 3, ['--history-count', '20000']);
    try {
      const streams = [];
      for (const s of list) streams.push(await streamsOn(s, '/channels/rr'));
      const poll = longPoll(list[1].url, 'rr', { want: 10000, maxPolls: 20000, timeoutMs: 240000 });
      const msgs = await publishRoundRobin(list, 'rr', 1, 10000);
      const ids = msgs.map((m) => m.id);
      assert.deepStrictEqual([...ids].sort(idCompare), ids, 'ids grow in publish order across nodes');
      assert.equal(new Set(ids).size, 10000);
      for (const st of streams) await expectStreams(st, wantAll('rr', msgs));
      const { messages } = await poll.done;
      assert.deepStrictEqual(messages, msgs.map((m) => envelope('rr', m)));
    } finally {
      await stopAll(list);
      await r.cleanup();
    }
  });

  test('a client resumes on another node with its last id while publishing goes on: the replay joins the live messages with no gap and no duplicate', async () => {
    const r = await startRedis();
    const list = await nodes(r, 3);
    try {
      const first = await publishRoundRobin(list, 'res', 1, 100);
      const from = first[39].id;
      const pub = steadyPublisher(list[2].url, 'res', { count: 400, lanes: 4, data: (i) => `live ${i}` });
      const streams = await streamsOn(list[1], '/channels/res', `last_event_id=${from}`);
      const sse = curl(`${list[0].url}/channels/res`, { args: ['-H', 'Accept: text/event-stream', '-H', `Last-Event-ID: ${from}`] });
      await sse.waitHeaders();
      const live = (await pub.done).map(({ i, id }) => ({ id, data: `live ${i}`, event: null }));
      const all = [...first.slice(40), ...live];
      await expectStreams(streams, wantAll('res', all));
      const text = SSE_PRELUDE + all.map(sseFrame).join('');
      assert.equal((await sse.waitBytes(Buffer.byteLength(text))).toString(), text);
      await sse.kill();
    } finally {
      await stopAll(list);
      await r.cleanup();
    }
  });

  test('kill -9 a node mid-stream: its clients resume on another node with their last id, zero lost, zero duplicated', async () => {
    const r = await startRedis();
    const list = await nodes(r, 3);
    try {
      const victim = list[1];
      const sse = curl(`${victim.url}/channels/k9`, { args: ['-H', 'Accept: text/event-stream'] });
      const json = curl(`${victim.url}/channels/k9?format=json`);
      const ws = await wsClient(`ws://127.0.0.1:${victim.port}/channels/k9?format=json`);
      await sse.waitHeaders();
      await json.waitHeaders();
      const pub = steadyPublisher(list[0].url, 'k9', { count: 600, lanes: 2, data: (i) => `m ${i}` });
      await waitFor(() => pub.published() >= 200, { timeoutMs: 30000, what: '200 published' });
      victim.proc.kill('SIGKILL');
      await sse.done;
      await json.done;
      await ws.waitClosed();
      const got = {
        sse: parseSse(sse.stdout().toString()).map((e) => ({ id: e.id, data: e.data })),
        json: completeLines(json.stdout().toString()).map((l) => JSON.parse(l)).map((e) => ({ id: e.id, data: e.data })),
        ws: ws.payloads().map((p) => JSON.parse(p)).map((e) => ({ id: e.id, data: e.data })),
      };
      for (const k of Object.keys(got)) assert.ok(got[k].length > 0, `${k} got some before the kill`);
      const want = (await pub.done).map(({ i, id }) => ({ id, data: `m ${i}` }));
      const other = list[2];
      const rest = {};
      const last = (k) => got[k][got[k].length - 1].id;
      rest.sse = curl(`${other.url}/channels/k9`, { args: ['-H', 'Accept: text/event-stream', '-H', `Last-Event-ID: ${last('sse')}`] });
      rest.json = curl(`${other.url}/channels/k9?format=json&last_event_id=${last('json')}`);
      rest.ws = await wsClient(`ws://127.0.0.1:${other.port}/channels/k9?format=json&last_event_id=${last('ws')}`);
      for (const k of ['sse', 'json', 'ws']) {
        const need = want.length - got[k].length;
        let more;
        if (k === 'ws') {
          await rest.ws.waitCount(need);
          more = rest.ws.payloads().map((p) => JSON.parse(p));
        } else if (k === 'sse') {
          await waitFor(() => parseSse(rest.sse.stdout().toString()).length >= need, { timeoutMs: 30000, what: `${need} SSE events` });
          more = parseSse(rest.sse.stdout().toString());
        } else {
          await waitFor(() => completeLines(rest.json.stdout().toString()).length >= need, { timeoutMs: 30000, what: `${need} lines` });
          more = completeLines(rest.json.stdout().toString()).map((l) => JSON.parse(l));
        }
        assert.deepStrictEqual([...got[k], ...more.map((e) => ({ id: e.id, data: e.data }))], want, `${k}: all of them, once, in order`);
      }
      await rest.sse.kill();
      await rest.json.kill();
      await rest.ws.close();
      await sse.kill();
      await json.kill();
    } finally {
      await stopAll([list[0], list[2]]);
      await r.cleanup();
    }
  });

  test('redis-server restarted with its data (appendonly): 503 broker_unavailable and a degraded /healthz meanwhile, then ok; subscribers and resuming clients lose nothing', async () => {
    const r = await startRedis({ appendonly: true });
    const list = await nodes(r, 2);
    const [a, b] = list;
    try {
      const streams = await streamsOn(b, '/channels/aof');
      const before = await publishRoundRobin([a], 'aof', 1, 50);
      await r.stop();
      for (const s of list) {
        const res = await waitHealth(request, s.url, 503);
        assert.equal(res.text, '{"status":"degraded","broker":"down"}');
        assert.equal(res.headers['content-type'], 'application/json');
        assert.equal((await metrics(s.url)).streamgate_broker_up, 0);
      }
      expectError(await request(a.url, { method: 'POST', path: '/channels/aof', body: 'lost?' }), 503, 'broker_unavailable');
      expectError(await request(b.url, { path: '/channels/aof/info' }), 503, 'broker_unavailable');
      await r.start();
      for (const s of list) {
        assert.equal((await waitHealth(request, s.url, 200)).text, '{"status":"ok"}');
        assert.equal((await metrics(s.url)).streamgate_broker_up, 1);
      }
      // the outage on stderr: once down (whatever the retries met), once up
      for (const s of list) {
        const said = s.stderr().split('\n').filter((l) => l.startsWith(`streamgate: redis 127.0.0.1:${r.port}: `));
        const workers = Number(process.env.STREAMGATE_WORKERS || 1);
        assert.equal(said.filter((l) => l.endsWith(': up again')).length, workers, s.stderr());
        assert.ok(said.filter((l) => l.endsWith('; publishes get 503 until it is back')).length >= workers, s.stderr());
      }
      const later = await publishRoundRobin(list, 'aof', 51, 100);
      await expectStreams(streams, wantAll('aof', [...before, ...later]));
      const resumed = await streamsOn(a, '/channels/aof', `last_event_id=${before[19].id}`);
      await expectStreams(resumed, wantAll('aof', [...before.slice(20), ...later]));
    } finally {
      await stopAll(list);
      await r.cleanup();
    }
  });

  test('a node whose Redis connections are cut catches up on what other nodes published meanwhile', async () => {
    const r = await startRedis();
    const list = await nodes(r, 2);
    const [a, b] = list;
    try {
      const streams = await streamsOn(b, '/channels/cut');
      const first = await publishRoundRobin([a], 'cut', 1, 10);
      const clients = (await r.cli('CLIENT', 'LIST')).split('\n').filter((l) => l.includes(`name=streamgate-${b.pid}-`));
      assert.ok(clients.length >= 2, `node b's connections: ${clients.join('\n')}`);
      for (const l of clients) await r.cli('CLIENT', 'KILL', 'ID', /\bid=(\d+)/.exec(l)[1]);
      const msgs = samples(11, 60);
      const ids = await Promise.all(msgs.map((m) => publish(a.url, 'cut', m.body).then((x) => x.id)));
      const during = withIds(msgs, ids).sort((x, y) => idCompare(x.id, y.id));
      await waitHealth(request, b.url, 200);
      const last = await publishRoundRobin(list, 'cut', 61, 70);
      await expectStreams(streams, wantAll('cut', [...first, ...during, ...last]));
    } finally {
      await stopAll(list);
      await r.cleanup();
    }
  });

  test('redis-server restarted empty: live subscribers and resuming clients get the restarted gap', async () => {
    const r = await startRedis();
    const list = await nodes(r, 2);
    const [a, b] = list;
    try {
      const sse = curl(`${b.url}/channels/empty`, { args: ['-H', 'Accept: text/event-stream'] });
      await sse.waitHeaders();
      const before = await publishRoundRobin([a], 'empty', 1, 5);
      await r.stop();
      await r.start();
      for (const s of list) await waitHealth(request, s.url, 200);
      const after1 = await publishRoundRobin([a], 'empty', 6, 6);
      const text = SSE_PRELUDE + before.map(sseFrame).join('') +
        sseGapFrame('empty', before[4].id, null, 'restarted') + after1.map(sseFrame).join('');
      assert.equal((await sse.waitBytes(Buffer.byteLength(text))).toString(), text);
      await sse.kill();
      const lp = await request(a.url, { path: `/channels/empty?transport=longpoll&last_event_id=${before[2].id}` });
      assert.equal(lp.status, 200);
      assert.equal(lp.text, `[${gapJson('empty', before[2].id, after1[0].id, 'restarted')},${JSON.stringify(envelope('empty', after1[0]))}]`);
      assert.equal(lp.headers['x-streamgate-gap'], `empty; reason=restarted; first_id=${after1[0].id}`);
      // a stream's head waits for its replay: the gap is in its header too
      const resumed = curl(`${b.url}/channels/empty`, { args: ['-H', 'Accept: text/event-stream', '-H', `Last-Event-ID: ${before[2].id}`] });
      const head = await resumed.waitHeaders();
      assert.equal(head.headers['x-streamgate-gap'], `empty; reason=restarted; first_id=${after1[0].id}`);
      const replay = SSE_PRELUDE + sseGapFrame('empty', before[2].id, after1[0].id, 'restarted') + after1.map(sseFrame).join('');
      assert.equal((await resumed.waitBytes(Buffer.byteLength(replay))).toString(), replay);
      await resumed.kill();
    } finally {
      await stopAll(list);
      await r.cleanup();
    }
  });

  test('Redis keeps history_count messages a channel (XLEN), and info and DELETE read and act on Redis', async () => {
    const r = await startRedis();
    const list = await nodes(r, 2, ['--history-count', '50']);
    const [a, b] = list;
    try {
      const msgs = await publishRoundRobin(list, 'bound', 1, 300);
      assert.equal(await r.cli('XLEN', 'sg:s:bound'), '50');
      const info = JSON.parse((await request(b.url, { path: '/channels/bound/info' })).text);
      const bytes = msgs.slice(250).reduce((n, m) => n + Buffer.byteLength(m.data), 0);
      assert.deepStrictEqual(info, { channel: 'bound', subscribers: 0, history: { count: 50, bytes, first_id: msgs[250].id, last_id: msgs[299].id } });
      const ws = await wsClient(`ws://127.0.0.1:${b.port}/channels/bound`);
      // node b's SUBSCRIBE may still be on its way to Redis when the socket
      // opens (a DELETE before it would not concern this subscriber): one
      // message through node a proves it is in place
      assert.equal((await request(a.url, { method: 'POST', path: '/channels/bound', body: 'probe' })).status, 200);
      await waitFor(() => ws.payloads().at(-1) === 'probe', { timeoutMs: 10000, what: 'the probe on node b' });
      const del = await request(a.url, { method: 'DELETE', path: '/channels/bound' });
      assert.equal(del.status, 200);
      assert.equal(del.text, '{"channel":"bound","deleted":true,"subscribers":0}');
      const closed = await ws.waitClosed(10000);
      assert.equal(closed.code, 1000, 'the subscriber on the other node is closed cleanly');
      assert.equal(await r.cli('EXISTS', 'sg:s:bound'), '0');
      expectError(await request(b.url, { path: '/channels/bound/info' }), 404, 'no_such_channel');
      expectError(await request(a.url, { method: 'DELETE', path: '/channels/bound' }), 404, 'no_such_channel');
    } finally {
      await stopAll(list);
      await r.cleanup();
    }
  });

  test('answers wait for Redis: pipelined publishes answered in order; a stopped Redis gets 503 after redis_timeout_ms; a client that leaves meanwhile costs nothing', async () => {
    const r = await startRedis();
    const [a] = await nodes(r, 1);
    try {
      const one = (i) => `POST /channels/pipe HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${String(i).length}\r\n\r\n${i}`;
      let bytes = '';
      for (let i = 1; i <= 20; i++) bytes += one(i);
      bytes += 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
      const answers = parseResponses(await rawExchange(a.port, bytes, { timeoutMs: 10000 }));
      assert.equal(answers.length, 21);
      const ids = answers.slice(0, 20).map((x) => {
        assert.equal(x.status, 200, x.body);
        return JSON.parse(x.body).id;
      });
      assert.deepStrictEqual([...ids].sort(idCompare), ids, 'answers in request order');
      assert.equal(answers[20].body, '{"status":"ok"}');
      const hist = await request(a.url, { path: '/channels/pipe?transport=longpoll&last_event_id=0' });
      assert.deepStrictEqual(JSON.parse(hist.text).map((m) => m.data), Array.from({ length: 20 }, (_, k) => String(k + 1)));

      r.signal('SIGSTOP');
      const t0 = Date.now();
      const leaving = new AbortController();
      const gone = request(a.url, { method: 'POST', path: '/channels/pipe', body: 'left', signal: leaving.signal });
      gone.catch(() => {});
      await sleep(50);
      leaving.abort();
      expectError(await request(a.url, { method: 'POST', path: '/channels/pipe', body: 'stuck' }), 503, 'broker_unavailable');
      assert.ok(Date.now() - t0 < 5000, 'answered within the timeout and its watchdog');
      assert.equal((await request(a.url, { path: '/healthz' })).status, 503);
      r.signal('SIGCONT');
      await waitHealth(request, a.url, 200);
      assert.equal((await publish(a.url, 'pipe', 'after')).channel, 'pipe');
    } finally {
      r.signal('SIGCONT');
      await a.stop();
      await r.cleanup();
    }
  });

  test('redis_wait_replicas 1: a publish is answered once a replica has it (a burst, a stale id, after NOSCRIPT); a replica that stops answering makes it 503 not_replicated', async () => {
    const r = await startRedis();
    const replica = await startRedis({ replicaOf: r.port });
    // WAIT gets half of redis_timeout_ms: a second, loaded machine or not
    const [a] = await nodes(r, 1, ['--redis-wait-replicas', '1', '--redis-timeout-ms', '2000']);
    try {
      await waitFor(async () => (await replica.cli('INFO', 'replication')).includes('master_link_status:up'),
        { what: 'the replica in sync' });
      const first = await publish(a.url, 'rep', 'one');
      assert.equal(await replica.cli('XLEN', 'sg:s:rep'), '1', 'on the replica when answered');
      replica.signal('SIGSTOP');
      expectError(await request(a.url, { method: 'POST', path: '/channels/rep', body: 'two' }), 503, 'not_replicated');
      replica.signal('SIGCONT');
      const third = await publish(a.url, 'rep', 'three');
      assert.ok(idCompare(first.id, third.id) < 0);
      assert.equal((await request(a.url, { path: '/healthz' })).status, 200, 'a slow replica is not a lost Redis');
      // each WAIT goes right behind its script: 20 publishes at once (20
      // connections), each answered with its own id, all on the replica
      const burst = (await Promise.all(Array.from({ length: 20 }, (_, i) => publish(a.url, 'rep', `b${i}`))))
        .sort((x, y) => idCompare(x.id, y.id));
      assert.ok(idCompare(third.id, burst[0].id) < 0);
      for (let i = 1; i < burst.length; i++) assert.ok(idCompare(burst[i - 1].id, burst[i].id) < 0, 'distinct ids');
      assert.equal(await replica.cli('XLEN', 'sg:s:rep'), '23', 'the burst on the replica when answered');
      // the script's error, not the WAIT's count, answers a refused publish
      expectError(await request(a.url, {
        method: 'POST', path: '/channels/rep', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ data: 'stale', id: first.id }),
      }), 409, 'stale_id');
      // Redis lost its scripts: EVAL again, and a WAIT behind it again
      assert.equal(await r.cli('SCRIPT', 'FLUSH'), 'OK');
      const fourth = await publish(a.url, 'rep', 'four');
      assert.ok(idCompare(burst[burst.length - 1].id, fourth.id) < 0);
      assert.equal(await replica.cli('XLEN', 'sg:s:rep'), '24', 'on the replica after the NOSCRIPT retry');
    } finally {
      replica.signal('SIGCONT');
      await a.stop();
      await replica.cleanup();
      await r.cleanup();
    }
  });

  test('one Last-Event-ID resumes several channels on another node, merged in id order, then live', async () => {
    const r = await startRedis();
    const list = await nodes(r, 2);
    const [a, b] = list;
    const route = ['mc.a', 'mc.b', 'mc.other', 'mc.b', 'mc.a'];
    const publishRouted = async (first, last) => {
      const out = [];
      for (let i = first; i <= last; i++) {
        const m = samples(i, i)[0];
        const channel = route[i % route.length];
        out.push({ channel, id: (await publish(a.url, channel, m.body)).id, data: m.data, event: m.event });
      }
      return out;
    };
    try {
      const before = (await publishRouted(1, 20)).filter((m) => m.channel !== 'mc.other');
      const from = before[5].id;
      const streams = await streamsOn(b, '/channels/mc.a,mc.b', `last_event_id=${from}`);
      const live = (await publishRouted(21, 30)).filter((m) => m.channel !== 'mc.other');
      const all = [...before.slice(6), ...live];
      const env = (m) => JSON.stringify(envelope(m.channel, m));
      const lines = all.map((m) => `${env(m)}\n`).join('');
      await expectStreams(streams, {
        header: undefined, chunked: lines, chunkedJson: lines, ndjson: lines,
        sse: SSE_PRELUDE + all.map((m) => `id: ${m.id}\ndata: ${env(m)}\n\n`).join(''),
        ws: all.map(env), wsJson: all.map(env),
      });
    } finally {
      await stopAll(list);
      await r.cleanup();
    }
  });

  test('a live subscriber on an idle node gets what is published from then on, not what other nodes published long before', async () => {
    const r = await startRedis();
    const list = await nodes(r, 2);
    const [a, b] = list;
    try {
      await publishRoundRobin([a], 'idle', 1, 5); // b hears nothing of it
      await sleep(1500); // past 2 x redis_timeout_ms (500)
      const streams = await streamsOn(b, '/channels/idle');
      const fresh = await publishRoundRobin([a], 'idle', 6, 8);
      await expectStreams(streams, wantAll('idle', fresh));
    } finally {
      await stopAll(list);
      await r.cleanup();
    }
  });

  test('a WebSocket client publishes through one node to subscribers on another', async () => {
    const r = await startRedis();
    const list = await nodes(r, 2);
    try {
      const sub = await wsClient(`ws://127.0.0.1:${list[1].port}/channels/wsx`);
      const pubws = await wsClient(`ws://127.0.0.1:${list[0].port}/channels/other`);
      pubws.ws.send(JSON.stringify({ type: 'publish', channel: 'wsx', data: 'hi there', ref: 7 }));
      await pubws.waitCount(1);
      const ack = JSON.parse(pubws.messages[0].data);
      assert.deepStrictEqual(Object.keys(ack), ['type', 'channel', 'id', 'subscribers', 'ref']);
      assert.equal(ack.type, 'published');
      assert.equal(ack.ref, 7);
      await sub.waitCount(1);
      assert.deepStrictEqual(sub.payloads(), ['hi there']);
      await sub.close();
      await pubws.close();
    } finally {
      await stopAll(list);
      await r.cleanup();
    }
  });
});
