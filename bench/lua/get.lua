-- GET the URL given to wrk (the campaign page or the bare page).
local threads = {}
function setup(thread) table.insert(threads, thread) end
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "_done.lua")
