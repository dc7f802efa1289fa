// --workers 2: two service loops share the port, and the kernel spreads
// connections over them. The gateway must still act as one: one id order,
// every publish reaching every subscriber whichever loop holds it, resume
// and info seeing everything published before, DELETE ending subscribers on
// both, and the C API (the chat example publishes with sg_server_publish)
// reaching all. The rest of the suite also runs with STREAMGATE_WORKERS=2.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import {
  expectError, metrics, publish, request, runBinary, startServer, waitForConnections,
} from './lib/server.mjs';
import { curl, wsClient } from './lib/clients.mjs';
import { idCompare, sseText } from './lib/messages.mjs';

// streamgate_worker_connections{worker="N"} of /metrics, as [n0, n1, ...].
async function workerConnections(base) {
  const res = await request(base, { path: '/metrics' });
  const out = [];
  for (const m of res.text.matchAll(/^streamgate_worker_connections\{worker="(\d+)"\} (\d+)$/gm))
    out[Number(m[1])] = Number(m[2]);
  return out;
}

// Waits until the connections are n in all, and asserts both workers hold
// some: with 20 or more the chance that the kernel put all on one is ~1e-6.
async function expectSpread(base, n) {
  await waitForConnections(base, n);
  const per = await workerConnections(base);
  assert.equal(per.length, 2);
  assert.equal(per[0] + per[1], n);
  assert.ok(per[0] > 0 && per[1] > 0, `connections on both workers: ${per}`);
}

