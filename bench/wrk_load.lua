-- The load of the HTTP benchmarks, for wrk (a load generator in C; Debian's `wrk`, whose
-- scripts run on LuaJIT). bench/bench_http.py and bench/bench_giving_day.py run
--
--   wrk -t THREADS -c CONNECTIONS -d SECONDS -s bench/wrk_load.lua URL -- key=value ...
--
-- with these arguments:
--   mode=donate   POST /api/v1/donations, each with its own Idempotency-Key and
--                 payment_ref (run=ID, the thread and a counter make them unique), the
--                 bearer token=TOKEN, charity=ID, projects=ID,ID,... (taken in turn)
--   mode=read     GET /donations/ID (the explorer's donation page), ID drawn at random from
--                 the lines of ids=FILE
--   mode=get      GET path=PATH, the same every time (bench/bench_explorer.py)
--   payers=N      with mode=donate: each donation names one of N payers at random
--                 (payer_ref, for matching funds: ADR 0040); none without it
--   threads=N     wrk's -t (to split the rate between the threads)
--   rate=R        requests/s for the whole run, paced by delay(); 0 (the default): every
--                 connection sends its next request as soon as the answer arrives
--   acks=PREFIX   write "id seq" of every 201 answer to PREFIX<thread>.txt
--   send_ms=T     send new requests for T ms only, then wait for the answers until wrk's
--                 -d ends: every request of the window is answered (or times out)
--   drained=PREFIX  with send_ms: once a thread has had the answer to every request it
--                 sent, it creates the file PREFIX<thread> (the caller then stops wrk)
-- At the end it prints one line, "WRK_JSON {...}": requests, seconds, rate, latency
-- percentiles (ms), the count of each status code and wrk's socket errors.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_usec; } shanlian_timeval;
int gettimeofday(shanlian_timeval *tv, void *tz);
]])
local clock = ffi.new("shanlian_timeval")
local function now_ms()
  ffi.C.gettimeofday(clock, nil)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_usec) / 1000
end

local threads = {}
local serial = 0

function setup(thread)
  serial = serial + 1
  thread:set("id", serial)
  table.insert(threads, thread)
end

local options = {}
local counter = 0
statuses = {} -- a global: done() reads it with thread:get
local projects = {}
local ids = {}
local interval_ms = 0
local next_due = 0
local stop_at = nil
local granted = 0 -- requests let go by delay(): one before each request on a connection
local received = 0
local marked = false

local function mark_if_drained()
  if not marked and options.drained and granted == received then
    marked = true
    local file = io.open(options.drained .. id, "w")
    if file then
      file:close()
    end
  end
end
local ack_file = nil
local headers = {}

function init(args)
  for _, pair in ipairs(args) do
    local key, value = pair:match("^([%w_]+)=(.*)$")
    if key then
      options[key] = value
    end
  end
  math.randomseed(os.time() + id * 7919)
  local rate = tonumber(options.rate or "0")
  local count = tonumber(options.threads or "1")
  if rate > 0 then
    interval_ms = 1000 * count / rate
    next_due = now_ms()
  end
  if options.send_ms then
    stop_at = now_ms() + tonumber(options.send_ms)
  end
  if options.mode == "get" then
    headers = {}
  elseif options.mode == "read" then
    for line in io.lines(options.ids) do
      if line ~= "" then
        table.insert(ids, line)
      end
    end
  else
    for project in string.gmatch(options.projects or "", "[^,]+") do
      table.insert(projects, project)
    end
    headers = {
      ["Authorization"] = "Bearer " .. options.token,
      ["Content-Type"] = "application/json",
    }
  end
  if options.acks and options.acks ~= "" then
    ack_file = io.open(options.acks .. id .. ".txt", "w")
    ack_file:setvbuf("line")
  end
end

function delay()
  local now = now_ms()
  -- One slot of the schedule per request; a schedule far behind (the server was slow)
  -- is not caught up in a burst of more than one second's worth.
  local slot = now
  if interval_ms > 0 then
    slot = math.max(next_due + interval_ms, now - 1000)
  end
  if stop_at and math.max(slot, now) >= stop_at then
    mark_if_drained()
    return 3600000 -- the window is over: no more requests on this connection
  end
  granted = granted + 1
  if interval_ms <= 0 then
    return 0
  end
  next_due = slot
  local wait = slot - now
  if wait > 0 then
    return math.floor(wait)
  end
  return 0
end

-- Paid now (the API takes paid_at from the charity's registration to a few minutes past
-- its clock): the next whole second, so a donation in the registration's second is not
-- dated before it.
function paid_at()
  return os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() + 1)
end

-- The payer of a donation (matching funds, ADR 0040): one of payers=N at random, so that
-- some pay again within a pool's interval (and are not matched again).
function payer()
  local count = tonumber(options.payers or "0")
  if count <= 0 then
    return ""
  end
  return ',"payer_ref":"payer-' .. math.random(count) .. '"'
end

function request()
  counter = counter + 1
  if options.mode == "get" then
    return wrk.format("GET", options.path)
  end
  if options.mode == "read" then
    return wrk.format("GET", "/donations/" .. ids[math.random(#ids)])
  end
  local tag = options.run .. "-" .. id .. "-" .. counter
  headers["Idempotency-Key"] = "k-" .. tag
  local project = ""
  if #projects > 0 then
    project = ',"project_id":"' .. projects[(counter % #projects) + 1] .. '"'
  end
  local body = '{"charity_id":"' .. options.charity .. '"' .. project
    .. ',"amount":' .. (1000 + counter % 9000)
    .. ',"currency":"CNY","channel":"card","paid_at":"' .. paid_at() .. '"'
    .. ',"payment_ref":"PAY-' .. tag .. '"'
    .. payer()
    .. ',"donor":{"name":"王小明","phone":"+86-138-0000-0000","email":"wang@example.cn"}}'
  return wrk.format("POST", "/api/v1/donations", headers, body)
end

function response(status, _, body)
  received = received + 1
  statuses[status] = (statuses[status] or 0) + 1
  if status == 201 and ack_file then
    local donation = body:match('"id":"([^"]+)"')
    local seq = body:match('"seq":(%d+)')
    if donation and seq then
      ack_file:write(donation, " ", seq, "\n")
    end
  end
  if stop_at and now_ms() >= stop_at then
    mark_if_drained()
  end
end

function done(summary, latency, _)
  local codes = {}
  for _, thread in ipairs(threads) do
    local counted = thread:get("statuses")
    for status, count in pairs(counted) do
      codes[status] = (codes[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(codes) do
    table.insert(parts, string.format('"%d":%d', status, count))
  end
  local errors = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'WRK_JSON {"requests":%d,"seconds":%.3f,"rate":%.2f,"p50_ms":%.3f,"p90_ms":%.3f,'
      .. '"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f,"statuses":{%s},'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000,
    table.concat(parts, ","),
    errors.connect, errors.read, errors.write, errors.timeout, errors.status
  ))
end
