// streamgate --check-config FILE: the file is loaded as a start would load
// it and the start-up checks that need no socket run on it; exit 0 and
// "FILE: ok", or exit 2 with the file, the line of the key at fault and
// why, on stderr. Nothing is served, nothing is bound.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, runBinary, tempDir } from './lib/server.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let tmp;
before(() => { tmp = tempDir('streamgate-check-'); });
after(() => tmp.cleanup());

// Writes lines (joined with \n) to NAME in the temp dir; its path.
function file(name, lines) {
  const p = path.join(tmp.dir, name);
  fs.writeFileSync(p, lines.join('\n') + '\n');
  return p;
}

// --check-config p: the whole outcome
function check(p, env = {}) {
  return runBinary(['--check-config', p], { env });
}

function ok(p) {
  return { code: 0, signal: null, stdout: `${p}: ok\n`, stderr: '' };
}

function bad(text) {
  return { code: 2, signal: null, stdout: '', stderr: `streamgate: ${text}\n` };
}

// Nonzero when something listens on 127.0.0.1:port.
function listening(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

describe('--check-config', () => {
  it('a good file: exit 0, "FILE: ok", and nothing is served', async () => {
    const port = await freePort();
    const p = file('good.json', ['{', `  "listen": "127.0.0.1:${port}",`, '  "max_body_bytes": 4096', '}']);
    const t0 = Date.now();
    assert.deepStrictEqual(await check(p), ok(p));
    assert.ok(Date.now() - t0 < 5000, 'returns at once');
    assert.equal(await listening(port), false);
  });

  it('the shipped configs pass: the package default and the container one', async () => {
    const packaged = fs.readFileSync(path.join(REPO, 'src/packaging/streamgate.json.in'), 'utf8')
      .replace('@CMAKE_INSTALL_FULL_DATADIR@', '/usr/share');
    const p = file('packaged.json', [packaged.trimEnd()]);
    assert.deepStrictEqual(await check(p), ok(p));
    const docker = path.join(REPO, 'docker/streamgate.json');
    assert.deepStrictEqual(await check(docker), ok(docker));
  });

  it('a bad value: the file, the line and the key', async () => {
    const p = file('gw.json', ['{', '  "listen": "127.0.0.1:8080",', '  "max_body_bytes": 0', '}']);
    assert.deepStrictEqual(await check(p),
      bad(`${p}:3: max_body_bytes: expected a whole number from 1 to 1073741824, got "0"`));
  });

  it('an unknown key, invalid JSON, not an object', async () => {
    const p = file('typo.json', ['{', '  "lisen": "127.0.0.1:8080"', '}']);
    assert.deepStrictEqual(await check(p), bad(`${p}:2: unknown key "lisen"`));
    const q = file('json.json', ['{', '  "listen": "127.0.0.1:8080"', '  "www": "x"', '}']);
    assert.deepStrictEqual(await check(q), bad(`${q}:3: invalid JSON: '}' expected near '"www"'`));
    const r = file('array.json', ['[1]']);
    assert.deepStrictEqual(await check(r), bad(`${r}:1: the config must be a JSON object`));
  });

  it('a file that cannot be read', async () => {
    const p = path.join(tmp.dir, 'missing.json');
    assert.deepStrictEqual(await check(p), bad(`${p}: cannot open: No such file or directory`));
  });

  it('secure by default: a non-loopback listen without auth or anonymous_publish', async () => {
    const p = file('open.json', ['{', '  "examples": 0,', '  "listen": "0.0.0.0:8080"', '}']);
    assert.deepStrictEqual(await check(p), bad(`${p}:3: listen 0.0.0.0 is not a loopback address and `
      + 'no authentication is configured: set auth_jwt_alg and its key, or set anonymous_publish '
      + 'explicitly ("*" lets anyone publish, "none" nobody; README "Security")'));
    const q = file('open-chosen.json', ['{', '  "listen": "0.0.0.0:8080",', '  "anonymous_publish": "*"', '}']);
    assert.deepStrictEqual(await check(q), ok(q));
    const r = file('open-auth.json', ['{', '  "listen": "0.0.0.0:8080",', '  "auth_jwt_alg": "HS256",',
      '  "auth_jwt_key": "a-secret-of-some-length"', '}']);
    assert.deepStrictEqual(await check(r), ok(r));
  });

  it('tls_listen needs a certificate and a key that load', async () => {
    const p = file('tls.json', ['{', '  "listen": "127.0.0.1:8080",', '  "tls_listen": "127.0.0.1:8443"', '}']);
    assert.deepStrictEqual(await check(p), bad(`${p}:3: tls_listen needs tls_cert and tls_key (PEM files)`));
    const q = file('tls-files.json', ['{', '  "tls_listen": "127.0.0.1:8443",', '  "tls_cert": "/x.pem",', '  "tls_key": "/x.key"', '}']);
    const got = await check(q);
    assert.equal(got.code, 2);
    assert.match(got.stderr, new RegExp(`^streamgate: ${q}:3: tls_cert: cannot load /x\\.pem: .+\n$`));
  });

  it('authentication: an algorithm needs its key; a key file only for RS and ES', async () => {
    const p = file('jwt.json', ['{', '  "auth_jwt_alg": "HS256"', '}']);
    assert.deepStrictEqual(await check(p), bad(`${p}:2: auth_jwt_alg HS256 needs auth_jwt_key (the secret)`));
    const q = file('jwt-file.json', ['{', '  "auth_jwt_alg": "HS256",', `  "auth_jwt_key_file": "${p}"`, '}']);
    assert.deepStrictEqual(await check(q),
      bad(`${q}:3: auth_jwt_key_file is for RS and ES algorithms; HS256 takes auth_jwt_key`));
    const r = file('jwt-alg.json', ['{', '  "auth_jwt_alg": "none"', '}']);
    assert.equal((await check(r)).code, 2);
    assert.match((await check(r)).stderr, new RegExp(`^streamgate: ${r}:2: auth_jwt_alg: expected HS256`));
  });

  it('allowed_origins, anonymous_publish, trusted_proxies, and nothing to listen on', async () => {
    const p = file('cors.json', ['{', '  "allowed_origins": "ftp//x"', '}']);
    assert.deepStrictEqual(await check(p), bad(`${p}:2: allowed_origins: "ftp//x" is not an origin: `
      + 'write * or scheme://host[:port], like https://app.example:8443 (no path, no trailing /)'));
    const q = file('anon.json', ['{', '', '  "anonymous_publish": "a*b"', '}']);
    assert.deepStrictEqual(await check(q),
      bad(`${q}:3: anonymous_publish: "a*b" is not a channel name or a prefix ending in *`));
    const r = file('proxies.json', ['{', '  "trusted_proxies": "10.0.0.0/99"', '}']);
    const got = await check(r);
    assert.equal(got.code, 2);
    assert.match(got.stderr, new RegExp(`^streamgate: ${r}:2: trusted_proxies: `));
    const s = file('none.json', ['{', '  "listen": "",', '  "tls_listen": ""', '}']);
    assert.deepStrictEqual(await check(s), bad(`${s}:2: listen and tls_listen are both empty: nothing to listen on`));
  });

  it('the file alone: STREAMGATE_* variables are not applied', async () => {
    const p = file('env.json', ['{', '  "listen": "127.0.0.1:8080"', '}']);
    assert.deepStrictEqual(await check(p, { STREAMGATE_MAX_BODY_BYTES: '0', STREAMGATE_LISTEN: '0.0.0.0:1' }), ok(p));
  });

  it('usage: exactly one FILE', async () => {
    const usage = bad('usage: streamgate --check-config FILE');
    assert.deepStrictEqual(await runBinary(['--check-config']), usage);
    assert.deepStrictEqual(await runBinary(['--check-config', 'a.json', '--workers', '2']), usage);
  });
});
