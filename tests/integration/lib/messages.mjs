// Test messages and what each transport must render for them, written from
// the specification (not from the server's code).

// The i-th test message (i from 1): {body, data, event}. body is what is
// POSTed (a string is sent as text, an object as a JSON envelope); data and
// event are what subscribers must get. Every message is distinct.
export function sample(i) {
  switch (i % 10) {
    case 1: // JSON envelope, event name, multi-line data
      return { body: { data: `line a ${i}\nline b ${i}`, event: 'multi' }, data: `line a ${i}\nline b ${i}`, event: 'multi' };
    case 3: // multi-line text body
      return { body: `line a ${i}\nline b ${i}\nline c`, data: `line a ${i}\nline b ${i}\nline c`, event: null };
    case 4: // JSON envelope whose data is not a string: its compact JSON text
      return { body: { data: [i, 'x', true, null, { k: 'v' }], event: 'tick' }, data: `[${i},"x",true,null,{"k":"v"}]`, event: 'tick' };
    case 5: // unicode
      return { body: `héllo ✓ ${i} — 日本語 🎉`, data: `héllo ✓ ${i} — 日本語 🎉`, event: null };
    case 6: // JSON envelope without event, data with quotes and backslashes
      return { body: { data: `env "q" \\ ${i}` }, data: `env "q" \\ ${i}`, event: null };
    case 7: // quotes and backslashes in a text body
      return { body: `say "hi" \\ back\\slash ${i} \\n not a newline`, data: `say "hi" \\ back\\slash ${i} \\n not a newline`, event: null };
    case 8: // text body that looks like JSON but is not sent as JSON
      return { body: `{"data":"not an envelope","n":${i}}`, data: `{"data":"not an envelope","n":${i}}`, event: null };
    case 9: // JSON envelope with event and unicode/quote data
      return { body: { data: `évènement "${i}" ✓`, event: 'tick' }, data: `évènement "${i}" ✓`, event: 'tick' };
    default:
      return { body: `msg ${i}`, data: `msg ${i}`, event: null };
  }
}

// Messages first..last as an array of {id, data, event}.
export function samples(first, last) {
  const out = [];
  for (let i = first; i <= last; i++) out.push({ id: String(i), ...sample(i) });
  return out;
}

export const EVENT_NAMES = ['multi', 'tick'];

// chunked transport: each message's data followed by "\n".
export function chunkedText(msgs) {
  return msgs.map((m) => `${m.data}\n`).join('');
}

// One SSE frame: id, optional event, one data line per line, blank line.
export function sseFrame(m) {
  const ev = m.event === null ? '' : `event: ${m.event}\n`;
  return `id: ${m.id}\n${ev}${m.data.split('\n').map((l) => `data: ${l}\n`).join('')}\n`;
}

export const SSE_PRELUDE = ': ok\n\n';

export function sseText(msgs) {
  return SSE_PRELUDE + msgs.map(sseFrame).join('');
}

// What an EventSource client reports for each message.
export function sseEvents(msgs) {
  return msgs.map((m) => ({ type: m.event ?? 'message', data: m.data, lastEventId: m.id }));
}

// The JSON envelope of ndjson and long-poll, keys in the specified order.
export function envelope(channel, m) {
  return { channel, id: m.id, event: m.event, data: m.data };
}

export const ENVELOPE_KEYS = ['channel', 'id', 'event', 'data'];

// The same messages carrying the ids the server gave (from publish answers),
// so that a transport test checks what it is about whatever the id format;
// the id format itself is asserted where a test is about ids.
export function withIds(msgs, ids) {
  return msgs.map((m, k) => ({ ...m, id: ids[k] }));
}

// Ids are "MS-SEQ": the gateway's wall-clock millisecond and a counter.
export const ID_PATTERN = /^(0|[1-9][0-9]*)-(0|[1-9][0-9]*)$/;

// [ms, seq] of an id as BigInts, for exact ordering.
export function idParts(id) {
  const m = ID_PATTERN.exec(id);
  if (!m) throw new Error(`not an MS-SEQ id: ${JSON.stringify(id)}`);
  return [BigInt(m[1]), BigInt(m[2])];
}

// -1, 0, 1 as a is before, equal to or after b.
export function idCompare(a, b) {
  const [am, as] = idParts(a);
  const [bm, bs] = idParts(b);
  if (am !== bm) return am < bm ? -1 : 1;
  if (as !== bs) return as < bs ? -1 : 1;
  return 0;
}

// The index of the first id not after its predecessor, or -1 when every id
// is well-formed and strictly increasing.
export function firstUnordered(ids) {
  for (let i = 0; i < ids.length; i++) {
    idParts(ids[i]);
    if (i > 0 && idCompare(ids[i - 1], ids[i]) >= 0) return i;
  }
  return -1;
}

// A seeded pseudo-random generator (mulberry32): the same seed gives the
// same sequence of floats in [0, 1), so a failing run can be replayed.
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// An integer in [lo, hi] from rng.
export function randomInt(rng, lo, hi) {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

// The gap signal's exact JSON text, keys in the specified order. firstId:
// the first id the history still holds, or null.
export function gapJson(channel, lastEventId, firstId, reason) {
  return JSON.stringify({ type: 'gap', channel, last_event_id: lastEventId, first_id: firstId, reason });
}

// The gap signal on SSE: an event named sg.gap, without an id line.
export function sseGapFrame(channel, lastEventId, firstId, reason) {
  return `event: sg.gap\ndata: ${gapJson(channel, lastEventId, firstId, reason)}\n\n`;
}

// The chunks of /examples/firehose?count=N, as its filters make them: a
// greeting, N upcased "Chunky Monkey" ticks and the before_close goodbye.
export function firehoseChunks(count) {
  return ['HELLO', ...Array(count).fill('CHUNKY MONKEY'), 'GOODBYE!'];
}

// The complete lines of a text stream (a partial last line is left out).
export function completeLines(text) {
  const end = text.lastIndexOf('\n');
  return end < 0 ? [] : text.slice(0, end).split('\n');
}

// The complete events of an SSE text stream, in order, as {id, event,
// data}: id is the event's own id line (null when it has none), event the
// event: line (null when absent), data the data: lines joined with "\n".
// Comments and a partial last event are left out; an id: line that is not
// on an event of its own is reported as an event with data null.
export function parseSse(text) {
  const events = [];
  const blocks = text.split('\n\n');
  blocks.pop(); // after the last blank line: incomplete (or empty)
  for (const block of blocks) {
    const ev = { id: null, event: null, data: null };
    let fields = 0;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const m = /^(id|event|data|retry): (.*)$/.exec(line);
      if (!m) throw new Error(`unexpected SSE line ${JSON.stringify(line)} in ${JSON.stringify(block)}`);
      fields++;
      if (m[1] === 'data') ev.data = ev.data === null ? m[2] : `${ev.data}\n${m[2]}`;
      else if (m[1] !== 'retry') ev[m[1]] = m[2];
    }
    if (fields) events.push(ev);
  }
  return events;
}
