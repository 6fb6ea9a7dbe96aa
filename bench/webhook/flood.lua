-- bench/webhook/flood.lua: wrk posting one signed GitHub push delivery over and over.
--
--   wrk -t2 -c32 -d15s -s flood.lua http://127.0.0.1:PORT/hooks/app -- BODY SIGNATURE MODE TAG
--
-- BODY: file holding the JSON payload. SIGNATURE: the X-Hub-Signature-256 value sent (right
-- or wrong). MODE: "unique" gives every request its own X-GitHub-Delivery (TAG-thread-counter,
-- so a redelivery check never answers "duplicate"); "fixed" sends TAG every time. The delivery
-- id is not covered by the signature, so one signature fits every request.
-- At the end it prints one line, "codes: 202=N 401=M ...", the status of every answer.

local threads = {}
local counter = 1

function setup(thread)
   thread:set("tid", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

local head, body, mode, tag, n
codes = {}  -- a global: done() reads it from every thread

function init(args)
   local f = assert(io.open(args[1], "rb"))
   body = f:read("*a")
   f:close()
   mode, tag, n = args[3], args[4], 0
   -- Added to wrk.headers, which already holds the Host header wrk made up from the URL.
   local headers = wrk.headers
   headers["Content-Type"] = "application/json"
   headers["User-Agent"] = "GitHub-Hookshot/bench"
   headers["X-GitHub-Event"] = "push"
   headers["X-GitHub-Hook-ID"] = "424242"
   headers["X-Hub-Signature-256"] = args[2]
   if mode == "unique" then
      tag = tag .. "-" .. tostring(tid) .. "-"
   else
      headers["X-GitHub-Delivery"] = tag
      head = wrk.format("POST", nil, headers, body)
   end
end

function request()
   if head then
      return head
   end
   n = n + 1
   wrk.headers["X-GitHub-Delivery"] = tag .. n
   return wrk.format("POST", nil, nil, body)
end

function response(status, headers, body)
   codes[status] = (codes[status] or 0) + 1
end

function done(summary, latency, requests)
   local all = {}
   for _, thread in ipairs(threads) do
      local c = thread:get("codes")
      for status, count in pairs(c) do
         all[status] = (all[status] or 0) + count
      end
   end
   local keys = {}
   for status in pairs(all) do
      table.insert(keys, status)
   end
   table.sort(keys)
   local parts = {}
   for _, status in ipairs(keys) do
      table.insert(parts, status .. "=" .. all[status])
   end
   print("codes: " .. table.concat(parts, " "))
end
