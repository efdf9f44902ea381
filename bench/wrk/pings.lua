-- Check-ins through monitors' ping URLs, as crontab lines send them (GET, no body, no
-- credential but the key in the path); each request pings the next monitor in turn.
-- Usage: wrk ... -s pings.lua URL -- <run tag> <ping key> [<ping key> ...]
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local keys = {"none"}
local sent = 0

function init(args)
  local _
  _, keys = split_args(args)
end

function request()
  sent = sent + 1
  return wrk.format("GET", "/ping/" .. keys[((sent + thread_index) % #keys) + 1])
end
