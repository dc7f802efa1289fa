// A trusted proxy forwarding a flood of distinct clients (5,000 forged
// X-Forwarded-For values): every one gets a rate bucket, memory stays
// bounded (buckets that have refilled are dropped as new ones come, and the
// table has a fixed cap), and the gateway keeps answering.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { metrics, rssBytes, startServer } from '../integration/lib/server.mjs';
import { connect, parseResponses } from '../integration/lib/raw.mjs';
import { assertHealthy, RSS_ENV } from './lib/hostile.mjs';

const CLIENTS = 5000;
const LANES = 10;

// Posts once for each of CLIENTS forged addresses, pipelined on LANES
// connections; resolves with the status of every answer.
async function flood(port, channel, offset) {
  const lane = async (k) => {
    const sock = await connect(port);
    let text = '';
    sock.on('data', (d) => (text += d.toString('latin1')));
    const closed = new Promise((resolve) => sock.on('close', resolve));
    let reqs = '';
    for (let i = k; i < CLIENTS; i += LANES) {
      const n = i + offset;
      const last = i + LANES >= CLIENTS;
      reqs += `POST /channels/${channel} HTTP/1.1\r\nHost: gw\r\nContent-Type: text/plain\r\n` +
        `X-Forwarded-For: 10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}\r\n` +
        `Content-Length: 1\r\n${last ? 'Connection: close\r\n' : ''}\r\nx`;
    }
    sock.write(reqs);
    await closed;
    return parseResponses(text).map((r) => r.status);
  };
  return (await Promise.all(Array.from({ length: LANES }, (_, k) => lane(k)))).flat();
}

describe('a flood of forwarded clients', { timeout: 120000 }, () => {
  const servers = [];
  after(async () => {
    for (const s of servers) await s.stop();
  });

  it('buckets that refilled are dropped: the table stays small and RSS flat', async () => {
    const server = await startServer({
      env: RSS_ENV, args: ['--trusted-proxies', '127.0.0.1', '--publish-rate', '1000', '--publish-burst', '1', '--history-count', '1'],
    });
    servers.push(server);
    await flood(server.port, 'flood.warm', 1 << 20); // the allocator's pools
    const rss0 = rssBytes(server.pid);
    const statuses = await flood(server.port, 'flood', 0);
    assert.equal(statuses.length, CLIENTS);
    assert.ok(statuses.every((s) => s === 200), 'every forged client publishes once');
    const m = await metrics(server.url);
    assert.ok(m.streamgate_rate_limit_keys < CLIENTS / 2, `keys held: ${m.streamgate_rate_limit_keys}`);
    assert.equal(m.streamgate_rate_limited_total, 0);
    const grew = rssBytes(server.pid) - rss0;
    assert.ok(grew < 8 << 20, `RSS grew ${grew} bytes`);
    await assertHealthy(server);
  });

  it('buckets still in use are all kept, each one small', async () => {
    const server = await startServer({
      env: RSS_ENV, args: ['--trusted-proxies', '127.0.0.1', '--publish-rate', '1', '--publish-burst', '1', '--history-count', '1'],
    });
    servers.push(server);
    await flood(server.port, 'flood.warm', 1 << 20);
    const rss0 = rssBytes(server.pid);
    const statuses = await flood(server.port, 'flood', 0);
    assert.ok(statuses.every((s) => s === 200), 'every forged client publishes once');
    const m = await metrics(server.url);
    assert.equal(m.streamgate_rate_limit_keys, 2 * CLIENTS);
    const grew = rssBytes(server.pid) - rss0;
    assert.ok(grew < 8 << 20, `RSS grew ${grew} bytes for ${CLIENTS} buckets`);
    await assertHealthy(server);
    // the same forged client again is refused: its bucket was kept
    const again = await flood(server.port, 'flood', 0);
    assert.equal(again.filter((s) => s === 429).length, LANES, 'each lane ends at its first 429');
  });
});
