-- HTTP ceiling: the bare peer app's trivial JSON endpoint, no database, no body.
-- Usage: wrk ... -s ping.lua URL
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local ping = nil

function init(args)
  ping = wrk.format("GET", "/ping")
end

function request()
  return ping
end
