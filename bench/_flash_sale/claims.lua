-- Pasar flash-sale load (bench/_flash_sale/load.py puts the claim's JSON body and
-- its length in). Arguments after "--":
--   mode (list | loop | bare), path, tokens file, threads, key prefix, done dir
-- list: this thread's share of the tokens, one claim each, then stop.
-- loop: claims until wrk's duration ends, shoppers taken in turn from the tokens.
-- bare: GET path (same accounting).
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } pasar_timespec;
int clock_gettime(int clk_id, pasar_timespec *tp);
]]
local ts = ffi.new("pasar_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC, as Python's time.monotonic()
  return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local threads = {}
local nthread = 0
function setup(thread)
  thread:set("tid", nthread)
  nthread = nthread + 1
  table.insert(threads, thread)
end

local mode, path, nthreads, prefix, done_dir
local reqs, tokens = {}, {}
local head, bare
local sent, answered = 0, 0
local ids = nil
started, finished, wanted = 0, 0, 0
counts, codes = {}, {}

-- wrk calls the first thread's request() once before it starts, to check the
-- request parses: that call must not use up a claim.
local verifying = false

function init(args)
  mode, path, nthreads, prefix, done_dir = args[1], args[2], tonumber(args[4]), args[5], args[6]
  verifying = tid == 0
  local host = wrk.headers["Host"]
  bare = "GET " .. path .. " HTTP/1.1\r\nHost: " .. host .. "\r\n\r\n"
  head = "POST " .. path .. " HTTP/1.1\r\nHost: " .. host
    .. "\r\nContent-Type: application/json\r\nContent-Length: " .. #CLAIM_BODY
    .. "\r\nX-Pasar-Shopper: "
  if mode == "bare" then return end
  ids = io.open(done_dir .. "/ids-" .. tid, "w") -- flushed when closed or when wrk exits
  local i = 0
  for line in io.lines(args[3]) do
    if mode == "list" then
      if i % nthreads == tid then
        table.insert(reqs, head .. line .. "\r\nIdempotency-Key: " .. prefix .. "-" .. i
          .. "\r\n\r\n" .. CLAIM_BODY)
      end
    else
      table.insert(tokens, line)
    end
    i = i + 1
  end
  wanted = #reqs
end

function request()
  if verifying then
    verifying = false
    if mode == "list" then return reqs[1] or bare end
    return bare
  end
  if started == 0 then started = now_us() end
  sent = sent + 1
  if mode == "list" then
    return reqs[sent] or "" -- nothing left: an empty write, and the connection waits
  elseif mode == "loop" then
    local token = tokens[((sent * nthreads + tid) % #tokens) + 1]
    return head .. token .. "\r\nIdempotency-Key: " .. prefix .. "-" .. tid .. "-" .. sent
      .. "\r\n\r\n" .. CLAIM_BODY
  end
  return bare
end

function response(status, headers, body)
  answered = answered + 1
  finished = now_us()
  counts[status] = (counts[status] or 0) + 1
  if status == 201 and ids then
    -- the reservation's id, checked against the record afterwards
    ids:write(body:match('"id":"([^"]+)"') or "?", "\n")
  elseif status >= 300 then
    local code = body and body:match('"code":"([%w_]+)"') or "?"
    codes[code] = (codes[code] or 0) + 1
  end
  if mode == "list" and answered == wanted then
    ids:close()
    ids = nil
    local f = io.open(done_dir .. "/done-" .. tid, "w")
    f:write(tostring(answered))
    f:close()
    wrk.thread:stop()
  end
end

local function tally(into, from)
  for k, v in pairs(from or {}) do into[tostring(k)] = (into[tostring(k)] or 0) + v end
end

local function object(t)
  local parts = {}
  for k, v in pairs(t) do table.insert(parts, string.format('"%s":%d', k, v)) end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local status, code = {}, {}
  local first, last = nil, 0
  for _, t in ipairs(threads) do
    tally(status, t:get("counts"))
    tally(code, t:get("codes"))
    local s, f = t:get("started"), t:get("finished")
    if s and s > 0 and (first == nil or s < first) then first = s end
    if f and f > last then last = f end
  end
  local e = summary.errors
  io.write(string.format(
    'pasar-result {"requests":%d,"duration_us":%d,"first_us":%d,"last_us":%d,'
      .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"status":%s,"codes":%s}\n',
    summary.requests, summary.duration, first or 0, last,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout, object(status), object(code)))
end
