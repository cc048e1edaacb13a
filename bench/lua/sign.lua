-- POST /api/v1/campaigns/<slug>/signatures with a new email address every request.
-- wrk ... -s sign.lua URL -- RUN_ID CAMPAIGNS   (CAMPAIGNS=1: all on bench-1; N: spread over bench-1..N)
local counter = 0
local next_id = 0
function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
end
function init(args)
  run_id = args[1] or tostring(os.time())
  campaigns = tonumber(args[2] or "1")
  math.randomseed(os.time() * 1000 + (tid or 0))
end
function request()
  counter = counter + 1
  local slug = "bench-1"
  if campaigns > 1 then slug = "bench-" .. math.random(1, campaigns) end
  local body = string.format(
    '{"first_name": "Ana", "last_name": "Silva", "email": "s-%s-%d-%d@bench.example", "country": "DE", "postcode": "10115", "public": true, "consent_updates": true}',
    run_id, tid or 0, counter)
  return wrk.format("POST", "/api/v1/campaigns/" .. slug .. "/signatures",
                    {["Content-Type"] = "application/json"}, body)
end
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "_done.lua")
