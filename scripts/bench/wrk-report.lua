-- Shared by get.lua and sign-in.lua (wrk scripts of `make bench`): at the end, one line
-- `WRK_JSON {…}` with the request count, duration, errors, latency percentiles, and the status
-- counts and Retry-After headers that sign-in.lua counted (scripts/bench/run.mjs reads it).

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local function json_statuses(t)
  local parts = {}
  for k, v in pairs(t) do table.insert(parts, string.format('"%d":%d', k, v)) end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local all, retry = {}, 0
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses") or {}
    for k, v in pairs(s) do all[k] = (all[k] or 0) + v end
    retry = retry + (thread:get("retry_after") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d},"statuses":%s,"retry_after":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    json_statuses(all), retry))
end