describe('two workers', { timeout: 180000 }, () => {
  let server;
  before(async () => {
    server = await startServer({ args: ['--workers', '2', '--longpoll-timeout-ms', '1000'] });
  });
  after(async () => {
    await server.stop();
  });

  it('metrics count the workers and sum their connections exactly', async () => {
    const m = await metrics(server.url);
    assert.equal(m.streamgate_workers, 2);
    const subs = [];
    try {
      for (let i = 0; i < 24; i++) subs.push(curl(`${server.url}/channels/spread`, { maxTimeS: 60 }));
      for (const c of subs) await c.waitHeaders();
      await expectSpread(server.url, 24);
    } finally {
      for (const c of subs) await c.kill();
    }
    await waitForConnections(server.url, 0);
    assert.deepStrictEqual(await workerConnections(server.url), [0, 0]);
  });

  it('every subscriber, on either worker, gets every message once, in the one id order', async () => {
    const sse = [];
    const ws = [];
    const N = 200;
    try {
      for (let i = 0; i < 16; i++)
        sse.push(curl(`${server.url}/channels/fan`, { args: ['-H', 'Accept: text/event-stream'], maxTimeS: 60 }));
      for (let i = 0; i < 8; i++) ws.push(await wsClient(`${server.url.replace('http:', 'ws:')}/channels/fan`));
      for (const c of sse) await c.waitHeaders();
      await expectSpread(server.url, 24);
      // four publishers at once, each POST on a connection of its own, so
      // that publishes are answered by both workers and race each other
      const answers = [];
      const lane = async (k) => {
        for (let i = k; i <= N; i += 4) {
          const a = await publish(server.url, 'fan', `m${i}`);
          assert.equal(a.subscribers, 24, `subscribers in the answer to m${i}`);
          answers.push({ id: a.id, data: `m${i}`, event: null });
        }
      };
      await Promise.all([1, 2, 3, 4].map(lane));
      answers.sort((a, b) => idCompare(a.id, b.id));
      assert.equal(new Set(answers.map((a) => a.id)).size, N, 'ids are unique');
      const body = sseText(answers);
      for (const c of sse) assert.equal((await c.waitBytes(Buffer.byteLength(body))).toString(), body);
      for (const c of ws) {
        await c.waitCount(N);
        assert.deepStrictEqual(c.payloads(), answers.map((a) => a.data));
      }
    } finally {
      for (const c of sse) await c.kill();
      for (const c of ws) await c.close();
    }
  });

  it('a publish answered by one worker is there for a resume on any worker', async () => {
    let last = '0';
    for (let i = 1; i <= 30; i++) {
      const a = await publish(server.url, 'handoff', `h${i}`);
      const res = await request(server.url, {
        path: `/channels/handoff?transport=longpoll&last_event_id=${last}`,
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers['x-streamgate-gap'], undefined, `no gap at ${i}`);
      assert.deepStrictEqual(JSON.parse(res.text), [{ channel: 'handoff', id: a.id, event: null, data: `h${i}` }]);
      last = a.id;
    }
  });

  it('info and DELETE count the subscribers of every worker; DELETE ends them all', async () => {
    const subs = [];
    try {
      for (let i = 0; i < 20; i++) subs.push(curl(`${server.url}/channels/gone`, { maxTimeS: 60 }));
      for (const c of subs) await c.waitHeaders();
      await expectSpread(server.url, 20);
      const a = await publish(server.url, 'gone', 'last words');
      assert.equal(a.subscribers, 20);
      const info = await request(server.url, { path: '/channels/gone/info' });
      assert.deepStrictEqual(JSON.parse(info.text), {
        channel: 'gone', subscribers: 20, history: { count: 1, bytes: 10, first_id: a.id, last_id: a.id },
      });
      const del = await request(server.url, { method: 'DELETE', path: '/channels/gone' });
      assert.equal(del.status, 200, del.text);
      assert.deepStrictEqual(JSON.parse(del.text), { channel: 'gone', deleted: true, subscribers: 20 });
      for (const c of subs) {
        const r = await c.done;
        assert.deepStrictEqual([r.code, r.stdout.toString()], [0, 'last words\n']);
      }
      await waitForConnections(server.url, 0);
      expectError(await request(server.url, { path: '/channels/gone/info' }), 404, 'no_such_channel');
    } finally {
      for (const c of subs) await c.kill();
    }
  });

  it('the chat example: what members say on either worker reaches every member in one order', async () => {
    const members = [];
    try {
      for (let k = 0; k < 10; k++)
        members.push(await wsClient(`${server.url.replace('http:', 'ws:')}/examples/chat/lobby`));
      await waitForConnections(server.url, 10);
      for (let j = 0; j < 3; j++) for (let k = 0; k < 10; k++) members[k].ws.send(`c${k}-${j}`);
      for (const m of members) await m.waitCount(30);
      const order = members[0].payloads();
      assert.equal(new Set(order).size, 30);
      for (let k = 0; k < 10; k++) {
        assert.deepStrictEqual(members[k].payloads(), order, `member ${k} saw the same order`);
        assert.deepStrictEqual(order.filter((p) => p.startsWith(`c${k}-`)), [`c${k}-0`, `c${k}-1`, `c${k}-2`]);
      }
    } finally {
      for (const m of members) await m.close();
    }
  });
});

describe('the workers setting', { timeout: 30000 }, () => {
  it('0 means one worker per CPU core', async () => {
    const server = await startServer({ args: ['--workers', '0'] });
    try {
      assert.equal((await metrics(server.url)).streamgate_workers, os.availableParallelism());
    } finally {
      await server.stop();
    }
  });

  for (const bad of ['65', '-1', 'two'])
    it(`--workers ${bad} is refused with exit code 2`, async () => {
      const r = await runBinary(['--listen', '127.0.0.1:0', '--workers', bad]);
      assert.deepStrictEqual([r.code, r.stdout, r.stderr],
        [2, '', `streamgate: --workers: expected a whole number from 0 to 64, got "${bad}"\n`]);
    });

  it('the listen address must resolve to IPv4', async () => {
    const r = await runBinary(['--listen', 'no-such-host.invalid:0']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^streamgate: listen: cannot resolve "no-such-host\.invalid" to an IPv4 address: /);
  });
});

