-- POST the same JSON body to the bare app's one-insert endpoint (bench/bare_app.py).
local counter = 0
local next_id = 0
function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
end
function init(args)
  run_id = args[1] or tostring(os.time())
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"first_name": "Ana", "last_name": "Silva", "email": "s-%s-%d-%d@bench.example", "country": "DE", "postcode": "10115", "public": true, "consent_updates": true}',
    run_id, tid or 0, counter)
  return wrk.format("POST", "/insert", {["Content-Type"] = "application/json"}, body)
end
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "_done.lua")
