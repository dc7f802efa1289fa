// Mints JSON Web Tokens for the tests with node's crypto only: HS via
// createHmac, RS and ES via sign() with a key from generateKeyPairSync.
// Nothing here checks a token; the gateway does.
import crypto from 'node:crypto';

export const b64url = (buf) => Buffer.from(buf).toString('base64url');

const HASH = { 256: 'sha256', 384: 'sha384', 512: 'sha512' };
const CURVE = { 256: 'prime256v1', 384: 'secp384r1', 512: 'secp521r1' };

// Seconds since the epoch, as JWT NumericDates are.
export const now = () => Math.floor(Date.now() / 1000);

// A signed token. alg: 'HS256'... (key: the secret), 'RS256'.../'ES256'...
// (key: a private KeyObject or PEM), or 'none' (no signature). header: extra
// header fields (may override alg to lie about it).
export function mint(alg, key, payload, { header = {} } = {}) {
  const head = b64url(JSON.stringify({ alg, typ: 'JWT', ...header }));
  const body = b64url(JSON.stringify(payload));
  const input = `${head}.${body}`;
  const bits = alg.slice(2);
  let sig;
  if (alg === 'none') sig = '';
  else if (alg.startsWith('HS')) sig = b64url(crypto.createHmac(HASH[bits], key).update(input).digest());
  else if (alg.startsWith('RS')) sig = b64url(crypto.sign(HASH[bits], Buffer.from(input), key));
  else if (alg.startsWith('ES'))
    sig = b64url(crypto.sign(HASH[bits], Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }));
  else throw new Error(`unknown alg ${alg}`);
  return `${input}.${sig}`;
}

// {privateKey, publicPem} for 'RS256' or 'ES256' (and 384/512).
export function keyPair(alg) {
  const bits = alg.slice(2);
  const { privateKey, publicKey } = alg.startsWith('RS')
    ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
    : crypto.generateKeyPairSync('ec', { namedCurve: CURVE[bits] });
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }) };
}
