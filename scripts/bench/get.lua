-- wrk script of `make bench`: the request as given on the command line (GET, -H headers), and a
-- JSON summary at the end (wrk-report.lua). No per-response Lua, so wrk costs what plain wrk costs.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "wrk-report.lua")
