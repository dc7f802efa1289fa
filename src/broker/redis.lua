-- streamgate's one script (SCRIPT LOAD at connect, EVALSHA, EVAL again
-- on NOSCRIPT). Atomic, so every node sees one order. Ids are Redis's:
-- "MS-SEQ" with MS from TIME, never below the last id given, so a clock
-- that steps back cannot reorder them. The epoch names this Redis's data:
-- a Redis that lost it (no persistence, FLUSHALL, eviction) makes a new
-- one, and resumes from before its start get the "restarted" gap.
--
-- KEYS[1] the meta hash (epoch, ms, seq, start_ms, start_seq);
-- KEYS[2..] channel streams.  ARGV[1] the mode:
--   pub  ARGV: 2 pubsub channel, 3 event ("": none), 4 data,
--        5 history_count, 6 history_age_ms (0: none), 7 wanted id ("": none)
--        -> {id, epoch}
--   read ARGV: 2 the epoch the caller knew ("": none), 3 after ("0": all),
--        4 ms (optional): a live subscribe's read, only entries that recent
--        -> {epoch, last, gap1, entries1, gap2, entries2, ...}
--   info -> {exists, xlen, first, last, bytes}
--   del  ARGV: 2 pubsub channel -> {deleted}
--   meta -> {epoch, last}
local meta = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function fmt(ms, seq) return string.format('%d-%d', ms, seq) end
local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then
  epoch = t[1] .. '.' .. t[2]
  redis.call('HSET', meta, 'epoch', epoch, 'ms', string.format('%d', now), 'seq', '0',
             'start_ms', string.format('%d', now), 'start_seq', '0')
end
local h = redis.call('HMGET', meta, 'ms', 'seq', 'start_ms', 'start_seq')
local lms, lseq = tonumber(h[1]), tonumber(h[2])
local sms, sseq = tonumber(h[3]), tonumber(h[4])
local function parse(id)
  if id == '0' then return 0, 0 end
  local a, b = string.match(id, '^(%d+)-(%d+)$')
  if not a or #a > 15 or #b > 15 then return nil end
  return tonumber(a), tonumber(b)
end
local function after(ams, aseq, bms, bseq) return ams > bms or (ams == bms and aseq > bseq) end
local mode = ARGV[1]

if mode == 'meta' then
  return {epoch, fmt(lms, lseq)}
end

if mode == 'pub' then
  local ms, seq
  if ARGV[7] ~= '' then
    ms, seq = parse(ARGV[7])
    if not ms or ms > now + 60000 then return redis.error_reply('BADID') end
    if not after(ms, seq, lms, lseq) then return redis.error_reply('STALE') end
  elseif now > lms then
    ms, seq = now, 0
  else
    ms, seq = lms, lseq + 1
  end
  local id = fmt(ms, seq)
  redis.call('HSET', meta, 'ms', string.format('%d', ms), 'seq', string.format('%d', seq))
  local keep = tonumber(ARGV[5])
  if ARGV[3] ~= '' then
    redis.call('XADD', KEYS[2], 'MAXLEN', keep >= 100 and '~' or '=', keep, id, 'e', ARGV[3], 'd', ARGV[4])
  else
    redis.call('XADD', KEYS[2], 'MAXLEN', keep >= 100 and '~' or '=', keep, id, 'd', ARGV[4])
  end
  local age = tonumber(ARGV[6])
  if age > 0 and now - age > 0 then
    redis.call('XTRIM', KEYS[2], 'MINID', string.format('%d', now - age))
  end
  redis.call('PUBLISH', ARGV[2], 'm\n' .. epoch .. '\n' .. id .. '\n' .. ARGV[3] .. '\n' .. ARGV[4])
  return {id, epoch}
end

if mode == 'read' then
  local ams, aseq = parse(ARGV[3])
  if not ams then return redis.error_reply('BADID') end
  local out = {epoch, fmt(lms, lseq)}
  local restarted = (ARGV[2] ~= '' and ARGV[2] ~= epoch) or
                    ((ams > 0 or aseq > 0) and after(sms, sseq, ams, aseq))
  local recent = tonumber(ARGV[4] or '') or 0
  for i = 2, #KEYS do
    local gap = ''
    local from = '(' .. ARGV[3]
    if recent > 0 then
      -- a live subscribe: what came after `after` and lately (an idle
      -- node's `after` may be old), no gap (the client asked for none)
      if now - recent > ams then from = string.format('%d', now - recent) end
    elseif restarted then
      gap = 'restarted'
    elseif after(ams, aseq, lms, lseq) then
      gap = 'unknown'
    elseif redis.call('EXISTS', KEYS[i]) == 1 then
      local info = redis.call('XINFO', 'STREAM', KEYS[i])
      for j = 1, #info, 2 do
        if info[j] == 'max-deleted-entry-id' then
          local dms, dseq = parse(info[j + 1])
          if dms and after(dms, dseq, ams, aseq) then gap = 'evicted' end
        end
      end
    end
    if recent == 0 and (gap ~= '' or (ams == 0 and aseq == 0)) then from = '-' end
    out[#out + 1] = gap
    out[#out + 1] = redis.call('XRANGE', KEYS[i], from, '+')
  end
  return out
end

if mode == 'info' then
  if redis.call('EXISTS', KEYS[2]) == 0 then return {0, 0, '', '', 0} end
  local all = redis.call('XRANGE', KEYS[2], '-', '+')
  local bytes = 0
  for _, e in ipairs(all) do
    for j = 1, #e[2], 2 do
      if e[2][j] == 'd' then bytes = bytes + #e[2][j + 1] end
    end
  end
  local first, last = '', ''
  if #all > 0 then first, last = all[1][1], all[#all][1] end
  return {1, #all, first, last, bytes}
end

if mode == 'del' then
  local n = redis.call('DEL', KEYS[2])
  redis.call('PUBLISH', ARGV[2], 'd\n' .. epoch .. '\n\n\n')
  return {n}
end

return redis.error_reply('BADMODE')
