-- wrk script for the soak: small, streamed and upload requests in turn
-- (2 : 1 : 1), on every connection. Built in init(): only then does wrk
-- know the Host header.
local requests
local i = 0

init = function(args)
  local upload = string.rep("u", 16384)
  requests = {
    wrk.format("GET", "/small"),
    wrk.format("GET", "/stream?n=16&size=4096"),
    wrk.format("POST", "/upload", { ["Content-Type"] = "application/octet-stream" }, upload),
    wrk.format("GET", "/small"),
  }
end

request = function()
  i = i + 1
  return requests[(i % #requests) + 1]
end
