// Helpers shared by the hostile-client suite: the gateway must stay
// responsive after each case, idle when nobody asks anything, and bounded
// in memory. Every wait is bounded.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { request, sleep } from '../../integration/lib/server.mjs';

// GET /healthz must answer 200 {"status":"ok"} within withinMs.
export async function assertHealthy(server, withinMs = 1000) {
  const t0 = Date.now();
  const res = await request(server.url, { path: '/healthz', timeoutMs: withinMs });
  assert.equal(res.status, 200);
  assert.equal(res.text, '{"status":"ok"}');
  return Date.now() - t0;
}

// CPU time (user + system) of pid so far, in milliseconds.
export function cpuMs(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return ticks * 10; // USER_HZ is 100 on Linux
}

// CPU the process uses over ms while nobody talks to it.
export async function idleCpuMs(pid, ms = 1000) {
  const before = cpuMs(pid);
  await sleep(ms);
  return cpuMs(pid) - before;
}

// The environment for a server whose RSS a test bounds: under
// AddressSanitizer (tests/run.sh runs the suite under it too) freed memory
// stays resident in its quarantine, 256 MiB by default, so RSS would
// measure that policy, not what the server holds. Other builds ignore it.
export const RSS_ENV = {
  ASAN_OPTIONS: [process.env.ASAN_OPTIONS, 'quarantine_size_mb=0'].filter(Boolean).join(':'),
};
