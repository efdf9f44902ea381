-- Durable intake throughput: every request is a new bug report (its own fingerprint), so
-- each one inserts a ticket and its outbox row; no request joins an existing ticket.
-- Usage: wrk ... -s unique_reports.lua URL -- <run tag> <api key> [<api key> ...]
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local run_tag, keys = "run", {"none"}
local sent = 0

-- A report of realistic size (about 1 KB): a title, a description, a short stack trace
-- and some context, like an SDK sends.
local body_format = '{"title":"Checkout failed for order %s","severity":"high",' ..
  '"kind":"bug","fingerprint":"bench-%s","environment":"production",' ..
  '"release":"shop@4.2.1","description":"Payment provider answered 502 while ' ..
  'capturing the order; the customer saw a generic error page and retried.",' ..
  '"stacktrace":"Traceback (most recent call last):\\n  File \\"shop/checkout.py\\", ' ..
  'line 218, in capture\\n    receipt = provider.capture(order.payment_id)\\n  File ' ..
  '\\"shop/payments/client.py\\", line 91, in capture\\n    response.raise_for_status()\\n' ..
  '  File \\"httpx/_models.py\\", line 829, in raise_for_status\\n    raise ' ..
  'HTTPStatusError(message, request=request, response=self)\\nhttpx.HTTPStatusError: ' ..
  'Server error 502 Bad Gateway",' ..
  '"context":{"order_sequence":%d,"thread":%d,"user_agent":"Mozilla/5.0","locale":"en-GB"}}'

function init(args)
  run_tag, keys = split_args(args)
end

function request()
  sent = sent + 1
  local report_id = string.format("%s-%d-%d", run_tag, thread_index, sent)
  local body = string.format(body_format, report_id, report_id, sent, thread_index)
  local headers = {
    ["Authorization"] = "Bearer " .. keys[(sent % #keys) + 1],
    ["Content-Type"] = "application/json",
  }
  return wrk.format("POST", "/v1/reports", headers, body)
end
