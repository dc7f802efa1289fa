// Hostile https upstreams: a backend (node:tls behind a TCP proxy that can
// write raw bytes to the gateway) that sends garbage records right after
// the handshake, an HTTP answer that is garbage inside good TLS, and a TLS
// alert or garbage record in the middle of a stream. The gateway answers
// 502 or ends the stream with upstream_closed, and stays healthy.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { request, startServer, tempDir } from '../integration/lib/server.mjs';
import { curl } from '../integration/lib/clients.mjs';
import { makeCa, makeServerCert } from '../integration/lib/tls.mjs';
import { assertHealthy } from './lib/hostile.mjs';

const ALERT = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]); // fatal handshake_failure, in clear
const garbage = () => Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x40]), crypto.randomBytes(64)]);

// The proxy's connection now talking to the backend: inject writes raw
// bytes to the gateway and forwards nothing more, then closes.
let current = null;
function inject(bytes) {
  const c = current;
  if (!c) return;
  c.cut = true;
  c.client.write(bytes);
  setTimeout(() => c.client.destroy(), 200);
}

function startBackend(files) {
  const srv = tls.createServer({ key: fs.readFileSync(files.key), cert: fs.readFileSync(files.cert) }, (sock) => {
    let head = '';
    sock.on('error', () => {});
    sock.on('data', (d) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const target = head.split(' ')[1];
      if (target.startsWith('/h/garbage')) {
        inject(garbage());
      } else if (target.startsWith('/h/httpgarbage')) {
        sock.write(Buffer.concat([crypto.randomBytes(200), Buffer.from('\r\n\r\n')]));
      } else {
        sock.write('HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\r\n' +
          '8\r\n{"a":1}\n\r\n');
        setTimeout(() => inject(target.startsWith('/h/alert') ? ALERT : garbage()), 100);
      }
    });
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

function startProxy(backendPort) {
  const srv = net.createServer((client) => {
    const c = { client, cut: false };
    current = c;
    const up = net.connect({ host: '127.0.0.1', port: backendPort });
    client.on('error', () => {});
    up.on('error', () => {});
    client.on('data', (d) => up.write(d));
    up.on('data', (d) => { if (!c.cut) client.write(d); });
    client.on('close', () => up.destroy());
    up.on('close', () => { if (!c.cut) client.destroy(); });
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

describe('hostile https upstreams', { timeout: 60000 }, () => {
  let backend, proxy, server, tmp;
  before(async () => {
    tmp = tempDir('streamgate-uptls-hostile-');
    const ca = makeCa(tmp.dir);
    backend = await startBackend(makeServerCert(tmp.dir));
    proxy = await startProxy(backend.address().port);
    const file = path.join(tmp.dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify({
      upstream_timeout_ms: 2000,
      upstreams: [{ path: '/h/*', url: `https://127.0.0.1:${proxy.address().port}`, tls_ca_file: ca }],
    }));
    server = await startServer({ args: ['--config', file, '--heartbeat-ms', '0'] });
  });
  after(async () => {
    await server?.stop();
    proxy?.close();
    backend?.close();
    tmp?.cleanup();
  });

  it('garbage records right after the handshake: 502 upstream_tls', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await request(server.url, { path: '/h/garbage' });
      assert.equal(r.status, 502);
      assert.equal(JSON.parse(r.text).error, 'upstream_tls');
      await assertHealthy(server);
    }
  });

  it('an HTTP answer that is garbage inside good TLS: 502 bad_upstream_response', async () => {
    const r = await request(server.url, { path: '/h/httpgarbage' });
    assert.equal(r.status, 502);
    assert.equal(JSON.parse(r.text).error, 'bad_upstream_response');
    await assertHealthy(server);
  });

  it('a TLS alert or a garbage record mid-stream: the data so far, upstream_closed, a clean end', async () => {
    for (const p of ['/h/alert', '/h/midgarbage', '/h/alert?again=1']) {
      const c = await curl(`${server.url}${p}`, { args: ['-H', 'Accept: text/event-stream'], maxTimeS: 10 }).done;
      assert.equal(c.code, 0, c.stderr);
      assert.equal(c.stdout.toString(), ': ok\n\ndata: {"a":1}\n\n' +
        'event: error\ndata: {"type":"error","reason":"upstream_closed"}\n\n', p);
      await assertHealthy(server);
    }
  });
});
