// A rolling restart of two nodes on one Redis under load (README "Rolling
// restarts"): clients reach the nodes only through a small TCP load
// balancer written here (round-robin over the backends whose port accepts),
// a publisher sends a numbered sequence at a steady pace, node A is drained
// with SIGTERM midway, started again on its port (A'), and then B is
// drained. Every client — npm EventSource, the project's www/streamgate.js
// over npm ws, and long-poll loops — must get every message exactly once,
// in order, with no gap signal, and each drained node must exit 0 within
// drain_ms + shutdown_grace_ms.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { EventSource } from 'eventsource';
import {
  WWW, exited, freePort, publishEach, request, sleep, startServer, waitFor, withTimeout,
} from './lib/server.mjs';
import { HAVE_REDIS, nodeArgs, startRedis, waitHealth } from './lib/redis.mjs';
import { firstUnordered } from './lib/messages.mjs';

const DRAIN_MS = 1000;
const GRACE_MS = 2000;
const COUNT = 400; // messages published
const RATE_MS = 10; // one every 10 ms: 100/s
const N_SSE = 8;
const N_WS = 8;
const N_LONGPOLL = 3;
const CHANNEL = 'roll';
const payload = (i) => `seq ${i}`;

// A TCP load balancer on a loopback port: each new client connection goes
// to the next backend (round-robin); a backend that refuses is skipped for
// the next one; the two sockets are then piped both ways. backends: ports.
// perBackend counts the connections each port took.
async function startBalancer(backends) {
  let next = 0;
  const perBackend = new Map(backends.map((p) => [p, 0]));
  const open = new Set();
  const dial = (port) => new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.removeListener('error', reject); resolve(s); });
    s.once('error', reject);
  });
  const server = net.createServer(async (client) => {
    open.add(client);
    client.on('error', () => {}); // a client that leaves while its backend is dialled
    client.pause();
    const start = next++ % backends.length;
    let upstream = null;
    for (let k = 0; k < backends.length && !upstream && !client.destroyed; k++) {
      const port = backends[(start + k) % backends.length];
      try {
        upstream = await dial(port);
        perBackend.set(port, perBackend.get(port) + 1);
      } catch { /* refused: the next backend */ }
    }
    if (!upstream || client.destroyed) {
      upstream?.destroy();
      client.destroy(); // no backend: the client sees a reset, as from a real balancer
      open.delete(client);
      return;
    }
    open.add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    // a clean close passes on as a clean end once what was read is written;
    // a reset on one side resets the other
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.once('close', () => { client.end(); open.delete(upstream); });
    client.once('close', () => { upstream.destroy(); open.delete(client); });
    client.resume();
  });
  await new Promise((resolve, reject) => server.listen(0, '127.0.0.1', resolve).once('error', reject));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    perBackend,
    async close() {
      for (const s of open) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// Publishes payload(1..COUNT), one at a time, one every RATE_MS, each on a
// fresh connection to the node at target (switchTo() changes it between two
// publishes). It waits before message holdAt until release(), so that a
// slow step of the test (a node starting under ASan) cannot let it finish
// before the last drain. Resolves with the ids the gateway gave, in order.
function pacedPublisher(target, holdAt) {
  const ids = [];
  let current = target;
  let stopped = false;
  let switched = null;
  let release;
  const gate = new Promise((resolve) => (release = resolve));
  const run = async () => {
    for (let i = 1; i <= COUNT && !stopped; i++) {
      if (i === holdAt) await gate;
      if (switched) { current = switched.url; switched.resolve(); switched = null; }
      const t = Date.now();
      const res = await request(current, {
        method: 'POST', path: `/channels/${CHANNEL}`, body: payload(i),
        headers: { 'Content-Type': 'text/plain; charset=utf-8' },
      });
      assert.equal(res.status, 200, `publish ${i} to ${current}: ${res.text}`);
      ids.push(JSON.parse(res.text).id);
      await sleep(Math.max(0, RATE_MS - (Date.now() - t)));
    }
    return ids;
  };
  const done = run();
  done.catch(() => {});
  return {
    done,
    published: () => ids.length,
    // Resolves once no publish to the old target is in flight.
    switchTo(url) {
      if (ids.length === holdAt - 1) { // waiting at the gate: nothing in flight
        current = url;
        return Promise.resolve();
      }
      return new Promise((resolve) => (switched = { url, resolve }));
    },
    release,
    stop() { stopped = true; release(); },
  };
}

// An npm EventSource through the balancer; it reconnects by itself, with
// Last-Event-ID and the retry: the gateway sent.
function sseClient(base) {
  const got = [];
  const gaps = [];
  const c = { kind: 'sse', got, gaps, opens: 0, close: () => es.close() };
  const es = new EventSource(`${base}/channels/${CHANNEL}`);
  es.addEventListener('message', (e) => got.push({ id: e.lastEventId, data: e.data }));
  es.addEventListener('sg.gap', (e) => gaps.push(e.data));
  es.addEventListener('open', () => c.opens++);
  c.opened = new Promise((resolve) => es.addEventListener('open', resolve, { once: true }));
  return c;
}

// www/streamgate.js through the balancer, over npm ws.
function jsClient(connect, base) {
  const got = [];
  const gaps = [];
  const ends = [];
  const errors = [];
  const sg = connect(base, { channels: [CHANNEL], transport: 'ws', reconnectMs: 100, maxReconnectMs: 1000 });
  const c = { kind: 'streamgate.js', got, gaps, ends, errors, opens: 0, close: () => sg.close() };
  sg.on('message', (m) => got.push({ id: m.id, data: m.data }));
  sg.on('gap', (g) => gaps.push(JSON.stringify(g)));
  sg.on('end', (e) => ends.push(e.reason));
  sg.on('error', (e) => errors.push(e.code));
  sg.on('open', () => c.opens++);
  c.opened = new Promise((resolve) => sg.on('open', resolve));
  return c;
}

// A long-poll loop through the balancer from cursor '0' (the channel is new
// and empty). A poll that fails without an answer is sent again from the
// same cursor, as a browser would: the balancer can place a connection in
// the accept queue of a node whose drain is closing its listener, and the
// kernel resets what that queue held (counted in unplaced).
function longPollClient(base) {
  const got = [];
  const gaps = [];
  let stopped = false;
  let started;
  const c = { kind: 'longpoll', got, gaps, unplaced: 0, failure: null, close: () => { stopped = true; } };
  c.opened = new Promise((resolve) => (started = resolve));
  const run = async () => {
    let cursor = '0';
    while (!stopped) {
      let res;
      try {
        const p = request(base, { path: `/channels/${CHANNEL}?transport=longpoll&last_event_id=${cursor}`, timeoutMs: 30000 });
        started();
        res = await p;
      } catch {
        c.unplaced++;
        await sleep(50);
        continue;
      }
      assert.equal(res.status, 200, `long-poll: ${res.text}`);
      if (res.headers['x-streamgate-gap'] !== undefined) gaps.push(res.headers['x-streamgate-gap']);
      for (const el of JSON.parse(res.text)) {
        if (el.type === 'gap') gaps.push(JSON.stringify(el));
        else got.push({ id: el.id, data: el.data });
      }
      cursor = res.headers['last-event-id'];
    }
  };
  c.done = run();
  c.done.catch((err) => (c.failure = err.message));
  return c;
}

// SIGTERM to node; asserts exit 0 within drain_ms + shutdown_grace_ms.
async function drain(node) {
  const t0 = Date.now();
  node.proc.kill('SIGTERM');
  const exit = await withTimeout(exited(node.proc), DRAIN_MS + GRACE_MS + 500, 'exit after SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null }, node.stderr());
  return Date.now() - t0;
}

describe('rolling restart of two nodes on Redis behind a load balancer', { skip: !HAVE_REDIS && 'no redis-server', timeout: 90000 }, () => {
  let redis;
  before(async () => { redis = await startRedis(); });
  after(async () => { await redis?.cleanup(); });

  it('every client gets every message once, in order, with no gap', async () => {
    globalThis.WebSocket ??= WebSocket; // streamgate.js uses the page's WebSocket
    const { connect } = await import(pathToFileURL(path.join(WWW, 'streamgate.js')).href);
    const args = nodeArgs(redis, ['--drain-ms', String(DRAIN_MS), '--shutdown-grace-ms', String(GRACE_MS)]);
    const portA = await freePort();
    const nodes = [];
    const clients = [];
    let lb = null;
    let pub = null;
    try {
      let a = await startServer({ args, listen: `127.0.0.1:${portA}` });
      nodes.push(a);
      const b = await startServer({ args });
      nodes.push(b);
      for (const n of [a, b]) await waitHealth(request, n.url, 200);
      lb = await startBalancer([a.port, b.port]);

      for (let k = 0; k < Math.max(N_SSE, N_WS); k++) {
        if (k < N_SSE) clients.push(sseClient(lb.url));
        if (k < N_WS) clients.push(jsClient(connect, lb.url));
      }
      for (let k = 0; k < N_LONGPOLL; k++) clients.push(longPollClient(lb.url));
      await withTimeout(Promise.all(clients.map((c) => c.opened)), 10000, 'every client open');
      // both nodes hold live streams (the balancer placed them round-robin)
      assert.ok(lb.perBackend.get(a.port) >= N_SSE / 2 && lb.perBackend.get(b.port) >= N_SSE / 2,
        `connections per node: ${[...lb.perBackend]}`);

      pub = pacedPublisher(b.url, COUNT * 3 / 4);
      await waitFor(() => pub.published() >= COUNT / 4, { timeoutMs: 20000, what: 'a quarter published' });
      // A drains: its clients are sent away; the balancer reaches only B
      const tookA = await drain(a);
      // A' on A's port, then B drains while the publisher goes to A'
      a = await startServer({ args, listen: `127.0.0.1:${portA}` });
      nodes.push(a);
      await waitHealth(request, a.url, 200);
      await pub.switchTo(a.url);
      const drainedB = drain(b); // SIGTERM sent: the rest is published during B's drain
      pub.release();
      const tookB = await drainedB;

      const ids = await withTimeout(pub.done, 30000, 'the publisher');
      assert.equal(ids.length, COUNT);
      assert.equal(firstUnordered(ids), -1, 'publish ids increase');
      const want = ids.map((id, k) => ({ id, data: payload(k + 1) }));
      for (const c of clients) {
        await waitFor(() => c.got.length >= COUNT, {
          timeoutMs: 15000, what: `${COUNT} messages on a ${c.kind} client (have ${c.got.length})`,
        }).catch(() => {});
      }
      await sleep(200); // nothing more may come
      const report = clients.map((c) => `${c.kind}:${c.got.length}`).join(' ');
      for (const [k, c] of clients.entries()) {
        assert.equal(c.failure ?? null, null, `${c.kind} client ${k}: an answer it did not expect`);
        assert.deepEqual(c.gaps, [], `${c.kind} client ${k}: no gap signal`);
        if (c.ends) assert.deepEqual([c.ends, c.errors], [[], []], `${c.kind} client ${k}: never ended, no error`);
        // each stream was on A or B, and both were drained mid-sequence
        if (c.opens !== undefined) assert.ok(c.opens >= 2, `${c.kind} client ${k} opened ${c.opens} times`);
        assert.equal(c.got.length, COUNT, `${c.kind} client ${k} got ${c.got.length} of ${COUNT} (${report})`);
        assert.deepStrictEqual(c.got, want, `${c.kind} client ${k}: every message once, in order`);
      }
      const opens = clients.filter((c) => c.opens !== undefined).map((c) => c.opens).join(',');
      const unplaced = clients.map((c) => c.unplaced ?? 0).reduce((x, y) => x + y, 0);
      console.log(`# ${clients.length} clients each got ${COUNT} of ${COUNT}; drain A ${tookA} ms, B ${tookB} ms;`
        + ` opens per stream ${opens}; long-polls sent again ${unplaced};`
        + ` balancer connections per port ${JSON.stringify([...lb.perBackend])}`);
    } finally {
      pub?.stop();
      for (const c of clients) c.close();
      await lb?.close();
      for (const n of nodes) if (n.proc.exitCode === null && n.proc.signalCode === null) await n.stop();
    }
  });

  // A node that has just started takes connections before its Redis
  // connections are up; a client that resumes there (as the clients of a
  // drained node do) waits for them instead of being cut.
  it('a resume on a node whose Redis connection is still being made waits for it', async () => {
    const first = await startServer({ args: nodeArgs(redis) });
    let late = null;
    try {
      await waitHealth(request, first.url, 200);
      const [id1, id2, id3] = await publishEach(first.url, 'late', [1, 2, 3].map((i) => ({ body: payload(i) })));
      redis.signal('SIGSTOP'); // the new node's connect cannot complete yet
      late = await startServer({ args: nodeArgs(redis, ['--redis-timeout-ms', '3000']) });
      const poll = request(late.url, { path: `/channels/late?transport=longpoll&last_event_id=${id1}`, timeoutMs: 5000 });
      await sleep(300);
      redis.signal('SIGCONT');
      const res = await poll;
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers['x-streamgate-gap'], undefined);
      assert.deepEqual(JSON.parse(res.text).map((m) => [m.id, m.data]), [[id2, payload(2)], [id3, payload(3)]]);
    } finally {
      redis.signal('SIGCONT');
      await first.stop();
      await late?.stop();
    }
  });
});
