-- wrk script for bench/harness.py.
-- Arguments (after "--"): METHOD BODY EXPECT
--   BODY   request body; "{n}" in it becomes a value unique in the run
--          ("<thread>n<sequence>", letters and digits only, e.g. for bill_no)
--   EXPECT Lua pattern every answer body must match ("" = any body)
-- Prints one line "BENCH_JSON {...}" with the counts and latency percentiles.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  method = args[1] or "GET"
  local template = args[2] or ""
  expect = args[3] or ""
  wrong = 0
  sequence = 0
  headers = {}
  local s, e = string.find(template, "{n}", 1, true)
  if s then
    prefix, suffix = template:sub(1, s - 1), template:sub(e + 1)
  else
    prefix, suffix = template, nil
  end
  if template ~= "" then
    headers["Content-Type"] = "application/json"
  end
end

function request()
  sequence = sequence + 1
  local body = nil
  if suffix then
    body = prefix .. tid .. "n" .. sequence .. suffix
  elseif prefix ~= "" then
    body = prefix
  end
  return wrk.format(method, nil, headers, body)
end

function response(status, headers, body)
  if status ~= 200 or (expect ~= "" and not string.find(body, expect)) then
    wrong = wrong + 1
  end
end

function done(summary, latency, requests)
  local wrong_total = 0
  for _, thread in ipairs(threads) do
    wrong_total = wrong_total + thread:get("wrong")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"wrong":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, wrong_total, e.connect + e.read + e.write + e.timeout))
end
