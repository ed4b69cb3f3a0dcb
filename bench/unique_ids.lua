-- wrk script for bench/intake.py: every request is a webhook alert with an id no other
-- request has (a repeat would be answered as a duplicate, which is less work).
-- wrk runs one Lua state per thread: setup() numbers them so ids never collide.
-- Arguments after "--": the run's prefix, the passphrase and, optionally, a pause in ms
-- each connection makes before each request (paced: the connections together offer
-- connections * 1000 / pause requests a second, whatever the server's capacity).

local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_number", thread_count)
end

function init(args)
  run = args[1]
  passphrase = args[2]
  counter = 0
  local pause = tonumber(args[3] or "0")
  if pause > 0 then
    -- wrk looks for delay() after init(): without a pause it sends as fast as it is answered.
    delay = function() return pause end
  end
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"passphrase":"%s","symbol":"BTCUSDT","action":"long","id":"%s-%d-%d"}',
    passphrase, run, thread_number, counter)
  return wrk.format("POST", "/webhook", {["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "wrk requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
