-- wrk script: cycle through the comma-separated paths given after --, print one RESULT line.
local paths = {}
local index = 0

function init(args)
  for path in string.gmatch(args[1], "[^,]+") do table.insert(paths, path) end
end

function request()
  index = index % #paths + 1
  return wrk.format("GET", paths[index])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %.3f %.3f %.3f connect=%d,read=%d,write=%d,status=%d,timeout=%d\n",
    summary.requests, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, summary.duration / 1e6,
    e.connect, e.read, e.write, e.status, e.timeout))
end
