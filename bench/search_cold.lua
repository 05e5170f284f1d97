-- wrk script: every request a search with a price bound no other request used (above every
-- price), so neither the page cache nor the search's cached summary has it: the search's full
-- cost. Each thread has its own range of bounds (setup). Prints the 95th percentile too.
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("id", threads)
end
local n = 0
request = function()
  n = n + 1
  local bound = string.format("%d.00", 90000000 + id * 1000000 + n)
  local path = wrk.path .. (wrk.path:find("?", 1, true) and "&" or "?") .. "price_max=" .. bound
  return wrk.format("GET", path)
end
done = function(summary, latency, requests) io.write(string.format("p95_us %d\n", latency:percentile(95))) end
