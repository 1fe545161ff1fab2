#!lua
-- One call charges every descriptor of a request, atomically. KEYS[i] is a
-- counter; ARGV[2i-1] its hits (>0 adds, 0 reads, <0 refunds, clamped at 0)
-- and ARGV[2i] its expiry in seconds. Returns each counter after its charge.
-- The shebang makes Redis (7.0+) refuse the whole script when it is over
-- maxmemory, instead of failing at the first write with earlier ones done.
local counts = {}
for i, key in ipairs(KEYS) do
  local hits = tonumber(ARGV[2 * i - 1])
  local count
  if hits > 0 then
    count = redis.call('INCRBY', key, hits)
    redis.call('EXPIRE', key, ARGV[2 * i])
  else
    count = tonumber(redis.call('GET', key) or '0')
    if hits < 0 and count > 0 then
      count = math.max(0, count + hits)
      redis.call('SET', key, count, 'KEEPTTL')
    end
  end
  counts[i] = count
end
return counts
