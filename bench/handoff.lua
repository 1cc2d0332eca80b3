-- wrk script for the checkout's hand-off (bench/all.py): each request opens
-- the bill of one prepared order, GET <prefix><token><suffix>.
-- Arguments (after "--"): PREFIX SUFFIX TOKENS_FILE THREADS
--   TOKENS_FILE one order token a line; thread t takes lines t, t+THREADS, ...
--   An answer is right when it is HTTP 303 (to the cashier) or 200 (a form page).
-- Prints one line "BENCH_JSON {...}" like load.lua, with "reused": requests
-- that found no unused order (they re-open an existing bill: not a new one).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  prefix, suffix = args[1], args[2]
  step = tonumber(args[4])
  tokens = {}
  for line in io.lines(args[3]) do
    table.insert(tokens, line)
  end
  index = tid - step
  wrong, reused = 0, 0
end

function request()
  index = index + step
  if index > #tokens then
    reused = reused + 1
    index = ((index - 1) % #tokens) + 1
  end
  return wrk.format("GET", prefix .. tokens[index] .. suffix)
end

function response(status, headers, body)
  if status ~= 303 and status ~= 200 then
    wrong = wrong + 1
  end
end

function done(summary, latency, requests)
  local wrong_total, reused_total = 0, 0
  for _, thread in ipairs(threads) do
    wrong_total = wrong_total + thread:get("wrong")
    reused_total = reused_total + thread:get("reused")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"wrong":%d,"socket_errors":%d,"reused":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, wrong_total, e.connect + e.read + e.write + e.timeout, reused_total))
end
