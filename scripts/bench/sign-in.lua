-- wrk script of `make bench`: password sign-ins, `wrk … -s sign-in.lua URL -- BODIES_FILE ORIGIN`.
-- POSTs the form bodies of BODIES_FILE (one per line: email=…&password=…, one line per account) to
-- URL one after the other, each thread starting at another account, with the site's Origin header
-- (the server refuses state-changing requests without it). Counts every status and the
-- Retry-After headers of 429/503 answers; JSON summary at the end (wrk-report.lua).
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "wrk-report.lua")

local bodies = {}
local next_body = 0
statuses = {}
retry_after = 0

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then table.insert(bodies, line) end
  end
  assert(#bodies > 0, "no bodies in " .. args[1])
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Origin"] = args[2]
  next_body = ((id or 0) * 7) % #bodies
end

function request()
  next_body = next_body % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[next_body])
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if (status == 429 or status == 503) and (headers["retry-after"] or headers["Retry-After"]) then
    retry_after = retry_after + 1
  end
end
