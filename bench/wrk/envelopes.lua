-- Sentry envelopes, as SDKs send them: pre-built bodies (gzip, br or plain) read from a file,
-- sent to /api/<project>/envelope/ with the DSN key in X-Sentry-Auth. Each thread walks its
-- own share of the bodies, so with enough of them no body is sent twice.
-- Body file: records of "<length> <content-encoding>\n<length bytes>".
-- Usage: wrk ... -s envelopes.lua URL -- <bodies file> <public key> <project id> <threads>
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local bodies, encodings = {}, {}
local path, headers = "/", {}
local first, share, sent = 1, 1, 0

function init(args)
  local file = assert(io.open(args[1], "rb"))
  while true do
    local header = file:read("*l")
    if header == nil then break end
    local length, encoding = header:match("^(%d+) (%S+)$")
    bodies[#bodies + 1] = file:read(tonumber(length))
    encodings[#encodings + 1] = encoding
  end
  file:close()
  path = "/api/" .. args[3] .. "/envelope/"
  headers = {
    ["X-Sentry-Auth"] = "Sentry sentry_key=" .. args[2] .. ", sentry_version=7, sentry_client=bench/1.0",
    ["Content-Type"] = "application/x-sentry-envelope",
  }
  local threads = tonumber(args[4])
  share = math.max(1, math.floor(#bodies / threads))
  first = (thread_index % threads) * share + 1
end

function request()
  local index = first + (sent % share)
  sent = sent + 1
  local encoding = encodings[index]
  if encoding == "identity" then
    headers["Content-Encoding"] = nil
  else
    headers["Content-Encoding"] = encoding
  end
  return wrk.format("POST", path, headers, bodies[index])
end
