"""The Lua scripts of a distributed crawl: each runs in Redis as one atomic step (registered by
cascrawl.distributed.cluster.Cluster, which names the keys they get). Imports nothing."""

# Pop the first request of the queue into the worker's lease set, atomically.
POP = """
local found = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #found == 0 then return false end
redis.call('ZREM', KEYS[1], found[1])
redis.call('ZADD', KEYS[2], found[2], found[1])
return found[1]
"""
# Mark a request seen and queue it in one step (scrapy-redis does it in two: a worker killed between them
# would leave a request marked seen that is in no queue, and the page would be lost for the run).
ENQUEUE = """
if ARGV[3] == '1' or redis.call('SADD', KEYS[1], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
  return 1
end
return 0
"""
# Put every lease of a worker back into the queue (same priority), atomically.
REQUEUE = """
local held = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #held, 2 do redis.call('ZADD', KEYS[2], held[i + 1], held[i]) end
redis.call('DEL', KEYS[1])
return #held / 2
"""
# A worker whose heartbeat expired: its leases back into the queue and the worker forgotten, in one step
# (checked and done apart, a worker re-registering in between would be forgotten while alive). -1: alive.
RECLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local held = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = 1, #held, 2 do redis.call('ZADD', KEYS[3], held[i + 1], held[i]) end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[4], ARGV[1])
return #held / 2
"""
# The leases of a worker that it does not hold (ARGV: the ones it does) back into the queue, atomically: a
# pop that Redis ran but whose answer never arrived (Redis stopped under it) left the request there.
REQUEUE_UNHELD = """
local held = {}
for i = 1, #ARGV do held[ARGV[i]] = true end
local leased = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local moved = 0
for i = 1, #leased, 2 do
  if not held[leased[i]] then
    redis.call('ZREM', KEYS[1], leased[i])
    redis.call('ZADD', KEYS[2], leased[i + 1], leased[i])
    moved = moved + 1
  end
end
return moved
"""
# The per-host rate: 0 if a request may go now (and the time is taken), else milliseconds to wait.
RATE = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local gap = tonumber(ARGV[1])
if ms - last >= gap then
  redis.call('SET', KEYS[1], ms, 'PX', gap * 10 + 60000)
  return 0
end
return gap - (ms - last)
"""
