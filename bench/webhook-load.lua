-- wrk script: posts one signed payload with a fresh X-GitHub-Delivery per request and
-- prints a JSON summary. Set by webhook-load.sh: PAYLOAD_FILE, SIGNATURE, EVENT, and
-- WEBHOOK_PATH for another receiver (the Probot peer's /api/github/webhooks).
local counter = 0
local thread_tag = 0
local threads = {}

function setup(thread)
  thread_tag = thread_tag + 1
  thread:set("tag", thread_tag)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(os.getenv("PAYLOAD_FILE"), "rb"))
  body = f:read("*a")
  f:close()
  signature = os.getenv("SIGNATURE")
  event = os.getenv("EVENT")
  path = os.getenv("WEBHOOK_PATH") or "/webhooks/github"
  non2xx = 0
end

function request()
  counter = counter + 1
  local delivery = string.format("%08x-0000-4000-8000-%012x", tag, counter)
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = event,
    ["X-GitHub-Delivery"] = delivery,
    ["X-Hub-Signature-256"] = signature,
    ["User-Agent"] = "GitHub-Hookshot/load",
  }, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local non2xx_total = 0
  for _, t in ipairs(threads) do
    non2xx_total = non2xx_total + t:get("non2xx")
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"seconds":%.2f,"rps":%.0f,"p50_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f,' ..
    '"non_2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    non2xx_total, e.connect + e.read + e.write + e.timeout))
end
