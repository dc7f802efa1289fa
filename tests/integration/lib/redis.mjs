// A real redis-server for the redis broker's tests: started by the test on
// a free loopback port in a temporary directory, stopped by it. Commands go
// through the real redis-cli. Every wait is bounded.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { exited, freePort, tempDir, waitFor, withTimeout } from './server.mjs';

export const HAVE_REDIS = spawnSync('redis-server', ['--version']).status === 0 &&
  spawnSync('redis-cli', ['--version']).status === 0;

// Runs redis-cli against port; returns its stdout trimmed (raw replies, one
// per line). Rejects when it fails.
export async function redisCli(port, ...args) {
  const proc = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  proc.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  const { code } = await withTimeout(exited(proc), 10000, `redis-cli ${args.join(' ')}`);
  assert.equal(code, 0, `redis-cli ${args.join(' ')}: ${err}`);
  return out.trim();
}

// Starts redis-server: appendonly true keeps data across restarts (AOF,
// fsync always), false keeps nothing; replicaOf: the port of its primary. Returns {port, url, dir, stop(),
// start(), kill(signal), cli(...args), cleanup()}; start() again on the
// same port and directory after stop().
export async function startRedis({ appendonly = false, replicaOf = null } = {}) {
  const port = await freePort();
  const { dir, cleanup } = tempDir('streamgate-redis-');
  let proc = null;
  let log = '';
  const r = {
    port,
    dir,
    url: `redis://127.0.0.1:${port}/0`,
    log: () => log,
    async start() {
      proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
        '--appendonly', appendonly ? 'yes' : 'no', '--appendfsync', 'always', '--dir', dir,
        '--protected-mode', 'no', '--daemonize', 'no',
        ...(replicaOf ? ['--replicaof', '127.0.0.1', String(replicaOf)] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
      proc.stdout.setEncoding('utf8').on('data', (d) => (log += d));
      proc.stderr.setEncoding('utf8').on('data', (d) => (log += d));
      await waitFor(async () => {
        try {
          return (await redisCli(port, 'PING')) === 'PONG';
        } catch {
          return false;
        }
      }, { timeoutMs: 10000, what: `redis-server on ${port}` });
    },
    // SIGTERM: Redis ends cleanly (its AOF written when appendonly).
    async stop(signal = 'SIGTERM') {
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(signal);
      await withTimeout(exited(proc), 10000, 'redis-server exit');
    },
    cli: (...args) => redisCli(port, ...args),
    // SIGSTOP and SIGCONT: a Redis that stops answering without closing.
    signal(sig) {
      if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
    },
    async cleanup() {
      await r.stop('SIGKILL');
      cleanup();
    },
  };
  await r.start();
  return r;
}

// The gateway flags of a node on redis r (one history bound for all).
export function nodeArgs(r, extra = []) {
  return ['--broker', 'redis', '--redis-url', r.url, '--redis-timeout-ms', '500', ...extra];
}

// Waits until base's /healthz answers status (200 ok, 503 degraded).
export async function waitHealth(request, base, status, timeoutMs = 10000) {
  return waitFor(async () => {
    const res = await request(base, { path: '/healthz' });
    return res.status === status ? res : null;
  }, { timeoutMs, what: `/healthz ${status} on ${base}` });
}
