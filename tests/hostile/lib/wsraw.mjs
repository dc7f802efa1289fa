// A WebSocket client written by hand on node's `net`, for tests that must
// send what a real client never would: unmasked frames, reserved bits,
// unknown opcodes, oversized or fragmented control frames, bad close codes.
// encodeFrame() writes any frame (well-formed or not); FrameParser reads the
// server's frames; RawWs holds one upgraded connection and records every
// frame the server sent until its TCP connection ends. Every wait is bounded.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { withTimeout } from '../../integration/lib/server.mjs';

export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };

// One frame on the wire. payload: Buffer or string (UTF-8). fin, rsv (the
// three bits as a number 0..7), mask (a client must; false sends it bare),
// key (4 bytes; random by default), len (the length field to announce, when
// it should differ from the payload: a frame cut short).
export function encodeFrame(opcode, payload = Buffer.alloc(0), { fin = true, rsv = 0, mask = true, key, len } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  const n = len ?? data.length;
  const head = [(fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0xf)];
  const m = mask ? 0x80 : 0;
  if (n < 126) head.push(m | n);
  else if (n < 65536) head.push(m | 126, n >> 8, n & 0xff);
  else {
    head.push(m | 127);
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(n));
    head.push(...big);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), data]);
  const k = key ?? crypto.randomBytes(4);
  const body = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) body[i] = data[i] ^ k[i & 3];
  return Buffer.concat([Buffer.from(head), k, body]);
}

// The payload of a close frame: a 2-byte code and a reason (string or Buffer).
export function closePayload(code, reason = '') {
  const r = Buffer.isBuffer(reason) ? reason : Buffer.from(reason, 'utf8');
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code, 0);
  r.copy(b, 2);
  return b;
}

// Reads server frames from a byte stream: push() returns the frames that
// became complete, each {fin, rsv, opcode, payload}. A server frame must
// not be masked (RFC 6455 §5.1): a masked one throws.
export class FrameParser {
  constructor() {
    this.buf = Buffer.alloc(0);
  }

  push(chunk) {
    this.buf = Buffer.concat([this.buf, chunk]);
    const out = [];
    for (;;) {
      const b = this.buf;
      if (b.length < 2) break;
      assert.equal(b[1] & 0x80, 0, 'a server frame is never masked');
      let n = b[1] & 0x7f;
      let at = 2;
      if (n === 126) {
        if (b.length < 4) break;
        n = b.readUInt16BE(2);
        at = 4;
      } else if (n === 127) {
        if (b.length < 10) break;
        n = Number(b.readBigUInt64BE(2));
        at = 10;
      }
      if (b.length < at + n) break;
      out.push({ fin: !!(b[0] & 0x80), rsv: (b[0] >> 4) & 7, opcode: b[0] & 0xf, payload: b.subarray(at, at + n) });
      this.buf = b.subarray(at + n);
    }
    return out;
  }
}

// Decodes a close frame's payload into {code, reason} (code null: none).
export function parseClose(payload) {
  if (payload.length < 2) return { code: null, reason: '' };
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString('utf8') };
}

// One upgraded connection. frames: every frame the server sent, in order.
export class RawWs {
  constructor(socket, leftover) {
    this.socket = socket;
    this.frames = [];
    this.parser = new FrameParser();
    this.waiters = new Set();
    this.ended = new Promise((resolve) => socket.once('close', resolve));
    this.isEnded = false;
    this.ended.then(() => {
      this.isEnded = true;
      this.wake();
    });
    socket.on('data', (d) => this.take(d));
    socket.on('error', () => {}); // a reset is an end like any other
    if (leftover.length) this.take(leftover);
  }

  take(chunk) {
    this.frames.push(...this.parser.push(chunk));
    this.wake();
  }

  wake() {
    for (const w of this.waiters) w();
  }

  // Resolves with the first frame (from index `from`) for which pred is true.
  async frame(pred, ms = 5000, what = 'a frame', from = 0) {
    let check;
    const found = new Promise((resolve, reject) => {
      check = () => {
        const f = this.frames.slice(from).find(pred);
        if (f) resolve(f);
        else if (this.isEnded) reject(new Error(`connection ended without ${what}; frames: ${this.describe()}`));
      };
      this.waiters.add(check);
      check();
    });
    try {
      return await withTimeout(found, ms, `${what}; frames so far: ${this.describe()}`);
    } finally {
      this.waiters.delete(check);
    }
  }

  // Waits for the server's close frame; returns {code, reason}, or
  // {code: null, reason: null} when the TCP connection ended without one.
  // Answers the close (as RFC 6455 §5.5.1 asks) unless reply is false.
  async serverClose(ms = 5000, { reply = true } = {}) {
    let f;
    try {
      f = await this.frame((x) => x.opcode === OP.CLOSE, ms, 'a close frame');
    } catch (err) {
      if (this.isEnded && !this.frames.some((x) => x.opcode === OP.CLOSE)) return { code: null, reason: null };
      throw err;
    }
    if (reply && !this.isEnded) this.send(encodeFrame(OP.CLOSE, f.payload.subarray(0, 2)));
    return parseClose(f.payload);
  }

  // Waits for the server to end the TCP connection.
  waitEnded(ms = 10000) {
    return withTimeout(this.ended, ms, 'the server ending the TCP connection');
  }

  send(...bufs) {
    if (!this.socket.destroyed) this.socket.write(Buffer.concat(bufs));
  }

  sendFrame(opcode, payload, opts) {
    this.send(encodeFrame(opcode, payload, opts));
  }

  destroy() {
    this.socket.destroy();
  }

  describe() {
    return JSON.stringify(this.frames.map((f) => ({
      op: f.opcode, fin: f.fin, len: f.payload.length,
      text: f.payload.subarray(f.opcode === OP.CLOSE ? 2 : 0, 80).toString('utf8'),
      ...(f.opcode === OP.CLOSE ? parseClose(f.payload) : {}),
    })));
  }
}

// Opens a TCP connection to 127.0.0.1:port and upgrades it at path.
// Resolves with a RawWs once the 101 answer is in (a refusal rejects).
export async function rawWs(port, path, { timeoutMs = 5000 } = {}) {
  const key = crypto.randomBytes(16).toString('base64');
  const accept = crypto.createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  const upgraded = new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    const onData = (d) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.off('error', reject);
      socket.off('close', onClose);
      const text = head.subarray(0, end).toString('latin1');
      if (!/^HTTP\/1\.1 101 /.test(text)) {
        socket.destroy();
        reject(new Error(`upgrade refused: ${text.split('\r\n')[0]}`));
        return;
      }
      const got = /\r\nsec-websocket-accept: *([^\r]+)/i.exec(text);
      if (!got || got[1].trim() !== accept) {
        socket.destroy();
        reject(new Error(`bad Sec-WebSocket-Accept in:\n${text}`));
        return;
      }
      resolve(new RawWs(socket, head.subarray(end + 4)));
    };
    const onClose = () => reject(new Error('connection closed during the upgrade'));
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', onClose);
    socket.once('connect', () => socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`));
  });
  try {
    return await withTimeout(upgraded, timeoutMs, `WebSocket upgrade at ${path}`);
  } catch (err) {
    socket.destroy();
    throw err;
  }
}
