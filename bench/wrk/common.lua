-- Shared by the bench's wrk scripts (loaded with dofile by each of them).
-- wrk's own summary counts 3xx as success and prints text meant for people; this counts
-- 2xx against everything else per thread and prints one JSON line the bench parses.

local threads = {}

function setup(thread)
  -- Runs in the main Lua state before the thread's init(): gives each thread an index
  -- it can put in its request bodies, so bodies never repeat across threads.
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

acknowledged = 0
refused = 0

function response(status, headers, body)
  if status >= 200 and status < 300 then
    acknowledged = acknowledged + 1
  else
    refused = refused + 1
  end
end

function done(summary, latency, requests)
  local ok, bad = 0, 0
  for _, thread in ipairs(threads) do
    ok = ok + thread:get("acknowledged")
    bad = bad + thread:get("refused")
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_WRK_SUMMARY {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"acknowledged":%d,"refused":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p99_9":%d}}\n',
    summary.requests, summary.duration, summary.bytes, ok, bad,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end

-- Arguments after `--` on wrk's command line: the API keys to rotate through, and
-- (for scripts that need it) a tag unique to this run.
function split_args(args)
  local tag, keys = args[1], {}
  for index = 2, #args do
    keys[#keys + 1] = args[index]
  end
  return tag, keys
end
