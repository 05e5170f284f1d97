-- wrk script: every request a new query string (an ignored key), so every one misses the page cache:
-- the cost of a rendered page, page cache lookup and store included. Prints the 95th percentile too.
local n = 0
request = function()
  n = n + 1
  local path = wrk.path .. (wrk.path:find("?", 1, true) and "&" or "?") .. "_miss=" .. n .. "-" .. math.random(1e9)
  return wrk.format("GET", path)
end
done = function(summary, latency, requests) io.write(string.format("p95_us %d\n", latency:percentile(95))) end
