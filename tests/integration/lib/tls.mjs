// TLS test helpers: a throwaway CA and server certificates made with the
// openssl CLI, and small clients (node's http2 and tls) for exact checks.
// Every wait is bounded.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import tls from 'node:tls';
import { withTimeout } from './server.mjs';

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

// A CA in dir (ca.pem, ca.key). Returns the CA's PEM path.
export function makeCa(dir) {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem',
    '-days', '2', '-subj', '/CN=streamgate test CA'], dir);
  return path.join(dir, 'ca.pem');
}

// A server certificate for 127.0.0.1 and localhost signed by dir's CA,
// written to certFile and keyFile (paths in dir), with serial (hex) and
// common name cn.
export function makeServerCert(dir, { certFile = 'srv.pem', keyFile = 'srv.key', serial = '1001', cn = 'localhost' } = {}) {
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'next.key', '-out', 'next.csr',
    '-subj', `/CN=${cn}`], dir);
  openssl(['x509', '-req', '-in', 'next.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial',
    `0x${serial}`, '-out', 'next.pem', '-days', '2', '-extfile', 'ext.cnf'], dir);
  // renamed into place: a reload never reads half a file
  fs.renameSync(path.join(dir, 'next.key'), path.join(dir, keyFile));
  fs.renameSync(path.join(dir, 'next.pem'), path.join(dir, certFile));
  return { cert: path.join(dir, certFile), key: path.join(dir, keyFile) };
}

// The flags that make a gateway serve TLS on a free port with these files.
export function tlsArgs({ cert, key }) {
  return ['--tls-listen', '127.0.0.1:0', '--tls-cert', cert, '--tls-key', key];
}

// A TLS connection to port: {socket, cert (the peer's), alpn}.
export function tlsConnect(port, ca, { alpn = ['http/1.1'], minVersion } = {}) {
  return withTimeout(new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, ALPNProtocols: alpn, minVersion,
      servername: 'localhost' }, () => resolve({
      socket, cert: socket.getPeerCertificate(), alpn: socket.alpnProtocol,
    }));
    socket.once('error', reject);
  }), 10000, `TLS connection to ${port}`);
}

// An HTTP/2 session (node's http2, a real client) to the TLS port;
// options go to http2.connect.
export function h2Connect(port, ca, settings = {}, options = {}) {
  return withTimeout(new Promise((resolve, reject) => {
    const session = http2.connect(`https://localhost:${port}`, { ca, settings, ...options });
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  }), 10000, `HTTP/2 session to ${port}`);
}

// One request on session: resolves {status, headers, body (Buffer), text}.
export function h2Request(session, { method = 'GET', path: p = '/', headers = {}, body, timeoutMs = 10000 } = {}) {
  return withTimeout(new Promise((resolve, reject) => {
    const req = session.request({ ':method': method, ':path': p, ...headers });
    const parts = [];
    let head;
    req.on('response', (h) => (head = h));
    req.on('data', (d) => parts.push(d));
    req.on('error', reject);
    req.on('end', () => {
      const buf = Buffer.concat(parts);
      resolve({ status: head[':status'], headers: head, body: buf, text: buf.toString('utf8') });
    });
    req.end(body);
  }), timeoutMs, `h2 ${method} ${p}`);
}
