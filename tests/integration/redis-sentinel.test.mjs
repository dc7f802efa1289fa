// broker redis with Sentinel: a primary, two replicas and three sentinels
// (redis-server --sentinel), all real and on loopback ports the test picks.
// A node finds the primary through the sentinels and publishes; the
// primary is killed (SIGKILL); the sentinels promote a replica, the node
// follows (+switch-master) and publishing goes on. The subscriber gets
// messages in id order, once. With redis_wait_replicas 1 every
// acknowledged message is still there after the failover (asserted);
// without, how many are lost is measured and reported (a diagnostic).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { curl } from './lib/clients.mjs';
import { idCompare, parseSse } from './lib/messages.mjs';
import { exited, freePort, request, sleep, startServer, tempDir, waitFor, withTimeout } from './lib/server.mjs';
import { HAVE_REDIS, redisCli, startRedis, waitHealth } from './lib/redis.mjs';

const skip = HAVE_REDIS ? false : 'redis-server and redis-cli are not installed';

// A sentinel watching the primary on primaryPort as "mym" (quorum 2), with
// requirepass when password is given (then redis-cli sends it with -a).
async function startSentinel(primaryPort, { quorum = 2, password = '' } = {}) {
  const port = await freePort();
  const { dir, cleanup } = tempDir('streamgate-sentinel-');
  const conf = path.join(dir, 'sentinel.conf');
  fs.writeFileSync(conf, [
    `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, 'protected-mode no',
    `sentinel monitor mym 127.0.0.1 ${primaryPort} ${quorum}`,
    ...(password ? [`requirepass ${password}`] : []),
    'sentinel down-after-milliseconds mym 500',
    'sentinel failover-timeout mym 3000', '',
  ].join('\n'));
  const proc = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  const auth = password ? ['--no-auth-warning', '-a', password] : [];
  await waitFor(async () => {
    try {
      return (await redisCli(port, ...auth, 'PING')) === 'PONG';
    } catch {
      return false;
    }
  }, { what: `sentinel on ${port}` });
  return {
    port,
    // SENTINEL MASTER mym as {field: value}
    async master() {
      const lines = (await redisCli(port, ...auth, 'SENTINEL', 'MASTER', 'mym')).split('\n');
      const out = {};
      for (let i = 0; i + 1 < lines.length; i += 2) out[lines[i]] = lines[i + 1];
      return out;
    },
    async cleanup() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await withTimeout(exited(proc), 10000, 'sentinel exit');
      cleanup();
    },
  };
}

describe('broker redis with Sentinel', { skip, timeout: 240000 }, () => {
  for (const wait of [1, 0]) test(`the primary killed mid-publishing: the node follows the promoted replica; acknowledged messages lost with redis_wait_replicas ${wait}: ${wait ? 'none' : 'measured'}`, async (t) => {
    const primary = await startRedis();
    const replicas = [await startRedis({ replicaOf: primary.port }), await startRedis({ replicaOf: primary.port })];
    const sentinels = [];
    let node;
    try {
      for (const r of replicas) {
        await waitFor(async () => (await r.cli('INFO', 'replication')).includes('master_link_status:up'),
          { timeoutMs: 20000, what: 'a replica in sync' });
      }
      for (let i = 0; i < 3; i++) sentinels.push(await startSentinel(primary.port));
      await waitFor(async () => {
        for (const s of sentinels) {
          const m = await s.master();
          if (m['num-other-sentinels'] !== '2' || m['num-slaves'] !== '2') return false;
        }
        return true;
      }, { timeoutMs: 30000, what: 'three sentinels that know each other and both replicas' });
      node = await startServer({
        args: ['--broker', 'redis', '--redis-sentinels', sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
          '--redis-master', 'mym', '--redis-wait-replicas', String(wait), '--redis-timeout-ms', '1000'],
      });
      await waitHealth(request, node.url, 200);
      const sse = curl(`${node.url}/channels/fo`, { args: ['-H', 'Accept: text/event-stream'] });
      await sse.waitHeaders();
      const acked = [];
      let refused = 0;
      let last = '';
      const publishOne = async (i) => {
        const res = await request(node.url, { method: 'POST', path: '/channels/fo', body: `m ${i}`, timeoutMs: 10000 });
        if (res.status === 200) acked.push({ id: JSON.parse(res.text).id, data: `m ${i}` });
        else refused++;
        last = res.text;
        return res.status;
      };
      // four publishers at once, all along: the kill lands mid-publishing
      let stop = false;
      let killed = false;
      let ackedAfter = 0;
      const lane = async (k) => {
        for (let n = k; !stop; n += 4) {
          const status = await publishOne(n);
          if (status === 200 && killed) ackedAfter++;
          if (status !== 200) await sleep(50);
        }
      };
      const lanes = [1, 2, 3, 4].map(lane);
      await waitFor(() => acked.length >= 200, { timeoutMs: 30000, what: `200 acknowledged (${last})` });
      await primary.stop('SIGKILL');
      killed = true;
      await waitFor(() => ackedAfter >= 20, { timeoutMs: 60000, what: `publishing again after the failover (${refused} refused)` });
      stop = true;
      await Promise.all(lanes);
      assert.ok(refused > 0, 'publishes during the failover were refused, not acknowledged');
      // the sentinel that did not lead the failover may learn of it later
      await waitFor(async () => {
        const promoted = await sentinels[0].master();
        return replicas.some((r) => String(r.port) === promoted.port);
      }, { timeoutMs: 20000, what: 'a replica named the primary' });
      // every acknowledged message, in id order, once: live and resumed
      await waitFor(() => {
        const got = parseSse(sse.stdout().toString()).map((e) => e.id);
        return acked.slice(-20).every((m) => got.includes(m.id));
      }, { timeoutMs: 20000, what: 'the messages acknowledged after the failover on the live stream' });
      const live = parseSse(sse.stdout().toString());
      const ids = live.map((e) => e.id);
      assert.deepStrictEqual([...ids].sort(idCompare), ids, 'in id order');
      assert.equal(new Set(ids).size, ids.length, 'no duplicate');
      const lp = await request(node.url, { path: '/channels/fo?transport=longpoll&last_event_id=0' });
      const resumed = JSON.parse(lp.text).map((m) => m.id);
      const lost = acked.filter((m) => !resumed.includes(m.id));
      t.diagnostic(`redis_wait_replicas ${wait}: ${acked.length} acknowledged, ${lost.length} of them lost, ${refused} refused`);
      if (wait) assert.deepStrictEqual(lost, [], 'acknowledged messages lost in the failover');
      await sse.kill();
    } finally {
      if (node) await node.stop();
      for (const s of sentinels) await s.cleanup();
      for (const r of replicas) await r.cleanup();
      await primary.cleanup();
    }
  });

  test('sentinels with requirepass: redis_sentinel_password finds the primary; a wrong one or none keeps the node degraded and says why on stderr', async () => {
    const primary = await startRedis();
    const sentinel = await startSentinel(primary.port, { quorum: 1, password: 'sent-pw' });
    const nodes = [];
    const start = async (extra) => {
      const node = await startServer({
        args: ['--broker', 'redis', '--redis-sentinels', `127.0.0.1:${sentinel.port}`, '--redis-master', 'mym',
          '--redis-timeout-ms', '500', ...extra],
      });
      nodes.push(node);
      return node;
    };
    try {
      const good = await start(['--redis-sentinel-password', 'sent-pw']);
      await waitHealth(request, good.url, 200);
      const res = await request(good.url, { method: 'POST', path: '/channels/sa', body: 'through an authenticated sentinel' });
      assert.equal(res.status, 200, res.text);
      assert.equal(await primary.cli('XLEN', 'sg:s:sa'), '1');
      assert.equal(good.stderr().includes('redis'), false, good.stderr());

      for (const [extra, why] of [
        [['--redis-sentinel-password', 'wrong'], 'the sentinel refused AUTH (redis_sentinel_password)'],
        [[], 'the sentinel answered: NOAUTH Authentication required.'],
      ]) {
        const bad = await start(extra);
        const health = await request(bad.url, { path: '/healthz' });
        assert.equal(health.status, 503);
        assert.deepStrictEqual(JSON.parse(health.text), { status: 'degraded', broker: 'down' });
        const pub = await request(bad.url, { method: 'POST', path: '/channels/sa', body: 'x' });
        assert.equal(pub.status, 503);
        assert.equal(JSON.parse(pub.text).error, 'broker_unavailable');
        await waitFor(() => bad.stderr().includes(why), { what: `stderr saying "${why}"` });
        const line = `streamgate: redis (primary "mym" through the sentinels): ${why}; publishes get 503 until it is back\n`;
        // once per worker, however many retries failed the same way
        await sleep(1500);
        const lines = bad.stderr().split(line).length - 1;
        assert.equal(lines, Number(process.env.STREAMGATE_WORKERS || 1), bad.stderr());
        assert.equal(bad.stderr().includes('sent-pw') || bad.stderr().includes('wrong'), false, 'no password on stderr');
      }
      assert.equal(await primary.cli('XLEN', 'sg:s:sa'), '1');
    } finally {
      for (const n of nodes) await n.stop();
      await sentinel.cleanup();
      await primary.cleanup();
    }
  });
});
