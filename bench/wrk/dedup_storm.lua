-- Dedup storm: one fault reported over and over at full speed. Every request carries the
-- same fingerprint, so all of them land on one ticket and only its count grows.
-- Usage: wrk ... -s dedup_storm.lua URL -- <fingerprint> <api key> [<api key> ...]
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local requests_by_key = {}
local sent = 0

function init(args)
  local fingerprint, keys = split_args(args)
  local body = string.format(
    '{"title":"Search index unreachable","severity":"critical","kind":"bug",' ..
    '"fingerprint":"%s","environment":"production","release":"shop@4.2.1",' ..
    '"description":"Elasticsearch timed out after 10 s."}', fingerprint)
  -- The body never changes: format each key's request once, not once per request.
  for _, key in ipairs(keys) do
    requests_by_key[#requests_by_key + 1] = wrk.format("POST", "/v1/reports", {
      ["Authorization"] = "Bearer " .. key,
      ["Content-Type"] = "application/json",
    }, body)
  end
end

function request()
  sent = sent + 1
  return requests_by_key[(sent % #requests_by_key) + 1]
end
