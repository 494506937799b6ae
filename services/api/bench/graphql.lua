-- wrk script for the API benchmark (services/api/benches/http.rs).
--
--   wrk ... -s graphql.lua http://host:port/graphql -- BODIES_FILE
--
-- BODIES_FILE holds one GraphQL request body (JSON) per line; every
-- request POSTs a line picked at random. A response counts as an error
-- when its status is not 200 or its body carries "errors"; done() prints
-- one machine-readable RESULT line for the benchmark to parse.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  for line in io.lines(args[1]) do
    if #line > 0 then
      table.insert(bodies, line)
    end
  end
  if #bodies == 0 then
    error("no request bodies in " .. tostring(args[1]))
  end
  math.randomseed(os.time() + tonumber(tostring(bodies):match("0x(%x+)") or "0", 16))
  failed = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  return wrk.format(nil, nil, nil, bodies[math.random(#bodies)])
end

function response(status, headers, body)
  if status ~= 200 or body:find('"errors"', 1, true) then
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local failures = 0
  for _, thread in ipairs(threads) do
    failures = failures + (thread:get("failed") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d mean_us=%.0f socket_errors=%d failed=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, e.connect + e.read + e.write + e.timeout, failures + e.status))
end
